// File: transforms.h
// Per-image transforms of the training pipeline: normalization with a data set's
// per-channel mean and std, and the standard CIFAR augmentation (random crop of the
// zero-padded image, random horizontal flip). The randomness of example `index` in `epoch`
// depends only on (seed, epoch, index): runs are reproducible whatever thread computes an
// image, and a run resumed at an epoch boundary sees the same images.
//
// Example:
//   TransformOptions options;
//   options.augment = true;
//   options.seed = 7;
//   ImageTransform transform(info, options);
//   transform.Apply(image, /*epoch=*/3, /*index=*/42, out);   // uint8 CHW in, float CHW out
#ifndef MC_DATA_TRANSFORMS_H_
#define MC_DATA_TRANSFORMS_H_

#include <cstdint>
#include <vector>

#include "data/dataset_info.h"

namespace mc::data {

/// What ImageTransform does besides normalizing.
struct TransformOptions {
  /// Random crop with zero padding, then random horizontal flip. Default: false
  /// (normalization only, as for evaluation).
  bool augment = false;
  /// Zero pixels added on each side before cropping back to the original size, so the crop
  /// shifts the image by up to this many pixels each way. Default: 4.
  int64_t crop_padding = 4;
  /// Whether augmentation flips left-right with probability 1/2. Default: true.
  bool horizontal_flip = true;
  /// Seed of the augmentation's randomness. Default: 0.
  uint64_t seed = 0;
};

/// The random choices of one example's augmentation.
struct CropFlip {
  /// Offset of the crop window from the unpadded image, in [-crop_padding, crop_padding]:
  /// output pixel (y, x) is input pixel (y + shift_y, x + shift_x), or zero (before
  /// normalization) when that lies in the padding.
  int64_t shift_y = 0;
  int64_t shift_x = 0;
  /// Whether the cropped image is then mirrored left-right.
  bool flip = false;

  bool operator==(const CropFlip& other) const {
    return shift_y == other.shift_y && shift_x == other.shift_x && flip == other.flip;
  }
  bool operator!=(const CropFlip& other) const { return !(*this == other); }
};

/// Normalizes, and optionally augments, images of one data set.
class ImageTransform {
 public:
  /// Throws c10::Error if info.mean or info.std does not have info.channels values, a std is
  /// not positive, or options.crop_padding is negative.
  ImageTransform(const DatasetInfo& info, const TransformOptions& options);

  /// The crop and flip of example `index` in `epoch`, a pure function of
  /// (options.seed, epoch, index); no shift and no flip when options.augment is false.
  CropFlip Draw(int64_t epoch, int64_t index) const;

  /// Writes the transformed image to `out`, with the crop and flip Draw(epoch, index).
  /// image: channels * height * width uint8, CHW. out: as many float32, CHW.
  void Apply(const uint8_t* image, int64_t epoch, int64_t index, float* out) const;

  /// As above, with the given crop and flip.
  void Apply(const uint8_t* image, const CropFlip& crop_flip, float* out) const;

  /// The normalized value of pixel value `value` in `channel`:
  /// (value / 255 - mean[channel]) / std[channel], in float32.
  float Normalize(int64_t channel, uint8_t value) const {
    return normalized_[channel * 256 + value];
  }

  const TransformOptions& options() const { return options_; }

 private:
  int64_t channels_;
  int64_t height_;
  int64_t width_;
  TransformOptions options_;
  /// Normalize() for every (channel, value): (channels, 256).
  std::vector<float> normalized_;
};

}  // namespace mc::data

#endif  // MC_DATA_TRANSFORMS_H_
