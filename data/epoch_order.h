// File: epoch_order.h
// Which examples a process visits in an epoch, and in what order: the identity or a
// permutation seeded by (seed, epoch), split between the ranks of data-parallel training
// so that each rank sees a disjoint share. Free of LibTorch; epoch_sampler.h wraps it as a
// torch::data sampler.
//
// Example:
//   EpochOrderOptions options;
//   options.shuffle = true;
//   options.rank = 1;
//   options.world_size = 2;
//   std::vector<size_t> mine = EpochShardIndices(/*size=*/60000, /*epoch=*/3, options);
//   // 30,000 indices, disjoint from rank 0's
#ifndef MC_DATA_EPOCH_ORDER_H_
#define MC_DATA_EPOCH_ORDER_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace mc::data {

/// How one process walks through a data set.
struct EpochOrderOptions {
  /// Visit the examples in a random order that changes every epoch. Default: false (in
  /// index order).
  bool shuffle = false;
  /// Seed of the permutations: epoch e's order depends only on (seed, e). Default: 0.
  uint64_t seed = 0;
  /// This process's rank in [0, world_size). Default: 0.
  int64_t rank = 0;
  /// Number of data-parallel processes sharing each epoch. Default: 1.
  int64_t world_size = 1;
};

/// Examples each rank visits per epoch: size / world_size, rounded down, so that all ranks
/// take the same number of steps. The size % world_size examples left over are the last
/// ones of the epoch's order (different ones each epoch when shuffling).
int64_t ShardSize(int64_t size, int64_t world_size);

/// The indices in [0, size) that options.rank visits in `epoch`, in visiting order: the
/// epoch's order (the identity, or when shuffling a permutation drawn from (seed, epoch))
/// at positions rank, rank + world_size, rank + 2 * world_size, ..., ShardSize of them.
/// Throws c10::Error unless size >= 0, world_size >= 1 and 0 <= rank < world_size.
std::vector<size_t> EpochShardIndices(int64_t size, int64_t epoch,
                                      const EpochOrderOptions& options);

/// A request for one batch: the examples at `indices`, transformed as in `epoch`. The
/// epoch travels with the request so that the random augmentation of an example depends
/// on (seed, epoch, index) only, whichever worker thread serves the request.
struct EpochBatchRequest {
  int64_t epoch = 0;
  std::vector<size_t> indices;

  /// Number of examples requested (torch::data's DataLoader reads it).
  size_t size() const { return indices.size(); }
};

}  // namespace mc::data

#endif  // MC_DATA_EPOCH_ORDER_H_
