#include "data/token_loader.h"

#include <ATen/ATen.h>

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace mc::data {

absl::StatusOr<TokenLoader> TokenLoader::Create(const std::vector<int32_t>& ids,
                                                const TokenLoaderOptions& options) {
  if (options.bptt < 1) {
    return absl::InvalidArgumentError(absl::StrCat("bptt must be >= 1, got ", options.bptt));
  }
  MC_ASSIGN_OR_RETURN(
      TokenStreams streams,
      TokenStreams::Create(ids, options.batch_size, options.rank, options.world_size));
  std::vector<TokenWindow> windows = FixedWindows(streams.stream_length(), options.bptt);
  return TokenLoader(std::move(streams), std::move(windows));
}

void TokenLoader::ForEachBatch(int64_t /*epoch*/, const BatchFn& fn) const {
  std::vector<int64_t> inputs;
  std::vector<int64_t> targets;
  for (const TokenWindow& window : windows_) {
    streams_.Window(window, &inputs, &targets);
    const at::Tensor input_tensor =
        at::tensor(inputs, at::kLong).view({window.length, streams_.batch_size()});
    if (!fn(input_tensor, at::tensor(targets, at::kLong))) return;
  }
}

int64_t TokenLoader::num_targets() const {
  return (streams_.stream_length() - 1) * streams_.batch_size();
}

}  // namespace mc::data
