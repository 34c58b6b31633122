// File: token_batches.h
// A split's stream of token ids cut for truncated back-propagation through time (BPTT): B
// parallel streams, read in windows of about `bptt` steps whose targets are the next tokens.
//
// The stream is cut into B * W equal contiguous pieces (W data-parallel ranks; the last
// n mod (B * W) tokens are dropped), and rank r reads pieces r, r + W, ..., so the ranks'
// batches together cover the whole stream. Within a piece of L tokens, a window (start,
// length) has inputs at [start, start + length) and targets at [start + 1, start + length + 1);
// the windows of an epoch tile [0, L - 1), so every token of a piece but its first is a target
// exactly once per epoch. Windows are a function of (stream length, bptt, seed, epoch) only:
// a run resumes mid-epoch by skipping the windows it has done.
//
// Example:
//   MC_ASSIGN_OR_RETURN(TokenStreams train, TokenStreams::Create(corpus.train, 20));
//   for (const TokenWindow& w : RandomWindows(train.stream_length(), 35, seed, epoch)) {
//     train.Window(w, &inputs, &targets);  // w.length x 20 ids each, time-major
//   }
#ifndef MC_DATA_TOKEN_BATCHES_H_
#define MC_DATA_TOKEN_BATCHES_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"

namespace mc::data {

/// Steps [start, start + length) of every stream.
struct TokenWindow {
  int64_t start = 0;
  int64_t length = 0;
};

/// One rank's B streams of a split.
class TokenStreams {
 public:
  /// \error kInvalidArgument if batch_size < 1, world_size < 1, rank is outside
  ///   [0, world_size), or the ids leave fewer than 2 tokens per stream (naming the counts).
  static absl::StatusOr<TokenStreams> Create(const std::vector<int32_t>& ids, int64_t batch_size,
                                             int rank = 0, int world_size = 1);

  int64_t batch_size() const { return batch_size_; }
  /// Tokens per stream.
  int64_t stream_length() const { return stream_length_; }

  /// Writes the window's inputs and targets, time-major (length x batch_size: entry
  /// t * batch_size + b is step start + t of stream b, and the step after it). Requires
  /// start >= 0, length >= 1 and start + length < stream_length().
  void Window(const TokenWindow& window, std::vector<int64_t>* inputs,
              std::vector<int64_t>* targets) const;

 private:
  TokenStreams(std::vector<int32_t> streams, int64_t batch_size, int64_t stream_length);

  std::vector<int32_t> streams_;  // batch_size x stream_length, row-major
  int64_t batch_size_ = 0;
  int64_t stream_length_ = 0;
};

/// Windows of `bptt` steps tiling [0, stream_length - 1); the last one may be shorter.
/// Requires bptt >= 1 and stream_length >= 2.
std::vector<TokenWindow> FixedWindows(int64_t stream_length, int64_t bptt);

/// Windows of random lengths tiling [0, stream_length - 1), as AWD-LSTM draws them (Merity et
/// al. 2018): a base of bptt with probability 0.95, else bptt / 2, then a length drawn from a
/// normal distribution around the base with standard deviation 5, rounded, at least 5 (or 1
/// when bptt < 5) and cut to what remains. Fixed by (seed, epoch).
/// Requires bptt >= 1 and stream_length >= 2.
std::vector<TokenWindow> RandomWindows(int64_t stream_length, int64_t bptt, uint64_t seed,
                                       int64_t epoch);

}  // namespace mc::data

#endif  // MC_DATA_TOKEN_BATCHES_H_
