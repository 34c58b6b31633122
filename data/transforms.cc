#include "data/transforms.h"

#include <c10/util/Exception.h>

#include <algorithm>
#include <cstdint>

#include "data/dataset_info.h"
#include "data/seeded_rng.h"

namespace mc::data {
namespace {

// Keeps augmentation draws independent of every other use of the same seed.
constexpr uint64_t kAugmentTag = 0x6175'676d;

}  // namespace

ImageTransform::ImageTransform(const DatasetInfo& info, const TransformOptions& options)
    : channels_(info.channels),
      height_(info.height),
      width_(info.width),
      options_(options),
      normalized_(info.channels * 256) {
  TORCH_CHECK(static_cast<int64_t>(info.mean.size()) == channels_ &&
                  static_cast<int64_t>(info.std.size()) == channels_,
              "ImageTransform: ", info.name, " has ", channels_, " channels but ", info.mean.size(),
              " means and ", info.std.size(), " stds");
  TORCH_CHECK(options.crop_padding >= 0, "ImageTransform: crop_padding must be >= 0, got ",
              options.crop_padding);
  for (int64_t c = 0; c < channels_; ++c) {
    TORCH_CHECK(info.std[c] > 0, "ImageTransform: std of channel ", c, " of ", info.name,
                " must be positive, got ", info.std[c]);
    for (int value = 0; value < 256; ++value) {
      normalized_[c * 256 + value] =
          (static_cast<float>(value) / 255.0f - info.mean[c]) / info.std[c];
    }
  }
}

CropFlip ImageTransform::Draw(int64_t epoch, int64_t index) const {
  if (!options_.augment) return CropFlip{};
  SplitMix64 rng(DeriveSeed(
      options_.seed, {kAugmentTag, static_cast<uint64_t>(epoch), static_cast<uint64_t>(index)}));
  const int64_t padding = options_.crop_padding;
  CropFlip crop_flip;
  crop_flip.shift_y = static_cast<int64_t>(rng.Below(2 * padding + 1)) - padding;
  crop_flip.shift_x = static_cast<int64_t>(rng.Below(2 * padding + 1)) - padding;
  crop_flip.flip = options_.horizontal_flip && (rng.Next() >> 63) != 0;
  return crop_flip;
}

void ImageTransform::Apply(const uint8_t* image, int64_t epoch, int64_t index, float* out) const {
  Apply(image, Draw(epoch, index), out);
}

void ImageTransform::Apply(const uint8_t* image, const CropFlip& crop_flip, float* out) const {
  const int64_t plane = height_ * width_;
  for (int64_t c = 0; c < channels_; ++c) {
    const float* normalized = normalized_.data() + c * 256;
    const uint8_t* source = image + c * plane;
    float* target = out + c * plane;
    if (crop_flip == CropFlip{}) {
      for (int64_t p = 0; p < plane; ++p) target[p] = normalized[source[p]];
      continue;
    }
    // Padding pixels are zero before normalization, as when padding the raw image.
    const float padding_value = normalized[0];
    // Output column x reads source column (flip ? width - 1 - x : x) + shift_x; these are the
    // columns for which that lies inside the image.
    const int64_t shift_x = crop_flip.shift_x;
    const int64_t first = std::max<int64_t>(0, crop_flip.flip ? shift_x : -shift_x);
    const int64_t last = std::min(width_, crop_flip.flip ? width_ + shift_x : width_ - shift_x);
    for (int64_t y = 0; y < height_; ++y) {
      float* target_row = target + y * width_;
      const int64_t source_y = y + crop_flip.shift_y;
      if (source_y < 0 || source_y >= height_ || first >= last) {
        std::fill(target_row, target_row + width_, padding_value);
        continue;
      }
      const uint8_t* source_row = source + source_y * width_;
      std::fill(target_row, target_row + first, padding_value);
      if (crop_flip.flip) {
        const int64_t mirror = width_ - 1 + shift_x;
        for (int64_t x = first; x < last; ++x) target_row[x] = normalized[source_row[mirror - x]];
      } else {
        for (int64_t x = first; x < last; ++x) target_row[x] = normalized[source_row[x + shift_x]];
      }
      std::fill(target_row + last, target_row + width_, padding_value);
    }
  }
}

}  // namespace mc::data
