#include "data/token_loader.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <algorithm>
#include <numeric>
#include <vector>

#include "common/status_matchers.h"

namespace mc::data {
namespace {

std::vector<int32_t> Iota(int32_t n) {
  std::vector<int32_t> ids(n);
  std::iota(ids.begin(), ids.end(), 0);
  return ids;
}

// Tests the batch layout: inputs (T, B) time-major over contiguous streams, targets the next
// ids flattened row t * B + b, and windows of bptt steps with a shorter last one.
TEST(TokenLoaderTest, BatchesAreTimeMajorWindows) {
  // 2 streams of 10 tokens: 0..9 and 10..19; windows of 4 over the 9 targets: 4, 4, 1.
  MC_ASSERT_OK_AND_ASSIGN(TokenLoader loader, TokenLoader::Create(Iota(21), {2, 4}));
  EXPECT_EQ(loader.num_batches(), 3);
  EXPECT_EQ(loader.num_targets(), 18);
  std::vector<std::vector<int64_t>> shapes;
  std::vector<at::Tensor> all_targets;
  loader.ForEachBatch(0, [&](const at::Tensor& inputs, const at::Tensor& targets) {
    EXPECT_EQ(inputs.scalar_type(), at::kLong);
    shapes.push_back(inputs.sizes().vec());
    EXPECT_TRUE(at::equal(targets, (inputs + 1).flatten()));
    all_targets.push_back(targets);
    return true;
  });
  EXPECT_EQ(shapes, (std::vector<std::vector<int64_t>>{{4, 2}, {4, 2}, {1, 2}}));
  // Every token of each stream but its first is a target exactly once.
  const at::Tensor targets = std::get<0>(at::cat(all_targets).sort());
  std::vector<int64_t> expected;
  for (int64_t id = 1; id < 10; ++id) expected.push_back(id);
  for (int64_t id = 11; id < 20; ++id) expected.push_back(id);
  EXPECT_TRUE(at::equal(targets, at::tensor(expected, at::kLong)));
}

// Tests that a corpus shorter than one window is read as a single shorter window.
TEST(TokenLoaderTest, CorpusShorterThanOneWindow) {
  MC_ASSERT_OK_AND_ASSIGN(TokenLoader loader, TokenLoader::Create(Iota(21), {2, 35}));
  EXPECT_EQ(loader.num_batches(), 1);
  loader.ForEachBatch(0, [&](const at::Tensor& inputs, const at::Tensor& targets) {
    EXPECT_EQ(inputs.sizes(), (std::vector<int64_t>{9, 2}));
    EXPECT_EQ(targets.numel(), 18);
    return true;
  });
}

// Tests that returning false ends the epoch, and that every epoch reads the same windows.
TEST(TokenLoaderTest, StopsEarlyAndRepeatsEpochs) {
  MC_ASSERT_OK_AND_ASSIGN(TokenLoader loader, TokenLoader::Create(Iota(100), {3, 5}));
  int batches = 0;
  loader.ForEachBatch(0, [&](const at::Tensor&, const at::Tensor&) { return ++batches < 2; });
  EXPECT_EQ(batches, 2);
  std::vector<at::Tensor> first;
  std::vector<at::Tensor> second;
  loader.ForEachBatch(0, [&](const at::Tensor& x, const at::Tensor&) { return first.push_back(x), true; });
  loader.ForEachBatch(7, [&](const at::Tensor& x, const at::Tensor&) { return second.push_back(x), true; });
  ASSERT_EQ(first.size(), second.size());
  for (size_t i = 0; i < first.size(); ++i) EXPECT_TRUE(at::equal(first[i], second[i]));
}

// Tests that two ranks together read every stream of a single process once.
TEST(TokenLoaderTest, RanksShareTheStreams) {
  std::vector<int64_t> seen;
  for (int rank = 0; rank < 2; ++rank) {
    MC_ASSERT_OK_AND_ASSIGN(TokenLoader loader, TokenLoader::Create(Iota(41), {2, 3, rank, 2}));
    loader.ForEachBatch(0, [&](const at::Tensor&, const at::Tensor& targets) {
      for (int64_t i = 0; i < targets.numel(); ++i) seen.push_back(targets[i].item<int64_t>());
      return true;
    });
  }
  std::sort(seen.begin(), seen.end());
  MC_ASSERT_OK_AND_ASSIGN(TokenLoader single, TokenLoader::Create(Iota(41), {4, 3}));
  EXPECT_EQ(static_cast<int64_t>(seen.size()), single.num_targets());
  EXPECT_TRUE(std::adjacent_find(seen.begin(), seen.end()) == seen.end());
}

// Tests the errors: bptt < 1, and a corpus too short for the streams.
TEST(TokenLoaderTest, RejectsBadOptions) {
  EXPECT_THAT(TokenLoader::Create(Iota(100), {2, 0}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("bptt")));
  EXPECT_THAT(TokenLoader::Create(Iota(3), {2, 35}).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace mc::data
