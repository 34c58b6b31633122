// File: batch_source.h
// What a training or evaluation loop reads: an epoch of (inputs, targets) batches. Image
// loaders (data/loader.h) give images and labels; token loaders (data/token_loader.h) give
// windows of token ids and the ids that follow them. Loops written against this interface
// train image classifiers and language models alike.
//
// Example:
//   source.ForEachBatch(epoch, [&](const at::Tensor& inputs, const at::Tensor& targets) {
//     Step(inputs, targets);
//     return true;  // false ends the epoch early
//   });
#ifndef MC_DATA_BATCH_SOURCE_H_
#define MC_DATA_BATCH_SOURCE_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>

namespace mc::data {

/// Batches of a split, epoch by epoch; epoch e is the same sequence in every run with the
/// same options, so a run can resume at any epoch.
class BatchSource {
 public:
  /// Called with each batch; returning false ends the epoch.
  using BatchFn = std::function<bool(const at::Tensor& inputs, const at::Tensor& targets)>;

  virtual ~BatchSource() = default;

  /// Batches per epoch.
  virtual int64_t num_batches() const = 0;

  /// Runs `fn` on each batch of `epoch`, in order, until the epoch ends or `fn` returns
  /// false. Exceptions thrown by `fn` propagate.
  virtual void ForEachBatch(int64_t epoch, const BatchFn& fn) const = 0;
};

}  // namespace mc::data

#endif  // MC_DATA_BATCH_SOURCE_H_
