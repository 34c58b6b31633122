#include "data/transforms.h"

#include <c10/util/Exception.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <utility>
#include <vector>

#include "data/dataset_info.h"

namespace mc::data {
namespace {

using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

// A 1x4x4 data set normalized to value / 255, so outputs read back as pixel values.
DatasetInfo TinyInfo() {
  return DatasetInfo{"tiny", 1, 4, 4, 10, {0.0f}, {1.0f}, std::nullopt};
}

// Image 4x4 with pixel (y, x) = 10 * (y + 1) + x.
std::vector<uint8_t> TinyImage() {
  std::vector<uint8_t> image;
  for (int y = 0; y < 4; ++y) {
    for (int x = 0; x < 4; ++x) image.push_back(static_cast<uint8_t>(10 * (y + 1) + x));
  }
  return image;
}

// `pixels` (0 for padding) as the tiny transform's output.
std::vector<float> Scaled(const std::vector<int>& pixels) {
  std::vector<float> scaled;
  for (const int pixel : pixels) scaled.push_back(static_cast<float>(pixel) / 255.0f);
  return scaled;
}

std::vector<float> ApplyTiny(const CropFlip& crop_flip) {
  const ImageTransform transform(TinyInfo(), TransformOptions{});
  std::vector<float> out(16);
  transform.Apply(TinyImage().data(), crop_flip, out.data());
  return out;
}

TransformOptions Augmenting(uint64_t seed) {
  TransformOptions options;
  options.augment = true;
  options.seed = seed;
  return options;
}

// Tests that normalization computes (v / 255 - mean) / std per channel.
TEST(ImageTransformTest, NormalizesWithDatasetStatistics) {
  const ImageTransform fashion(*GetDatasetInfo("fashion_mnist"), TransformOptions{});
  EXPECT_FLOAT_EQ(fashion.Normalize(0, 0), -0.2860f / 0.3530f);
  EXPECT_FLOAT_EQ(fashion.Normalize(0, 255), (1.0f - 0.2860f) / 0.3530f);
  EXPECT_NEAR(fashion.Normalize(0, 128), 0.611787f, 1e-6);

  const ImageTransform cifar(*GetDatasetInfo("cifar10"), TransformOptions{});
  EXPECT_FLOAT_EQ(cifar.Normalize(0, 51), (0.2f - 0.4914f) / 0.2023f);
  EXPECT_FLOAT_EQ(cifar.Normalize(1, 51), (0.2f - 0.4822f) / 0.1994f);
  EXPECT_FLOAT_EQ(cifar.Normalize(2, 51), (0.2f - 0.4465f) / 0.2010f);

  // Without augmentation Apply normalizes each pixel in place, channel by channel.
  std::vector<uint8_t> image(3 * 32 * 32);
  for (size_t i = 0; i < image.size(); ++i) image[i] = static_cast<uint8_t>(i % 253);
  std::vector<float> out(image.size());
  cifar.Apply(image.data(), /*epoch=*/4, /*index=*/9, out.data());
  for (size_t i = 0; i < image.size(); ++i) {
    ASSERT_EQ(out[i], cifar.Normalize(static_cast<int64_t>(i / 1024), image[i])) << i;
  }
}

// Tests that no shift and no flip leaves the image as it is.
TEST(ImageTransformTest, IdentityCrop) {
  EXPECT_THAT(
      ApplyTiny(CropFlip{}),
      ElementsAreArray(Scaled({10, 11, 12, 13, 20, 21, 22, 23, 30, 31, 32, 33, 40, 41, 42, 43})));
}

// Tests that a shifted crop reads pixel (y + shift_y, x + shift_x), zero in the padding.
TEST(ImageTransformTest, ShiftedCropFillsPaddingWithZero) {
  EXPECT_THAT(ApplyTiny(CropFlip{1, -2, false}),
              ElementsAreArray(Scaled({0, 0, 20, 21, 0, 0, 30, 31, 0, 0, 40, 41, 0, 0, 0, 0})));
}

// Tests that the flip mirrors the cropped image left-right.
TEST(ImageTransformTest, FlipMirrorsAfterCrop) {
  EXPECT_THAT(
      ApplyTiny(CropFlip{0, 0, true}),
      ElementsAreArray(Scaled({13, 12, 11, 10, 23, 22, 21, 20, 33, 32, 31, 30, 43, 42, 41, 40})));
  EXPECT_THAT(ApplyTiny(CropFlip{-1, 1, true}),
              ElementsAreArray(Scaled({0, 0, 0, 0, 0, 13, 12, 11, 0, 23, 22, 21, 0, 33, 32, 31})));
  EXPECT_THAT(ApplyTiny(CropFlip{0, -3, true}),
              ElementsAreArray(Scaled({10, 0, 0, 0, 20, 0, 0, 0, 30, 0, 0, 0, 40, 0, 0, 0})));
}

// Tests that a crop shifted by the whole width or height is all padding.
TEST(ImageTransformTest, CropOutsideImageIsPadding) {
  EXPECT_THAT(ApplyTiny(CropFlip{0, 4, false}), ElementsAreArray(Scaled(std::vector<int>(16))));
  EXPECT_THAT(ApplyTiny(CropFlip{-4, 0, true}), ElementsAreArray(Scaled(std::vector<int>(16))));
}

// Tests every crop and flip on the tiny image against the definition, pixel by pixel.
TEST(ImageTransformTest, MatchesDefinitionForAllCrops) {
  const std::vector<uint8_t> image = TinyImage();
  for (int64_t shift_y = -5; shift_y <= 5; ++shift_y) {
    for (int64_t shift_x = -5; shift_x <= 5; ++shift_x) {
      for (const bool flip : {false, true}) {
        std::vector<int> expected;
        for (int64_t y = 0; y < 4; ++y) {
          for (int64_t x = 0; x < 4; ++x) {
            const int64_t source_y = y + shift_y;
            const int64_t source_x = (flip ? 3 - x : x) + shift_x;
            const bool inside = source_y >= 0 && source_y < 4 && source_x >= 0 && source_x < 4;
            expected.push_back(inside ? image[source_y * 4 + source_x] : 0);
          }
        }
        EXPECT_THAT(ApplyTiny(CropFlip{shift_y, shift_x, flip}), ElementsAreArray(Scaled(expected)))
            << "shift (" << shift_y << ", " << shift_x << "), flip " << flip;
      }
    }
  }
}

// Tests that draws are a function of (seed, epoch, index): equal when repeated, in range,
// covering every shift and both flips, and different across epochs and seeds.
TEST(ImageTransformTest, DrawsDependOnSeedEpochAndIndex) {
  const DatasetInfo info = *GetDatasetInfo("cifar10");
  const ImageTransform transform(info, Augmenting(7));
  const ImageTransform same_seed(info, Augmenting(7));
  const ImageTransform other_seed(info, Augmenting(8));
  std::set<int64_t> shifts;
  std::set<bool> flips;
  int same_across_epochs = 0;
  int same_across_seeds = 0;
  constexpr int kExamples = 200;
  for (int index = 0; index < kExamples; ++index) {
    const CropFlip draw = transform.Draw(3, index);
    EXPECT_EQ(draw, same_seed.Draw(3, index));
    EXPECT_GE(draw.shift_y, -4);
    EXPECT_LE(draw.shift_y, 4);
    EXPECT_GE(draw.shift_x, -4);
    EXPECT_LE(draw.shift_x, 4);
    shifts.insert(draw.shift_y);
    shifts.insert(draw.shift_x);
    flips.insert(draw.flip);
    same_across_epochs += draw == transform.Draw(4, index);
    same_across_seeds += draw == other_seed.Draw(3, index);
  }
  EXPECT_EQ(shifts.size(), 9u);
  EXPECT_EQ(flips.size(), 2u);
  // Two independent draws agree with probability 1/162.
  EXPECT_LT(same_across_epochs, kExamples / 20);
  EXPECT_LT(same_across_seeds, kExamples / 20);
}

// Tests that Apply with (epoch, index) applies exactly Draw(epoch, index).
TEST(ImageTransformTest, ApplyUsesTheDraw) {
  const DatasetInfo info = *GetDatasetInfo("cifar10");
  const ImageTransform transform(info, Augmenting(1));
  std::vector<uint8_t> image(3 * 32 * 32);
  for (size_t i = 0; i < image.size(); ++i) image[i] = static_cast<uint8_t>(i * 7 % 256);
  for (int index = 0; index < 20; ++index) {
    std::vector<float> by_index(image.size());
    std::vector<float> by_draw(image.size());
    transform.Apply(image.data(), /*epoch=*/2, index, by_index.data());
    transform.Apply(image.data(), transform.Draw(2, index), by_draw.data());
    EXPECT_EQ(by_index, by_draw);
  }
}

// Tests that disabling augmentation or the flip removes that randomness.
TEST(ImageTransformTest, OptionsDisableRandomness) {
  const DatasetInfo info = *GetDatasetInfo("cifar10");
  const ImageTransform plain(info, TransformOptions{});
  TransformOptions no_flip = Augmenting(1);
  no_flip.horizontal_flip = false;
  no_flip.crop_padding = 2;
  const ImageTransform crop_only(info, no_flip);
  for (int index = 0; index < 100; ++index) {
    EXPECT_EQ(plain.Draw(0, index), CropFlip{});
    const CropFlip draw = crop_only.Draw(0, index);
    EXPECT_FALSE(draw.flip);
    EXPECT_LE(std::abs(draw.shift_x), 2);
    EXPECT_LE(std::abs(draw.shift_y), 2);
  }
}

// Tests that statistics that do not match the channels are rejected.
TEST(ImageTransformTest, RejectsMismatchedStatistics) {
  DatasetInfo info = *GetDatasetInfo("cifar10");
  info.std.pop_back();
  EXPECT_THAT(
      [&] { ImageTransform(info, TransformOptions{}); },
      ThrowsMessage<c10::Error>(HasSubstr("cifar10 has 3 channels but 3 means and 2 stds")));
}

}  // namespace
}  // namespace mc::data
