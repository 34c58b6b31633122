#include "data/image_data.h"

#include <ATen/core/Tensor.h>
#include <ATen/ops/from_blob.h>
#include <c10/util/Exception.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "common/status_macros.h"
#include "data/cifar_reader.h"
#include "data/dataset_info.h"
#include "data/idx_reader.h"
#include "data/labeled_images.h"
#include "data/synthetic.h"

namespace mc::data {
namespace {

bool Exists(const std::string& path) {
  std::error_code error;
  return std::filesystem::exists(path, error);
}

std::string WhereToGet(absl::string_view name) {
  if (name == "fashion_mnist") {
    return "install Debian's dataset-fashion-mnist package, or download them from "
           "https://github.com/zalandoresearch/fashion-mnist";
  }
  return "download them from https://yann.lecun.com/exdb/mnist/";
}

// Reads an MNIST-style split. Each file may be gzip-compressed (the published .gz name) or
// plain (the name without .gz).
absl::StatusOr<LabeledImages> ReadIdxSplit(const DatasetInfo& info, const std::string& dir,
                                           Split split) {
  const std::string prefix = split == Split::kTrain ? "train" : "t10k";
  std::vector<std::string> paths;
  std::vector<std::string> missing;
  for (const char* kind : {"-images-idx3-ubyte", "-labels-idx1-ubyte"}) {
    const std::string plain = absl::StrCat(dir, "/", prefix, kind);
    const std::string gzip = absl::StrCat(plain, ".gz");
    if (Exists(gzip)) {
      paths.push_back(gzip);
    } else if (Exists(plain)) {
      paths.push_back(plain);
    } else {
      missing.push_back(gzip);
    }
  }
  if (!missing.empty()) {
    return absl::NotFoundError(absl::StrCat(info.name, " ", SplitName(split),
                                            " files not found: ", absl::StrJoin(missing, ", "),
                                            " (or the same without .gz); ", WhereToGet(info.name)));
  }
  MC_ASSIGN_OR_RETURN(LabeledImages set, ReadIdxImages(paths[0], paths[1], info.num_classes));
  if (set.height != info.height || set.width != info.width) {
    return absl::InvalidArgumentError(absl::StrCat(paths[0], " holds ", set.height, "x", set.width,
                                                   " images; ", info.name, " images are ",
                                                   info.height, "x", info.width));
  }
  return set;
}

absl::StatusOr<LabeledImages> ReadSplit(const DatasetInfo& info, const std::string& dir,
                                        Split split) {
  if (info.name == "synthetic") return MakeSyntheticImages(split);
  if (info.name == "cifar10") return ReadCifar(dir, CifarVariant::kCifar10, split);
  if (info.name == "cifar100") return ReadCifar(dir, CifarVariant::kCifar100, split);
  return ReadIdxSplit(info, dir, split);
}

template <typename T>
at::Tensor VectorToTensor(std::vector<T> values, at::IntArrayRef sizes, at::ScalarType dtype) {
  auto* owner = new std::vector<T>(std::move(values));
  return at::from_blob(
      owner->data(), sizes, [owner](void*) { delete owner; }, at::TensorOptions(dtype));
}

}  // namespace

absl::StatusOr<ImageData> LoadImageData(absl::string_view name, const std::string& data_dir,
                                        Split split) {
  MC_ASSIGN_OR_RETURN(const DatasetInfo info, GetDatasetInfo(name));
  if (info.corpus_layout) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", name, "\" is a text corpus, not an image data set"));
  }
  const std::string dir = data_dir.empty() ? DefaultDataDir(name) : data_dir;
  MC_ASSIGN_OR_RETURN(LabeledImages set, ReadSplit(info, dir, split));
  try {
    return ToImageData(std::move(set));
  } catch (const c10::Error& error) {
    return absl::InternalError(absl::StrCat("cannot make tensors of ", info.name, " ",
                                            SplitName(split), ": ",
                                            error.what_without_backtrace()));
  }
}

ImageData ToImageData(LabeledImages images) {
  const int64_t n = images.size();
  TORCH_CHECK(static_cast<int64_t>(images.pixels.size()) == n * images.image_size(),
              "ToImageData: ", images.pixels.size(), " pixel bytes for ", n, " images of ",
              images.channels, "x", images.height, "x", images.width);
  ImageData data;
  data.images = VectorToTensor(std::move(images.pixels),
                               {n, images.channels, images.height, images.width}, at::kByte);
  data.labels = VectorToTensor(std::move(images.labels), {n}, at::kLong);
  return data;
}

absl::Status ValidateImageData(const ImageData& data, const DatasetInfo& info) {
  if (!data.images.defined() || !data.labels.defined()) {
    return absl::InvalidArgumentError("image data has undefined tensors");
  }
  const at::Tensor& images = data.images;
  if (images.dim() != 4 || images.size(1) != info.channels || images.size(2) != info.height ||
      images.size(3) != info.width || images.scalar_type() != at::kByte ||
      !images.is_contiguous()) {
    return absl::InvalidArgumentError(
        absl::StrCat("images must be contiguous uint8 of shape (N, ", info.channels, ", ",
                     info.height, ", ", info.width, ") for ", info.name, ", got ",
                     images.toString(), " of shape (", absl::StrJoin(images.sizes(), ", "), ")"));
  }
  if (data.labels.dim() != 1 || data.labels.size(0) != images.size(0) ||
      data.labels.scalar_type() != at::kLong || !data.labels.is_contiguous()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "labels must be contiguous int64 of shape (", images.size(0), "), got ",
        data.labels.toString(), " of shape (", absl::StrJoin(data.labels.sizes(), ", "), ")"));
  }
  const int64_t* labels = data.labels.data_ptr<int64_t>();
  for (int64_t i = 0; i < data.labels.size(0); ++i) {
    if (labels[i] < 0 || labels[i] >= info.num_classes) {
      return absl::InvalidArgumentError(absl::StrCat("label ", labels[i], " of example ", i,
                                                     " is out of range [0, ", info.num_classes,
                                                     ") of ", info.name));
    }
  }
  return absl::OkStatus();
}

}  // namespace mc::data
