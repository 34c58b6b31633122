#include "data/image_dataset.h"

#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <c10/util/Exception.h>

#include <cstddef>
#include <cstdint>
#include <utility>

#include "absl/status/status.h"
#include "data/dataset_info.h"
#include "data/epoch_order.h"
#include "data/image_data.h"
#include "data/transforms.h"

namespace mc::data {
namespace {

ImageData CheckedImageData(ImageData data, const DatasetInfo& info) {
  const absl::Status status = ValidateImageData(data, info);
  TORCH_CHECK(status.ok(), "ImageDataset: ", status.message());
  return data;
}

}  // namespace

ImageDataset::ImageDataset(ImageData data, const DatasetInfo& info,
                           const TransformOptions& transform)
    : data_(CheckedImageData(std::move(data), info)), transform_(info, transform) {}

torch::data::Example<> ImageDataset::get_batch(EpochBatchRequest request) {
  const int64_t batch_size = static_cast<int64_t>(request.indices.size());
  const int64_t num_examples = data_.images.size(0);
  const int64_t image_size = data_.images.size(1) * data_.images.size(2) * data_.images.size(3);
  at::Tensor images = at::empty(
      {batch_size, data_.images.size(1), data_.images.size(2), data_.images.size(3)}, at::kFloat);
  at::Tensor labels = at::empty({batch_size}, at::kLong);
  const uint8_t* source_images = data_.images.data_ptr<uint8_t>();
  const int64_t* source_labels = data_.labels.data_ptr<int64_t>();
  float* target_images = images.data_ptr<float>();
  int64_t* target_labels = labels.data_ptr<int64_t>();
  for (int64_t b = 0; b < batch_size; ++b) {
    const int64_t index = static_cast<int64_t>(request.indices[b]);
    TORCH_CHECK(index < num_examples, "ImageDataset: index ", index, " is out of range for ",
                num_examples, " examples");
    transform_.Apply(source_images + index * image_size, request.epoch, index,
                     target_images + b * image_size);
    target_labels[b] = source_labels[index];
  }
  return {images, labels};
}

c10::optional<size_t> ImageDataset::size() const {
  return static_cast<size_t>(data_.images.size(0));
}

}  // namespace mc::data
