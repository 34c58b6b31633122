// File: loader.h
// The data pipeline of a training or evaluation loop: batches of a data split, normalized,
// optionally augmented and shuffled, sharded across data-parallel ranks, and prepared by
// LibTorch DataLoader worker threads. Epoch e of a run with a given seed is the same
// sequence of batches whatever the number of workers, so a run can resume at any epoch.
//
// Example:
//   LoaderOptions options;
//   options.shuffle = true;
//   options.augment = true;
//   options.seed = 1;
//   ImageLoader loader(std::move(train), info, options);
//   for (int64_t epoch = 0; epoch < epochs; ++epoch) {
//     loader.ForEachBatch(epoch, [&](const at::Tensor& images, const at::Tensor& labels) {
//       Step(images, labels);   // (B, C, H, W) float32, (B) int64
//       return true;            // false ends the epoch early
//     });
//   }
#ifndef MC_DATA_LOADER_H_
#define MC_DATA_LOADER_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>

#include "absl/status/status.h"
#include "data/batch_source.h"
#include "data/dataset_info.h"
#include "data/image_data.h"

namespace mc::data {

/// How ImageLoader batches, orders and transforms a split.
struct LoaderOptions {
  /// Examples per batch. Default: 128.
  int64_t batch_size = 128;
  /// Visit the examples in a new random order each epoch. Default: false.
  bool shuffle = false;
  /// Random crop (zero padding 4) and horizontal flip. Default: false.
  bool augment = false;
  /// DataLoader worker threads; 0 prepares batches on the calling thread. Default: 2.
  int64_t workers = 2;
  /// Seed of shuffling and augmentation: epoch e is a function of (seed, e). Default: 0.
  uint64_t seed = 0;
  /// This process's rank in [0, world_size) for data-parallel training. Default: 0.
  int64_t rank = 0;
  /// Number of data-parallel processes; each sees a disjoint 1/world_size of every epoch
  /// (rounded down, so that all take the same number of steps). Default: 1.
  int64_t world_size = 1;
  /// Skip the last batch of an epoch when it has fewer than batch_size examples.
  /// Default: false.
  bool drop_last = false;
};

/// Checks `options`, e.g. ones built from command-line flags.
/// \error kInvalidArgument naming the first invalid field: batch_size < 1, workers < 0,
///        world_size < 1, or rank outside [0, world_size).
absl::Status Validate(const LoaderOptions& options);

/// Batches of one data split; see the file comment. The batches it hands BatchFn: images
/// (B, C, H, W) float32, normalized with the data set's mean and std (and augmented when
/// options.augment); labels (B) int64.
class ImageLoader : public BatchSource {
 public:

  /// Throws c10::Error if `options` is invalid (see Validate) or `data` is not a valid split
  /// of `info` (see ValidateImageData).
  ImageLoader(ImageData data, DatasetInfo info, LoaderOptions options);

  /// This rank's examples per epoch: N / world_size, rounded down.
  int64_t num_examples() const;

  /// Batches per epoch: num_examples / batch_size, rounded up (down with drop_last).
  int64_t num_batches() const override;

  /// Runs `fn` on each batch of `epoch`, in order, until the epoch ends or `fn` returns
  /// false. Exceptions thrown by `fn` propagate after the worker threads have stopped.
  void ForEachBatch(int64_t epoch, const BatchFn& fn) const override;

  const DatasetInfo& info() const { return info_; }
  const LoaderOptions& options() const { return options_; }

 private:
  ImageData data_;
  DatasetInfo info_;
  LoaderOptions options_;
};

}  // namespace mc::data

#endif  // MC_DATA_LOADER_H_
