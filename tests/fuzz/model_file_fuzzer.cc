// Fuzzes the read path of a compressed-model file: the container (serialization/model_file.h)
// and the decoding of every tensor (model_io/decoder.h). Any input must be decoded or
// refused with an error; a decoded tensor has the name and shape it was stored with.
//
// Each input is read twice: as it is, and with the payload length and CRC-32 of its header
// set to match its payload, so that mutations of the payload reach the protobuf parser and
// the tensor decoders instead of stopping at the checksum.
#include <ATen/core/Tensor.h>
#include <google/protobuf/stubs/logging.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "model_io/decoder.h"
#include "serialization/model_file.h"
#include "tests/fuzz/fuzz_support.h"
#include "tests/fuzz/model_file_checksum.h"

namespace {

using mc::fuzz::Require;
using mc::fuzz::WithMatchingChecksum;
using mc::serialization::CompressedModel;
using mc::serialization::kModelFileHeaderBytes;

void Decode(absl::string_view bytes) {
  absl::StatusOr<CompressedModel> model = mc::serialization::DecodeModelFile(bytes, "input");
  if (!model.ok()) return;
  absl::StatusOr<mc::serialization::StateDict> state = mc::model_io::DecodeCompressedModel(*model);
  if (!state.ok()) return;
  Require(static_cast<int>(state->size()) == model->tensors_size(),
          "every stored tensor is decoded");
  for (int i = 0; i < model->tensors_size(); ++i) {
    const mc::serialization::CompressedTensor& stored = model->tensors(i);
    const auto& [name, tensor] = (*state)[i];
    Require(name == stored.name(), "a decoded tensor keeps its stored name");
    Require(tensor.defined(), "a decoded tensor is defined");
    Require(tensor.sizes().vec() ==
                std::vector<int64_t>(stored.shape().begin(), stored.shape().end()),
            "a decoded tensor has its stored shape");
    Require(tensor.scalar_type() == at::kFloat || tensor.scalar_type() == at::kLong,
            "a decoded tensor is float32 or int64");
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
  const absl::string_view bytes(reinterpret_cast<const char*>(data), size);
  Decode(bytes);
  if (size >= kModelFileHeaderBytes) Decode(WithMatchingChecksum(bytes));
  return 0;
}
