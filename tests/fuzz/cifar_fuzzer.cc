// Fuzzes the CIFAR-10 and CIFAR-100 binary readers (data/cifar_reader.h) through the file they
// read, gzip-compressed or plain. Any input must be read or refused with an error; what is read
// is whole 3x32x32 images with labels in range.
//
// Each input is read as a CIFAR-10 file and as a CIFAR-100 file.
#include <cstddef>
#include <cstdint>

#include "absl/status/statusor.h"
#include "data/cifar_reader.h"
#include "data/labeled_images.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using mc::data::CifarVariant;
using mc::fuzz::Require;

void Read(const std::string& path, CifarVariant variant, int64_t num_classes) {
  absl::StatusOr<mc::data::LabeledImages> set = mc::data::ReadCifarFiles({path}, variant);
  if (!set.ok()) return;
  Require(set->channels == 3 && set->height == 32 && set->width == 32,
          "CIFAR images are 3 x 32 x 32");
  Require(set->size() > 0, "a CIFAR file that is read holds a record");
  Require(set->pixels.size() == static_cast<size_t>(set->size() * mc::data::kCifarImageBytes),
          "there are N x 3072 pixels");
  for (const int64_t label : set->labels) {
    Require(label >= 0 && label < num_classes, "labels are in [0, num_classes)");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static mc::fuzz::TempFile file;
  file.Write(data, size);
  Read(file.path(), CifarVariant::kCifar10, 10);
  Read(file.path(), CifarVariant::kCifar100, 100);
  return 0;
}
