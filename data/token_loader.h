// File: token_loader.h
// A split's token ids as training or evaluation batches for language models
// (data/batch_source.h): B parallel streams (sharded across data-parallel ranks as
// data/token_batches.h describes) read in consecutive windows of `bptt` steps. Each batch is
// inputs (T, B) int64, time-major, and targets (T * B) int64, the id after each input in the
// same order (row t * B + b), which is how the zoo's language models lay out their logits.
// Every epoch reads the same windows in order, so recurrent models carry their state from
// one window to the next; every token of a stream but its first is a target once per epoch.
//
// Example:
//   MC_ASSIGN_OR_RETURN(TokenLoader loader, TokenLoader::Create(corpus.train, {20, 35}));
//   loader.ForEachBatch(epoch, [&](const at::Tensor& inputs, const at::Tensor& targets) {
//     loss = cross_entropy(model->forward(inputs), targets);
//     return true;
//   });
#ifndef MC_DATA_TOKEN_LOADER_H_
#define MC_DATA_TOKEN_LOADER_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "data/batch_source.h"
#include "data/token_batches.h"

namespace mc::data {

struct TokenLoaderOptions {
  /// Parallel streams per batch.
  int64_t batch_size = 20;
  /// Steps per window (the last window of an epoch may be shorter).
  int64_t bptt = 35;
  /// This process's rank and the number of data-parallel processes.
  int rank = 0;
  int world_size = 1;
};

class TokenLoader : public BatchSource {
 public:
  /// \error kInvalidArgument if bptt < 1, or as TokenStreams::Create (bad batch size or
  ///   ranks, fewer than 2 tokens per stream).
  static absl::StatusOr<TokenLoader> Create(const std::vector<int32_t>& ids,
                                            const TokenLoaderOptions& options);

  int64_t num_batches() const override { return static_cast<int64_t>(windows_.size()); }
  /// The windows are the same every epoch; `epoch` is accepted for the interface.
  void ForEachBatch(int64_t epoch, const BatchFn& fn) const override;

  /// Targets per epoch: (stream length - 1) * batch_size.
  int64_t num_targets() const;

 private:
  TokenLoader(TokenStreams streams, std::vector<TokenWindow> windows)
      : streams_(std::move(streams)), windows_(std::move(windows)) {}

  TokenStreams streams_;
  std::vector<TokenWindow> windows_;
};

}  // namespace mc::data

#endif  // MC_DATA_TOKEN_LOADER_H_
