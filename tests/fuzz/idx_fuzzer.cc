// Fuzzes the IDX reader of MNIST and Fashion-MNIST (data/idx_reader.h), gzip-compressed or
// plain, through the files it reads. Any input must be read or refused with an error; what is
// read holds exactly the elements its header promises, and a plain file that follows the
// format of idx_reader.h is read.
//
// Input: a 4-byte big-endian length L, then L bytes of an image file, then a label file (L is
// cut to the bytes there are). Each file is read alone, then the two as a data set of 10
// classes.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "data/idx_reader.h"
#include "data/labeled_images.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using mc::fuzz::Require;

constexpr int64_t kNumClasses = 10;

// The product of `dims`, or `cap` + 1 if it is larger than `cap`.
uint64_t ProductUpTo(const std::vector<int64_t>& dims, uint64_t cap) {
  unsigned __int128 product = 1;
  for (const int64_t size : dims) {
    product = std::min<unsigned __int128>(product * static_cast<uint64_t>(size), cap + 1);
  }
  return static_cast<uint64_t>(product);
}

// The sizes in the header of a plain IDX file of unsigned bytes whose data is exactly what
// they promise, or nothing if the file is anything else.
std::optional<std::vector<int64_t>> WellFormedDims(const uint8_t* data, size_t size) {
  if (size < 4 || data[0] != 0 || data[1] != 0 || data[2] != 0x08 || data[3] == 0) {
    return std::nullopt;
  }
  const size_t header = 4 + 4 * size_t{data[3]};
  if (size < header) return std::nullopt;
  std::vector<int64_t> dims;
  for (size_t d = 0; d < data[3]; ++d) {
    const uint8_t* field = data + 4 + 4 * d;
    dims.push_back(int64_t{field[0]} << 24 | int64_t{field[1]} << 16 | int64_t{field[2]} << 8 |
                   int64_t{field[3]});
  }
  if (ProductUpTo(dims, size) != size - header) return std::nullopt;
  return dims;
}

void CheckArray(const uint8_t* data, size_t size,
                const absl::StatusOr<mc::data::IdxArray>& array) {
  if (const std::optional<std::vector<int64_t>> dims = WellFormedDims(data, size)) {
    Require(array.ok(), "a well-formed IDX file is read");
    Require(array->dims == *dims, "an IDX array has the sizes of its header");
  }
  if (!array.ok()) return;
  Require(!array->dims.empty() && array->dims.size() <= 255, "an IDX array has 1 to 255 dims");
  for (const int64_t size : array->dims) Require(size >= 0, "an IDX dimension is not negative");
  Require(ProductUpTo(array->dims, array->values.size()) == array->values.size(),
          "an IDX array holds the elements of its shape");
}

void CheckImages(const absl::StatusOr<mc::data::LabeledImages>& set) {
  if (!set.ok()) return;
  Require(set->channels == 1, "IDX images have one channel");
  int64_t image_size;
  Require(!__builtin_mul_overflow(set->height, set->width, &image_size),
          "LabeledImages::image_size() does not overflow");
  Require(set->image_size() == image_size, "image_size() is height x width");
  unsigned __int128 pixels = static_cast<unsigned __int128>(set->size()) * image_size;
  Require(pixels == set->pixels.size(), "there are N x height x width pixels");
  for (const int64_t label : set->labels) {
    Require(label >= 0 && label < kNumClasses, "labels are in [0, num_classes)");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static mc::fuzz::TempFile images;
  static mc::fuzz::TempFile labels;
  if (size < 4) return 0;
  const size_t declared = size_t{data[0]} << 24 | size_t{data[1]} << 16 | size_t{data[2]} << 8 |
                          size_t{data[3]};
  const size_t images_size = declared < size - 4 ? declared : size - 4;
  images.Write(data + 4, images_size);
  labels.Write(data + 4 + images_size, size - 4 - images_size);
  CheckArray(data + 4, images_size, mc::data::ReadIdxFile(images.path()));
  CheckArray(data + 4 + images_size, size - 4 - images_size,
             mc::data::ReadIdxFile(labels.path()));
  CheckImages(mc::data::ReadIdxImages(images.path(), labels.path(), kNumClasses));
  return 0;
}
