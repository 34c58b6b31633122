// File: image_dataset.h
// A torch::data dataset over an ImageData split: it answers an EpochBatchRequest with a
// float32 batch, normalized and (when asked) augmented by ImageTransform with the
// randomness of (seed, epoch, index). Pair it with EpochSampler and
// torch::data::make_data_loader; ImageLoader (loader.h) does exactly that.
//
// Example:
//   ImageDataset dataset(std::move(train), info, transform_options);
//   EpochSampler sampler(*dataset.size(), order_options, epoch);
//   auto loader = torch::data::make_data_loader(std::move(dataset), std::move(sampler),
//                                               torch::data::DataLoaderOptions(128).workers(2));
//   for (torch::data::Example<>& batch : *loader) Train(batch.data, batch.target);
#ifndef MC_DATA_IMAGE_DATASET_H_
#define MC_DATA_IMAGE_DATASET_H_

#include <torch/data/datasets/base.h>
#include <torch/data/example.h>

#include <cstddef>

#include "data/dataset_info.h"
#include "data/epoch_order.h"
#include "data/image_data.h"
#include "data/transforms.h"

namespace mc::data {

/// Batches of normalized, optionally augmented images. Copies share the image tensors, so
/// every DataLoader worker can hold one cheaply.
class ImageDataset
    : public torch::data::datasets::BatchDataset<ImageDataset, torch::data::Example<>,
                                                 EpochBatchRequest> {
 public:
  /// Throws c10::Error if `data` is not a valid split of `info` (see ValidateImageData) or
  /// the transform options are invalid.
  ImageDataset(ImageData data, const DatasetInfo& info, const TransformOptions& transform);

  /// Returns the examples at request.indices: data (B, C, H, W) float32, transformed as in
  /// request.epoch; target (B) int64. Throws c10::Error if an index is out of range.
  torch::data::Example<> get_batch(EpochBatchRequest request) override;

  /// Number of examples N.
  c10::optional<size_t> size() const override;

 private:
  ImageData data_;
  ImageTransform transform_;
};

}  // namespace mc::data

#endif  // MC_DATA_IMAGE_DATASET_H_
