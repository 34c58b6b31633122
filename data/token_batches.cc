#include "data/token_batches.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "data/seeded_rng.h"

namespace mc::data {
namespace {

// Tag of the window-length random stream (see seeded_rng.h).
constexpr uint64_t kWindowStream = 0x7470;  // "bptt"

// A standard normal sample by the Box-Muller transform.
double StandardNormal(SplitMix64& rng) {
  const double u1 = 1.0 - rng.Uniform();  // in (0, 1]
  const double u2 = rng.Uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

}  // namespace

TokenStreams::TokenStreams(std::vector<int32_t> streams, int64_t batch_size, int64_t stream_length)
    : streams_(std::move(streams)), batch_size_(batch_size), stream_length_(stream_length) {}

absl::StatusOr<TokenStreams> TokenStreams::Create(const std::vector<int32_t>& ids,
                                                  int64_t batch_size, int rank, int world_size) {
  if (batch_size < 1 || world_size < 1 || rank < 0 || rank >= world_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("token streams need batch_size >= 1 and 0 <= rank < world_size, got batch_size ",
                     batch_size, ", rank ", rank, ", world_size ", world_size));
  }
  const int64_t pieces = batch_size * world_size;
  const int64_t length = static_cast<int64_t>(ids.size()) / pieces;
  if (length < 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a corpus of ", ids.size(), " tokens is too short for ", pieces,
        " streams (batch_size x world_size) of at least 2 tokens each"));
  }
  std::vector<int32_t> streams(batch_size * length);
  for (int64_t b = 0; b < batch_size; ++b) {
    const int64_t piece = rank + b * world_size;
    std::copy_n(ids.begin() + piece * length, length, streams.begin() + b * length);
  }
  return TokenStreams(std::move(streams), batch_size, length);
}

void TokenStreams::Window(const TokenWindow& window, std::vector<int64_t>* inputs,
                          std::vector<int64_t>* targets) const {
  inputs->resize(window.length * batch_size_);
  targets->resize(window.length * batch_size_);
  for (int64_t t = 0; t < window.length; ++t) {
    for (int64_t b = 0; b < batch_size_; ++b) {
      const int32_t* step = streams_.data() + b * stream_length_ + window.start + t;
      (*inputs)[t * batch_size_ + b] = step[0];
      (*targets)[t * batch_size_ + b] = step[1];
    }
  }
}

std::vector<TokenWindow> FixedWindows(int64_t stream_length, int64_t bptt) {
  std::vector<TokenWindow> windows;
  for (int64_t start = 0; start < stream_length - 1; start += bptt) {
    windows.push_back({start, std::min(bptt, stream_length - 1 - start)});
  }
  return windows;
}

std::vector<TokenWindow> RandomWindows(int64_t stream_length, int64_t bptt, uint64_t seed,
                                       int64_t epoch) {
  SplitMix64 rng(DeriveSeed(seed, {kWindowStream, static_cast<uint64_t>(epoch)}));
  const int64_t shortest = std::min<int64_t>(5, bptt);
  std::vector<TokenWindow> windows;
  for (int64_t start = 0; start < stream_length - 1;) {
    const double base = rng.Uniform() < 0.95 ? static_cast<double>(bptt) : bptt / 2.0;
    const auto drawn = static_cast<int64_t>(std::llround(base + 5.0 * StandardNormal(rng)));
    const int64_t length = std::min(std::max(shortest, drawn), stream_length - 1 - start);
    windows.push_back({start, length});
    start += length;
  }
  return windows;
}

}  // namespace mc::data
