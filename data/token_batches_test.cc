// Tests of the BPTT streams and windows: layout, coverage of every token once per epoch
// across ranks, randomized lengths, and corpora shorter than one window.
#include "data/token_batches.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <numeric>
#include <vector>

#include "absl/status/status.h"
#include "common/status_matchers.h"

namespace mc::data {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<int32_t> Iota(int32_t n) {
  std::vector<int32_t> ids(n);
  std::iota(ids.begin(), ids.end(), 0);
  return ids;
}

// True when `windows` tile [0, stream_length - 1) in order.
bool Tiles(const std::vector<TokenWindow>& windows, int64_t stream_length) {
  int64_t next = 0;
  for (const TokenWindow& w : windows) {
    if (w.start != next || w.length < 1) return false;
    next += w.length;
  }
  return next == stream_length - 1;
}

TEST(TokenStreamsTest, CutsTheStreamIntoContiguousPiecesReadTimeMajor) {
  MC_ASSERT_OK_AND_ASSIGN(const TokenStreams streams, TokenStreams::Create(Iota(11), 2));
  EXPECT_EQ(streams.stream_length(), 5);  // tokens 0-4 and 5-9; 10 is dropped
  std::vector<int64_t> inputs, targets;
  streams.Window({1, 3}, &inputs, &targets);
  EXPECT_THAT(inputs, ElementsAre(1, 6, 2, 7, 3, 8));
  EXPECT_THAT(targets, ElementsAre(2, 7, 3, 8, 4, 9));
}

TEST(TokenStreamsTest, RanksTogetherCoverEveryTargetOncePerEpoch) {
  const int32_t n = 1003;
  const int world = 3;
  const int64_t batch = 4;
  std::vector<int> seen_as_target(n, 0);
  std::vector<int64_t> inputs, targets;
  for (int rank = 0; rank < world; ++rank) {
    MC_ASSERT_OK_AND_ASSIGN(const TokenStreams streams, TokenStreams::Create(Iota(n), batch, rank, world));
    const std::vector<TokenWindow> windows = RandomWindows(streams.stream_length(), 7, 1, 0);
    ASSERT_TRUE(Tiles(windows, streams.stream_length()));
    for (const TokenWindow& w : windows) {
      streams.Window(w, &inputs, &targets);
      for (size_t i = 0; i < targets.size(); ++i) {
        ASSERT_EQ(targets[i], inputs[i] + 1);
        ++seen_as_target[targets[i]];
      }
    }
  }
  const int64_t length = n / (batch * world);  // 83; tokens from 996 on are dropped
  for (int32_t token = 0; token < n; ++token) {
    const bool kept = token < length * batch * world;
    const bool first_of_piece = token % length == 0;
    EXPECT_EQ(seen_as_target[token], kept && !first_of_piece ? 1 : 0) << "token " << token;
  }
}

TEST(TokenStreamsTest, RefusesBadArgumentsAndCorporaTooShortForTheStreams) {
  EXPECT_THAT(TokenStreams::Create(Iota(10), 0), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(TokenStreams::Create(Iota(10), 1, 2, 2), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(TokenStreams::Create(Iota(7), 4),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("7 tokens is too short for 4")));
}

TEST(FixedWindowsTest, TilesTheStreamWithAShorterLastWindow) {
  const std::vector<TokenWindow> windows = FixedWindows(11, 4);
  ASSERT_EQ(windows.size(), 3u);
  EXPECT_EQ(windows[2].start, 8);
  EXPECT_EQ(windows[2].length, 2);
  EXPECT_TRUE(Tiles(windows, 11));
}

TEST(FixedWindowsTest, GivesOneShortWindowForACorpusShorterThanBptt) {
  const std::vector<TokenWindow> windows = FixedWindows(4, 35);
  ASSERT_EQ(windows.size(), 1u);
  EXPECT_EQ(windows[0].length, 3);
}

TEST(RandomWindowsTest, IsFixedBySeedAndEpochAndDrawsLengthsAroundBptt) {
  const std::vector<TokenWindow> a = RandomWindows(100000, 35, 7, 2);
  const std::vector<TokenWindow> b = RandomWindows(100000, 35, 7, 2);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].length, b[i].length);
  const std::vector<TokenWindow> other_epoch = RandomWindows(100000, 35, 7, 3);
  bool differs = other_epoch.size() != a.size();
  for (size_t i = 0; !differs && i < a.size(); ++i) differs = a[i].length != other_epoch[i].length;
  EXPECT_TRUE(differs);
  EXPECT_TRUE(Tiles(a, 100000));
  double sum = 0;
  int64_t shortest = 1000;
  for (size_t i = 0; i + 1 < a.size(); ++i) {
    sum += static_cast<double>(a[i].length);
    shortest = std::min(shortest, a[i].length);
  }
  const double mean = sum / static_cast<double>(a.size() - 1);
  EXPECT_NEAR(mean, 0.95 * 35 + 0.05 * 17.5, 0.5);  // E[length] with the 5% of half windows
  EXPECT_GE(shortest, 5);
}

}  // namespace
}  // namespace mc::data
