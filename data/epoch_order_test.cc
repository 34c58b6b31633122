#include "data/epoch_order.h"

#include <c10/util/Exception.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <set>
#include <vector>

namespace mc::data {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::ThrowsMessage;

EpochOrderOptions Shuffled(uint64_t seed, int64_t rank = 0, int64_t world_size = 1) {
  EpochOrderOptions options;
  options.shuffle = true;
  options.seed = seed;
  options.rank = rank;
  options.world_size = world_size;
  return options;
}

// Tests that without shuffling a single process visits the examples in index order.
TEST(EpochOrderTest, UnshuffledIsIndexOrder) {
  EXPECT_THAT(EpochShardIndices(5, 3, EpochOrderOptions{}), ElementsAre(0, 1, 2, 3, 4));
}

// Tests that a shuffled epoch is a permutation fixed by (seed, epoch) and new for each
// epoch and seed.
TEST(EpochOrderTest, ShuffleIsSeededPermutation) {
  constexpr int64_t kSize = 1000;
  const std::vector<size_t> order = EpochShardIndices(kSize, 2, Shuffled(5));
  std::vector<size_t> sorted = order;
  std::sort(sorted.begin(), sorted.end());
  std::vector<size_t> identity(kSize);
  std::iota(identity.begin(), identity.end(), size_t{0});
  EXPECT_EQ(sorted, identity);
  EXPECT_NE(order, identity);
  EXPECT_EQ(EpochShardIndices(kSize, 2, Shuffled(5)), order);
  EXPECT_NE(EpochShardIndices(kSize, 3, Shuffled(5)), order);
  EXPECT_NE(EpochShardIndices(kSize, 2, Shuffled(6)), order);
}

// Tests that two ranks get disjoint halves that together cover the epoch, interleaved from
// the single-process order.
TEST(EpochOrderTest, TwoRanksSplitTheEpoch) {
  constexpr int64_t kSize = 1000;
  const std::vector<size_t> whole = EpochShardIndices(kSize, 7, Shuffled(1));
  const std::vector<size_t> rank0 = EpochShardIndices(kSize, 7, Shuffled(1, 0, 2));
  const std::vector<size_t> rank1 = EpochShardIndices(kSize, 7, Shuffled(1, 1, 2));
  ASSERT_EQ(rank0.size(), 500u);
  ASSERT_EQ(rank1.size(), 500u);
  std::set<size_t> seen(rank0.begin(), rank0.end());
  seen.insert(rank1.begin(), rank1.end());
  EXPECT_EQ(seen.size(), 1000u);
  for (size_t k = 0; k < 500; ++k) {
    EXPECT_EQ(rank0[k], whole[2 * k]);
    EXPECT_EQ(rank1[k], whole[2 * k + 1]);
  }
}

// Tests that with a remainder every rank gets the same number of disjoint examples and
// only the last size % world_size of the order are left out.
TEST(EpochOrderTest, RemainderIsDroppedEvenly) {
  EXPECT_EQ(ShardSize(10, 3), 3);
  const std::vector<size_t> whole = EpochShardIndices(10, 0, Shuffled(2));
  std::set<size_t> seen;
  for (int64_t rank = 0; rank < 3; ++rank) {
    const std::vector<size_t> shard = EpochShardIndices(10, 0, Shuffled(2, rank, 3));
    EXPECT_EQ(shard.size(), 3u);
    seen.insert(shard.begin(), shard.end());
  }
  EXPECT_EQ(seen, std::set<size_t>(whole.begin(), whole.begin() + 9));
}

// Tests that an invalid rank is rejected.
TEST(EpochOrderTest, RejectsRankOutsideWorld) {
  EXPECT_THAT([] { EpochShardIndices(10, 0, Shuffled(0, 2, 2)); },
              ThrowsMessage<c10::Error>(HasSubstr("rank must be in [0, 2), got 2")));
}

}  // namespace
}  // namespace mc::data
