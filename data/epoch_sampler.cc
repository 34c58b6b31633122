#include "data/epoch_sampler.h"

#include <torch/serialize/archive.h>
#include <torch/types.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "data/epoch_order.h"

namespace mc::data {

EpochSampler::EpochSampler(int64_t size, const EpochOrderOptions& options, int64_t epoch)
    : size_(size), options_(options), epoch_(epoch) {
  reset();
}

void EpochSampler::reset(c10::optional<size_t> new_size) {
  if (new_size.has_value()) size_ = static_cast<int64_t>(*new_size);
  indices_ = EpochShardIndices(size_, epoch_, options_);
  position_ = 0;
}

c10::optional<EpochBatchRequest> EpochSampler::next(size_t batch_size) {
  if (position_ >= indices_.size()) return c10::nullopt;
  const size_t end = std::min(indices_.size(), position_ + batch_size);
  EpochBatchRequest request;
  request.epoch = epoch_;
  request.indices.assign(indices_.begin() + position_, indices_.begin() + end);
  position_ = end;
  return request;
}

void EpochSampler::save(torch::serialize::OutputArchive& archive) const {
  archive.write("size", torch::tensor(size_, torch::kInt64), /*is_buffer=*/true);
  archive.write("epoch", torch::tensor(epoch_, torch::kInt64), /*is_buffer=*/true);
  archive.write("position", torch::tensor(static_cast<int64_t>(position_), torch::kInt64),
                /*is_buffer=*/true);
}

void EpochSampler::load(torch::serialize::InputArchive& archive) {
  torch::Tensor value = torch::empty({}, torch::kInt64);
  archive.read("size", value, /*is_buffer=*/true);
  size_ = value.item<int64_t>();
  archive.read("epoch", value, /*is_buffer=*/true);
  epoch_ = value.item<int64_t>();
  reset();
  archive.read("position", value, /*is_buffer=*/true);
  position_ = std::min(static_cast<size_t>(value.item<int64_t>()), indices_.size());
}

}  // namespace mc::data
