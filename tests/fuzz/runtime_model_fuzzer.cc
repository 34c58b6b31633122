// Fuzzes the runtime's loader (runtime/runtime_model.h): a model file read, its recorded
// architecture built and every stored tensor checked against that architecture and turned
// into the in-memory form the kernels run (runtime/weight_loading.h, runtime/model_graph.h).
// Any input must be loaded or refused with an error status; a model that loads runs one
// image of the recorded shape in both activation modes and gives one row of logits.
//
// Each input is loaded twice, as it is and with its header's payload length and CRC-32 made
// to match (model_file_checksum.h), as the model_file harness does.
#include <ATen/ATen.h>
#include <google/protobuf/stubs/logging.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "data/dataset_info.h"
#include "runtime/runtime_model.h"
#include "serialization/model_file.h"
#include "tests/fuzz/fuzz_support.h"
#include "tests/fuzz/model_file_checksum.h"

namespace {

using mc::fuzz::Require;
using mc::runtime::Activations;
using mc::runtime::RuntimeModel;

// One zero image of the shape the file records: the data set's, with the model config's
// channel count when it sets one.
at::Tensor RecordedImage(const std::string& path) {
  const absl::StatusOr<mc::serialization::CompressedModel> stored =
      mc::serialization::ReadModelFile(path);
  Require(stored.ok(), "a file the runtime loads reads as a model file");
  const absl::StatusOr<mc::data::DatasetInfo> dataset = mc::data::GetDatasetInfo(stored->dataset());
  Require(dataset.ok(), "a file the runtime loads names a known data set");
  const int64_t channels =
      stored->model().in_channels() > 0 ? stored->model().in_channels() : dataset->channels;
  return at::zeros({1, channels, dataset->height, dataset->width});
}

// Loads the file at `path`; when it loads, runs one image through it in both modes.
void LoadAndRun(const std::string& path) {
  const absl::StatusOr<RuntimeModel> model = RuntimeModel::Load(path);
  if (!model.ok()) return;
  const at::Tensor image = RecordedImage(path);
  for (const Activations activations : {Activations::kFloat, Activations::kInt8}) {
    const at::Tensor logits = model->Forward(image, activations);
    Require(logits.dim() == 2 && logits.size(0) == 1, "one image gives one row of logits");
  }
}

}  // namespace

// Protobuf logs every string field that is not UTF-8 before the parse fails; the failure is
// what is tested, the log only slows the run.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static mc::fuzz::TempFile file;
  file.Write(data, size);
  LoadAndRun(file.path());
  if (size >= mc::serialization::kModelFileHeaderBytes) {
    const std::string fixed = mc::fuzz::WithMatchingChecksum(
        absl::string_view(reinterpret_cast<const char*>(data), size));
    file.Write(fixed.data(), fixed.size());
    LoadAndRun(file.path());
  }
  return 0;
}
