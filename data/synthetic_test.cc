#include "data/synthetic.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

#include "data/dataset_info.h"
#include "data/labeled_images.h"

namespace mc::data {
namespace {

// Accuracy that a nearest-class-mean classifier must reach on the test split, using only
// each image's mean colour: chance is 0.1.
constexpr double kMinNearestMeanAccuracy = 0.9;
// Tolerance of the registered normalization constants against the measured statistics.
constexpr double kStatisticsTolerance = 0.002;

// Per-channel mean of each image's pixels, scaled to [0, 1].
std::vector<std::array<double, 3>> MeanColours(const LabeledImages& images) {
  std::vector<std::array<double, 3>> colours(images.size());
  const int64_t plane = images.height * images.width;
  for (int64_t i = 0; i < images.size(); ++i) {
    for (int64_t c = 0; c < 3; ++c) {
      double sum = 0;
      for (int64_t p = 0; p < plane; ++p) sum += images.pixels[(i * 3 + c) * plane + p];
      colours[i][c] = sum / plane / 255.0;
    }
  }
  return colours;
}

// Tests that the default splits have the registered shape, sizes and label range.
TEST(SyntheticTest, DefaultSplitsMatchDatasetInfo) {
  const DatasetInfo info = *GetDatasetInfo("synthetic");
  const LabeledImages train = MakeSyntheticImages(Split::kTrain);
  const LabeledImages test = MakeSyntheticImages(Split::kTest);
  EXPECT_EQ(train.size(), 2000);
  EXPECT_EQ(test.size(), 500);
  for (const LabeledImages* images : {&train, &test}) {
    EXPECT_EQ(images->channels, info.channels);
    EXPECT_EQ(images->height, info.height);
    EXPECT_EQ(images->width, info.width);
    EXPECT_EQ(images->pixels.size(), images->size() * info.channels * info.height * info.width);
    std::vector<int> counts(info.num_classes, 0);
    for (const int64_t label : images->labels) {
      ASSERT_GE(label, 0);
      ASSERT_LT(label, info.num_classes);
      ++counts[label];
    }
    for (const int count : counts) EXPECT_GT(count, images->size() / info.num_classes / 2);
  }
}

// Tests that generation is deterministic, that image i does not depend on the split size,
// and that the splits and seeds give different images.
TEST(SyntheticTest, DeterministicAndIndependentOfSize) {
  const LabeledImages train = MakeSyntheticImages(Split::kTrain);
  const LabeledImages again = MakeSyntheticImages(Split::kTrain);
  EXPECT_EQ(train.pixels, again.pixels);
  EXPECT_EQ(train.labels, again.labels);

  SyntheticOptions small;
  small.train_size = 10;
  const LabeledImages prefix = MakeSyntheticImages(Split::kTrain, small);
  EXPECT_EQ(prefix.labels, std::vector<int64_t>(train.labels.begin(), train.labels.begin() + 10));
  EXPECT_EQ(prefix.pixels, std::vector<uint8_t>(train.pixels.begin(),
                                                train.pixels.begin() + prefix.pixels.size()));

  small.test_size = 10;
  const LabeledImages test = MakeSyntheticImages(Split::kTest, small);
  EXPECT_NE(test.pixels, prefix.pixels);
  small.seed = 1;
  EXPECT_NE(MakeSyntheticImages(Split::kTrain, small).pixels, prefix.pixels);
}

// Tests that the registered mean and std are the statistics of the default training split.
TEST(SyntheticTest, RegisteredStatisticsMatchTrainingSplit) {
  const DatasetInfo info = *GetDatasetInfo("synthetic");
  const LabeledImages train = MakeSyntheticImages(Split::kTrain);
  const int64_t plane = train.height * train.width;
  for (int64_t c = 0; c < 3; ++c) {
    double sum = 0;
    double sum_of_squares = 0;
    for (int64_t i = 0; i < train.size(); ++i) {
      for (int64_t p = 0; p < plane; ++p) {
        const double value = train.pixels[(i * 3 + c) * plane + p] / 255.0;
        sum += value;
        sum_of_squares += value * value;
      }
    }
    const double count = static_cast<double>(train.size() * plane);
    const double mean = sum / count;
    const double std = std::sqrt(sum_of_squares / count - mean * mean);
    EXPECT_NEAR(info.mean[c], mean, kStatisticsTolerance) << "channel " << c;
    EXPECT_NEAR(info.std[c], std, kStatisticsTolerance) << "channel " << c;
  }
}

// Tests that the classes are learnable: class means of the training images' mean colours
// classify the test images well above chance.
TEST(SyntheticTest, ClassesAreSeparable) {
  const LabeledImages train = MakeSyntheticImages(Split::kTrain);
  const LabeledImages test = MakeSyntheticImages(Split::kTest);
  const std::vector<std::array<double, 3>> train_colours = MeanColours(train);
  std::vector<std::array<double, 3>> class_means(10, {0, 0, 0});
  std::vector<int> counts(10, 0);
  for (int64_t i = 0; i < train.size(); ++i) {
    for (int c = 0; c < 3; ++c) class_means[train.labels[i]][c] += train_colours[i][c];
    ++counts[train.labels[i]];
  }
  for (int k = 0; k < 10; ++k) {
    for (int c = 0; c < 3; ++c) class_means[k][c] /= counts[k];
  }
  const std::vector<std::array<double, 3>> test_colours = MeanColours(test);
  int correct = 0;
  for (int64_t i = 0; i < test.size(); ++i) {
    int nearest = 0;
    double nearest_distance = INFINITY;
    for (int k = 0; k < 10; ++k) {
      double distance = 0;
      for (int c = 0; c < 3; ++c) distance += std::pow(test_colours[i][c] - class_means[k][c], 2);
      if (distance < nearest_distance) {
        nearest_distance = distance;
        nearest = k;
      }
    }
    correct += nearest == test.labels[i];
  }
  const double accuracy = static_cast<double>(correct) / test.size();
  EXPECT_GE(accuracy, kMinNearestMeanAccuracy);
  RecordProperty("nearest_mean_accuracy", std::to_string(accuracy));
}

}  // namespace
}  // namespace mc::data
