// File: epoch_sampler.h
// A torch::data sampler whose order is reproducible: each epoch is the identity or a
// permutation seeded by (seed, epoch), never LibTorch's global generator, and data-parallel
// ranks get disjoint shares of it (see epoch_order.h). Its batch requests carry the epoch,
// which ImageDataset uses to seed augmentation.
//
// Example:
//   EpochOrderOptions order;
//   order.shuffle = true;
//   order.seed = 1;
//   EpochSampler sampler(dataset.size().value(), order, /*epoch=*/5);
//   auto loader = torch::data::make_data_loader(std::move(dataset), std::move(sampler),
//                                               torch::data::DataLoaderOptions(128).workers(2));
#ifndef MC_DATA_EPOCH_SAMPLER_H_
#define MC_DATA_EPOCH_SAMPLER_H_

#include <torch/data/samplers/base.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "data/epoch_order.h"

namespace mc::data {

/// Yields the batches of one epoch of EpochShardIndices, as EpochBatchRequests.
class EpochSampler : public torch::data::samplers::Sampler<EpochBatchRequest> {
 public:
  /// `size`: number of examples in the data set. Throws c10::Error if size < 0 or the
  /// rank and world size of `options` are invalid.
  EpochSampler(int64_t size, const EpochOrderOptions& options, int64_t epoch = 0);

  /// Selects the epoch that the next reset() starts.
  void set_epoch(int64_t epoch) { epoch_ = epoch; }
  int64_t epoch() const { return epoch_; }

  /// Starts epoch() from its first batch (the DataLoader calls this at begin()).
  /// `new_size`, if given, replaces the data set size.
  void reset(c10::optional<size_t> new_size = c10::nullopt) override;

  /// The next up to `batch_size` indices of this rank's share of the epoch, or nullopt
  /// once the epoch is exhausted.
  c10::optional<EpochBatchRequest> next(size_t batch_size) override;

  /// Saves and restores the position: data set size, epoch and examples already yielded.
  /// The order options are not saved; construct the sampler with the same ones.
  void save(torch::serialize::OutputArchive& archive) const override;
  void load(torch::serialize::InputArchive& archive) override;

  /// This rank's indices in the current epoch, in order.
  const std::vector<size_t>& indices() const { return indices_; }

 private:
  int64_t size_;
  EpochOrderOptions options_;
  int64_t epoch_;
  std::vector<size_t> indices_;
  size_t position_ = 0;
};

}  // namespace mc::data

#endif  // MC_DATA_EPOCH_SAMPLER_H_
