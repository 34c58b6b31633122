// Fuzzes the IDX reader of MNIST and Fashion-MNIST (data/idx_reader.h), gzip-compressed or
// plain, through the files it reads. Any input must be read or refused with an error; what is
// read holds exactly the elements its header promises.
//
// Input: a 4-byte big-endian length L, then L bytes of an image file, then a label file (L is
// cut to the bytes there are). Each file is read alone, then the two as a data set of 10
// classes.
#include <cstddef>
#include <cstdint>

#include "absl/status/statusor.h"
#include "data/idx_reader.h"
#include "data/labeled_images.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using mc::fuzz::Require;

constexpr int64_t kNumClasses = 10;

void CheckArray(const absl::StatusOr<mc::data::IdxArray>& array) {
  if (!array.ok()) return;
  Require(!array->dims.empty() && array->dims.size() <= 255, "an IDX array has 1 to 255 dims");
  unsigned __int128 elements = 1;
  for (const int64_t size : array->dims) {
    Require(size >= 0, "an IDX dimension is not negative");
    elements = elements * static_cast<uint64_t>(size);
    if (elements > array->values.size()) break;
  }
  Require(elements == array->values.size(), "an IDX array holds the elements of its shape");
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
  CheckArray(mc::data::ReadIdxFile(images.path()));
  CheckArray(mc::data::ReadIdxFile(labels.path()));
  CheckImages(mc::data::ReadIdxImages(images.path(), labels.path(), kNumClasses));
  return 0;
}
