#include "data/loader.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <set>
#include <vector>

#include "absl/status/status.h"
#include "common/status_matchers.h"
#include "data/dataset_info.h"
#include "data/image_data.h"
#include "data/synthetic.h"

namespace mc::data {
namespace {

using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

// A data set whose example i is a 1x2x2 image with pixels (i % 256, i / 256, 0, 0) and
// label i % 10, normalized to value / 255, so that a batch reveals which examples it holds.
constexpr int64_t kIndexedExamples = 1000;

DatasetInfo IndexedInfo() {
  return DatasetInfo{"indexed", 1, 2, 2, 10, {0.0f}, {1.0f}, std::nullopt};
}

ImageData IndexedData() {
  at::Tensor images = at::zeros({kIndexedExamples, 1, 2, 2}, at::kByte);
  const at::Tensor index = at::arange(kIndexedExamples, at::kLong);
  images.select(3, 0).select(2, 0).copy_(index.remainder(256).view({-1, 1}));
  images.select(3, 1).select(2, 0).copy_(index.div(256, "floor").view({-1, 1}));
  return {images, index.remainder(10)};
}

// The example indices of a batch of IndexedData, checking that labels match.
std::vector<int64_t> BatchIndices(const at::Tensor& images, const at::Tensor& labels) {
  const at::Tensor pixels = (images * 255).round().to(at::kLong);
  const at::Tensor index = pixels.select(3, 0).select(2, 0).squeeze(1) +
                           256 * pixels.select(3, 1).select(2, 0).squeeze(1);
  EXPECT_TRUE(at::equal(labels, index.remainder(10)));
  return std::vector<int64_t>(index.data_ptr<int64_t>(), index.data_ptr<int64_t>() + index.numel());
}

// All batches of one epoch, concatenated.
struct Epoch {
  at::Tensor images;
  at::Tensor labels;
  std::vector<int64_t> batch_sizes;
};

Epoch RunEpoch(const ImageLoader& loader, int64_t epoch) {
  std::vector<at::Tensor> images;
  std::vector<at::Tensor> labels;
  Epoch result;
  loader.ForEachBatch(epoch, [&](const at::Tensor& batch_images, const at::Tensor& batch_labels) {
    images.push_back(batch_images);
    labels.push_back(batch_labels);
    result.batch_sizes.push_back(batch_images.size(0));
    return true;
  });
  result.images = at::cat(images);
  result.labels = at::cat(labels);
  return result;
}

LoaderOptions Training(int64_t workers) {
  LoaderOptions options;
  options.batch_size = 64;
  options.shuffle = true;
  options.augment = true;
  options.seed = 3;
  options.workers = workers;
  return options;
}

// Tests the counts of examples and batches per epoch.
TEST(ImageLoaderTest, CountsExamplesAndBatches) {
  LoaderOptions options;
  options.batch_size = 128;
  EXPECT_EQ(ImageLoader(IndexedData(), IndexedInfo(), options).num_batches(), 8);
  options.drop_last = true;
  EXPECT_EQ(ImageLoader(IndexedData(), IndexedInfo(), options).num_batches(), 7);
  options.world_size = 3;
  options.rank = 2;
  const ImageLoader shard(IndexedData(), IndexedInfo(), options);
  EXPECT_EQ(shard.num_examples(), 333);
  EXPECT_EQ(shard.num_batches(), 2);
}

// Tests that batches come in order, of batch_size examples except a partial last one that
// drop_last removes.
TEST(ImageLoaderTest, BatchShapes) {
  LoaderOptions options;
  options.batch_size = 300;
  const Epoch epoch = RunEpoch(ImageLoader(IndexedData(), IndexedInfo(), options), 0);
  EXPECT_EQ(epoch.batch_sizes, (std::vector<int64_t>{300, 300, 300, 100}));
  EXPECT_EQ(epoch.images.sizes(), at::IntArrayRef({1000, 1, 2, 2}));
  EXPECT_EQ(epoch.images.scalar_type(), at::kFloat);
  std::vector<int64_t> expected(kIndexedExamples);
  for (int64_t i = 0; i < kIndexedExamples; ++i) expected[i] = i;
  EXPECT_EQ(BatchIndices(epoch.images, epoch.labels), expected);

  options.drop_last = true;
  EXPECT_EQ(RunEpoch(ImageLoader(IndexedData(), IndexedInfo(), options), 0).batch_sizes,
            (std::vector<int64_t>{300, 300, 300}));
}

// Tests that a seeded epoch is the same batches whatever the number of worker threads,
// and that other epochs and seeds differ.
TEST(ImageLoaderTest, SameSeedAndEpochGiveSameBatchesForAnyWorkers) {
  const DatasetInfo info = *GetDatasetInfo("synthetic");
  SyntheticOptions size;
  size.train_size = 300;
  const ImageData data = ToImageData(MakeSyntheticImages(Split::kTrain, size));
  const Epoch reference = RunEpoch(ImageLoader(data, info, Training(0)), 2);
  ASSERT_EQ(reference.images.sizes(), at::IntArrayRef({300, 3, 32, 32}));
  for (const int64_t workers : {1, 3}) {
    const Epoch epoch = RunEpoch(ImageLoader(data, info, Training(workers)), 2);
    EXPECT_TRUE(at::equal(epoch.images, reference.images)) << workers << " workers";
    EXPECT_TRUE(at::equal(epoch.labels, reference.labels)) << workers << " workers";
  }
  EXPECT_FALSE(
      at::equal(RunEpoch(ImageLoader(data, info, Training(2)), 3).labels, reference.labels));
  LoaderOptions other_seed = Training(2);
  other_seed.seed = 4;
  EXPECT_FALSE(
      at::equal(RunEpoch(ImageLoader(data, info, other_seed), 2).labels, reference.labels));
}

// Tests that the two ranks of a data-parallel run see disjoint halves covering the epoch.
TEST(ImageLoaderTest, TwoRanksCoverEpochDisjointly) {
  std::set<int64_t> seen;
  for (const int64_t rank : {0, 1}) {
    LoaderOptions options = Training(2);
    options.augment = false;
    options.rank = rank;
    options.world_size = 2;
    const ImageLoader loader(IndexedData(), IndexedInfo(), options);
    EXPECT_EQ(loader.num_examples(), kIndexedExamples / 2);
    const Epoch epoch = RunEpoch(loader, 1);
    for (const int64_t index : BatchIndices(epoch.images, epoch.labels)) {
      EXPECT_TRUE(seen.insert(index).second) << "example " << index << " seen twice";
    }
  }
  EXPECT_EQ(seen.size(), kIndexedExamples);
  EXPECT_EQ(*seen.begin(), 0);
  EXPECT_EQ(*seen.rbegin(), kIndexedExamples - 1);
}

// Tests that returning false ends the epoch at that batch.
TEST(ImageLoaderTest, StopsWhenCallbackReturnsFalse) {
  LoaderOptions options = Training(2);
  options.batch_size = 10;
  const ImageLoader loader(IndexedData(), IndexedInfo(), options);
  int calls = 0;
  loader.ForEachBatch(0, [&](const at::Tensor&, const at::Tensor&) { return ++calls < 3; });
  EXPECT_EQ(calls, 3);
}

// Tests that Fashion-MNIST batches are normalized to mean 0 and std 1 over an epoch.
TEST(ImageLoaderTest, NormalizedFashionMnistHasUnitStatistics) {
  MC_ASSERT_OK_AND_ASSIGN(const ImageData train, LoadImageData("fashion_mnist", "", Split::kTrain));
  LoaderOptions options;
  options.shuffle = true;
  const ImageLoader loader(train, *GetDatasetInfo("fashion_mnist"), options);
  double sum = 0;
  double sum_of_squares = 0;
  int64_t count = 0;
  loader.ForEachBatch(0, [&](const at::Tensor& images, const at::Tensor&) {
    sum += images.sum(at::kDouble).item<double>();
    sum_of_squares += images.to(at::kDouble).square().sum().item<double>();
    count += images.numel();
    return true;
  });
  EXPECT_EQ(count, 60000 * 28 * 28);
  const double mean = sum / count;
  // The published constants are rounded to 4 digits: the exact mean is 0.000115 and the
  // exact std 1.000069 in normalized units.
  EXPECT_NEAR(mean, 0.000115, 1e-5);
  EXPECT_NEAR(std::sqrt(sum_of_squares / count - mean * mean), 1.000069, 1e-5);
}

// Tests that invalid options are reported by Validate and rejected by the constructor.
TEST(ImageLoaderTest, RejectsInvalidOptions) {
  LoaderOptions options;
  EXPECT_THAT(Validate(options), IsOk());
  options.rank = 1;
  EXPECT_EQ(Validate(options), absl::InvalidArgumentError("rank must be in [0, 1), got 1"));
  EXPECT_THAT([&] { ImageLoader(IndexedData(), IndexedInfo(), options); },
              ThrowsMessage<c10::Error>(HasSubstr("rank must be in [0, 1), got 1")));
  options = LoaderOptions{};
  options.batch_size = 0;
  EXPECT_EQ(Validate(options), absl::InvalidArgumentError("batch_size must be >= 1, got 0"));
  options = LoaderOptions{};
  options.workers = -1;
  EXPECT_EQ(Validate(options), absl::InvalidArgumentError("workers must be >= 0, got -1"));
}

}  // namespace
}  // namespace mc::data
