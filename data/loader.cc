#include "data/loader.h"

#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>
#include <torch/data/dataloader.h>
#include <torch/data/dataloader_options.h>
#include <torch/data/example.h>

#include <cstdint>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "data/dataset_info.h"
#include "data/epoch_order.h"
#include "data/epoch_sampler.h"
#include "data/image_data.h"
#include "data/image_dataset.h"
#include "data/transforms.h"

namespace mc::data {
namespace {

const LoaderOptions& CheckedOptions(const LoaderOptions& options) {
  const absl::Status status = Validate(options);
  TORCH_CHECK(status.ok(), "ImageLoader: ", status.message());
  return options;
}

}  // namespace

absl::Status Validate(const LoaderOptions& options) {
  if (options.batch_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch_size must be >= 1, got ", options.batch_size));
  }
  if (options.workers < 0) {
    return absl::InvalidArgumentError(absl::StrCat("workers must be >= 0, got ", options.workers));
  }
  if (options.world_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("world_size must be >= 1, got ", options.world_size));
  }
  if (options.rank < 0 || options.rank >= options.world_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("rank must be in [0, ", options.world_size, "), got ", options.rank));
  }
  return absl::OkStatus();
}

ImageLoader::ImageLoader(ImageData data, DatasetInfo info, LoaderOptions options)
    : data_(std::move(data)), info_(std::move(info)), options_(CheckedOptions(options)) {
  const absl::Status status = ValidateImageData(data_, info_);
  TORCH_CHECK(status.ok(), "ImageLoader: ", status.message());
}

int64_t ImageLoader::num_examples() const {
  return ShardSize(data_.images.size(0), options_.world_size);
}

int64_t ImageLoader::num_batches() const {
  const int64_t examples = num_examples();
  return options_.drop_last ? examples / options_.batch_size
                            : (examples + options_.batch_size - 1) / options_.batch_size;
}

void ImageLoader::ForEachBatch(int64_t epoch, const BatchFn& fn) const {
  TransformOptions transform;
  transform.augment = options_.augment;
  transform.seed = options_.seed;
  EpochOrderOptions order;
  order.shuffle = options_.shuffle;
  order.seed = options_.seed;
  order.rank = options_.rank;
  order.world_size = options_.world_size;
  // A DataLoader per epoch: the sampler is built for its epoch, and the workers' copies of
  // the dataset share the image tensors, so this costs a few thread starts.
  auto loader = torch::data::make_data_loader(
      ImageDataset(data_, info_, transform), EpochSampler(data_.images.size(0), order, epoch),
      torch::data::DataLoaderOptions(static_cast<size_t>(options_.batch_size))
          .workers(static_cast<size_t>(options_.workers))
          .drop_last(options_.drop_last));
  for (torch::data::Example<>& batch : *loader) {
    if (!fn(batch.data, batch.target)) break;
  }
}

}  // namespace mc::data
