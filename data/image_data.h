// File: image_data.h
// Loads a named data set (cifar10, cifar100, fashion_mnist, mnist, synthetic) into two
// tensors: uint8 images and int64 labels. Files are looked for in a given directory or in
// the data set's default one; any missing or malformed file is an error naming it.
//
// Example:
//   MC_ASSIGN_OR_RETURN(DatasetInfo info, GetDatasetInfo("fashion_mnist"));
//   MC_ASSIGN_OR_RETURN(ImageData train, LoadImageData("fashion_mnist", "", Split::kTrain));
//   // train.images: (60000, 1, 28, 28) uint8; train.labels: (60000) int64 in [0, 10)
#ifndef MC_DATA_IMAGE_DATA_H_
#define MC_DATA_IMAGE_DATA_H_

#include <ATen/core/Tensor.h>

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "data/dataset_info.h"
#include "data/labeled_images.h"

namespace mc::data {

/// A data set split in memory.
struct ImageData {
  /// (N, C, H, W) uint8, contiguous.
  at::Tensor images;
  /// (N) int64, values in [0, num_classes).
  at::Tensor labels;
};

/// Loads `split` of data set `name` from `data_dir`, or from DefaultDataDir(name) when
/// `data_dir` is empty. MNIST and Fashion-MNIST read train-images-idx3-ubyte.gz and
/// train-labels-idx1-ubyte.gz (t10k-... for the test split), or the same names without
/// .gz; CIFAR reads the files of CifarFileNames; "synthetic" reads nothing and returns
/// MakeSyntheticImages with default options.
/// \error kNotFound if `name` is unknown (listing the valid names) or a file is missing
///        (naming each one and where to get it).
/// \error kDataLoss or kInvalidArgument if a file is malformed, or its images do not have
///        the data set's shape; the message names the file.
absl::StatusOr<ImageData> LoadImageData(absl::string_view name, const std::string& data_dir,
                                        Split split);

/// Moves `images` into tensors without copying the pixels.
ImageData ToImageData(LabeledImages images);

/// Checks that `data` is a valid split of the data set `info` describes: images
/// (N, channels, height, width) uint8 and contiguous, labels (N) int64 in [0, num_classes).
/// \error kInvalidArgument describing the first mismatch.
absl::Status ValidateImageData(const ImageData& data, const DatasetInfo& info);

}  // namespace mc::data

#endif  // MC_DATA_IMAGE_DATA_H_
