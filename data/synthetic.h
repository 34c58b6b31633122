// File: synthetic.h
// A deterministic, learnable image data set for fast tests and benchmarks ("synthetic"):
// 3x32x32 uint8 images in 10 classes, 2,000 training and 500 test images by default, built
// from a fixed seed without any file. Each class has its own colour and stripe orientation;
// per-image stripe phase, brightness and pixel noise keep it from being trivial.
//
// Example:
//   LabeledImages train = MakeSyntheticImages(Split::kTrain);   // 2,000 images
//   SyntheticOptions options;
//   options.test_size = 100;
//   LabeledImages test = MakeSyntheticImages(Split::kTest, options);
#ifndef MC_DATA_SYNTHETIC_H_
#define MC_DATA_SYNTHETIC_H_

#include <cstdint>

#include "data/dataset_info.h"
#include "data/labeled_images.h"

namespace mc::data {

/// Size and seed of the synthetic data set. Shape and classes are those of
/// GetDatasetInfo("synthetic").
struct SyntheticOptions {
  /// Number of training images. Default: 2,000.
  int64_t train_size = 2000;
  /// Number of test images. Default: 500.
  int64_t test_size = 500;
  /// Seed of every random draw. Default: a fixed constant, so the data set is the same in
  /// every run and on every machine.
  uint64_t seed = 0x5eed'da7a'5e7ULL;
};

/// Generates `split` of the synthetic data set. Image i depends only on (seed, split, i),
/// so the first k images are the same whatever the size. Sizes must be >= 0.
LabeledImages MakeSyntheticImages(Split split, const SyntheticOptions& options = {});

}  // namespace mc::data

#endif  // MC_DATA_SYNTHETIC_H_
