#include "data/idx_reader.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "data/file_contents.h"

namespace mc::data {
namespace {

constexpr size_t kMagicBytes = 4;
constexpr size_t kDimBytes = 4;

uint32_t ReadBigEndian32(const uint8_t* bytes) {
  return uint32_t{bytes[0]} << 24 | uint32_t{bytes[1]} << 16 | uint32_t{bytes[2]} << 8 |
         uint32_t{bytes[3]};
}

std::string ShapeString(const std::vector<int64_t>& dims) {
  return absl::StrCat("(", absl::StrJoin(dims, ", "), ")");
}

}  // namespace

absl::StatusOr<IdxArray> ReadIdxFile(const std::string& path) {
  MC_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, ReadFileContents(path));
  if (bytes.size() < kMagicBytes) {
    return absl::DataLossError(absl::StrCat(path, ": truncated IDX file: ", bytes.size(),
                                            " bytes, shorter than the 4-byte magic number"));
  }
  const uint32_t magic = ReadBigEndian32(bytes.data());
  if (bytes[0] != 0 || bytes[1] != 0 || bytes[3] == 0) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: wrong magic number 0x%08x; not an IDX file (expected 0x0000TTDD: element type TT, "
        "D > 0 dimensions, e.g. 0x00000803 for images)",
        path, magic));
  }
  if (bytes[2] != kIdxUnsignedByte) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s: IDX element type 0x%02x is not supported; only unsigned byte (0x08) is", path,
        bytes[2]));
  }
  const size_t num_dims = bytes[3];
  const size_t header_size = kMagicBytes + kDimBytes * num_dims;
  if (bytes.size() < header_size) {
    return absl::DataLossError(absl::StrCat(path, ": truncated IDX file: the header of ", num_dims,
                                            " dimensions needs ", header_size,
                                            " bytes, the file has ", bytes.size()));
  }
  IdxArray array;
  // Elements the header promises, held at one past the data once the product gets there, so
  // that the product of up to 255 uint32 sizes cannot overflow; a size of 0 anywhere still
  // makes it 0.
  const uint64_t available = bytes.size() - header_size;
  uint64_t num_values = 1;
  for (size_t d = 0; d < num_dims; ++d) {
    const uint32_t size = ReadBigEndian32(bytes.data() + kMagicBytes + kDimBytes * d);
    array.dims.push_back(size);
    uint64_t product;
    const bool overflow = __builtin_mul_overflow(num_values, uint64_t{size}, &product);
    num_values = overflow ? available + 1 : std::min(product, available + 1);
  }
  if (num_values > available) {
    return absl::DataLossError(
        absl::StrCat(path, ": truncated IDX file: the header promises shape ",
                     ShapeString(array.dims), " but only ", available, " bytes of data follow it"));
  }
  if (num_values < available) {
    return absl::DataLossError(absl::StrCat(path, ": ", available - num_values,
                                            " unexpected bytes after the data of shape ",
                                            ShapeString(array.dims)));
  }
  bytes.erase(bytes.begin(), bytes.begin() + header_size);
  array.values = std::move(bytes);
  return array;
}

absl::StatusOr<LabeledImages> ReadIdxImages(const std::string& images_path,
                                            const std::string& labels_path, int64_t num_classes) {
  MC_ASSIGN_OR_RETURN(IdxArray images, ReadIdxFile(images_path));
  if (images.dims.size() != 3) {
    return absl::InvalidArgumentError(
        absl::StrCat(images_path, ": expected images of shape (N, rows, columns), found shape ",
                     ShapeString(images.dims)));
  }
  MC_ASSIGN_OR_RETURN(IdxArray labels, ReadIdxFile(labels_path));
  if (labels.dims.size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        labels_path, ": expected labels of shape (N), found shape ", ShapeString(labels.dims)));
  }
  if (images.dims[0] != labels.dims[0]) {
    return absl::InvalidArgumentError(absl::StrCat(images_path, " holds ", images.dims[0],
                                                   " images but ", labels_path, " holds ",
                                                   labels.dims[0], " labels"));
  }
  int64_t image_size;
  if (__builtin_mul_overflow(images.dims[1], images.dims[2], &image_size)) {
    return absl::InvalidArgumentError(absl::StrCat(images_path, ": images of ", images.dims[1],
                                                   " x ", images.dims[2],
                                                   " pixels are too large to index"));
  }
  LabeledImages set;
  set.channels = 1;
  set.height = images.dims[1];
  set.width = images.dims[2];
  set.pixels = std::move(images.values);
  set.labels.reserve(labels.values.size());
  for (size_t i = 0; i < labels.values.size(); ++i) {
    const int64_t label = labels.values[i];
    if (label >= num_classes) {
      return absl::InvalidArgumentError(absl::StrCat(labels_path, ": label ", label, " of example ",
                                                     i, " is out of range [0, ", num_classes, ")"));
    }
    set.labels.push_back(label);
  }
  return set;
}

}  // namespace mc::data
