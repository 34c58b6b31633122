#include "data/epoch_order.h"

#include <c10/util/Exception.h>

#include <cstddef>
#include <cstdint>
#include <numeric>
#include <utility>
#include <vector>

#include "data/seeded_rng.h"

namespace mc::data {
namespace {

// Keeps shuffling draws independent of every other use of the same seed.
constexpr uint64_t kShuffleTag = 0x7368'7566;

}  // namespace

int64_t ShardSize(int64_t size, int64_t world_size) { return size / world_size; }

std::vector<size_t> EpochShardIndices(int64_t size, int64_t epoch,
                                      const EpochOrderOptions& options) {
  TORCH_CHECK(size >= 0, "EpochShardIndices: size must be >= 0, got ", size);
  TORCH_CHECK(options.world_size >= 1, "EpochShardIndices: world_size must be >= 1, got ",
              options.world_size);
  TORCH_CHECK(options.rank >= 0 && options.rank < options.world_size,
              "EpochShardIndices: rank must be in [0, ", options.world_size, "), got ",
              options.rank);
  std::vector<size_t> order(size);
  std::iota(order.begin(), order.end(), size_t{0});
  if (options.shuffle) {
    // Fisher-Yates with our own generator: std::shuffle's sequence is not portable.
    SplitMix64 rng(DeriveSeed(options.seed, {kShuffleTag, static_cast<uint64_t>(epoch)}));
    for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.Below(i)]);
  }
  const int64_t shard_size = ShardSize(size, options.world_size);
  std::vector<size_t> shard(shard_size);
  for (int64_t k = 0; k < shard_size; ++k) {
    shard[k] = order[options.rank + k * options.world_size];
  }
  return shard;
}

}  // namespace mc::data
