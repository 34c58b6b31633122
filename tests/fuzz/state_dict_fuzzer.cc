// Fuzzes the PyTorch state-dict reader (serialization/pytorch_state_dict.h), and with it
// LibTorch's zip reader, through the file it reads. Any input must be read or refused with an
// error; every tensor read is a view inside its storage.
//
// The first and last elements of each tensor are read here, in instrumented code, so that
// AddressSanitizer sees a view that reaches past its storage.
//
// LibTorch 1.13 leaks its zip reader's state (about 1 KB) when PyTorchStreamReader's
// constructor throws after opening the archive, e.g. for an archive without a version
// record: the destructor that would free it never runs. Inputs that LibTorch refuses there
// are read with leak detection off; the reader's own code runs only after that constructor.
#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>
#include <caffe2/serialize/inline_container.h>
#include <sanitizer/lsan_interface.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "absl/status/statusor.h"
#include "serialization/pytorch_state_dict.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using mc::fuzz::Require;

// Reads the bytes of the element at `index` of `tensor`'s storage.
void Touch(const at::Tensor& tensor, int64_t index) {
  const size_t element = tensor.element_size();
  Require(static_cast<size_t>(index + 1) * element <= tensor.storage().nbytes(),
          "a tensor's elements are inside its storage");
  unsigned char bytes[16];
  std::memcpy(bytes, static_cast<const char*>(tensor.storage().data()) + index * element,
              element);
  volatile unsigned char sink = bytes[0];
  (void)sink;
}

void Check(const at::Tensor& tensor) {
  Require(tensor.defined(), "a state dict tensor is defined");
  Require(tensor.device().is_cpu(), "a state dict tensor is on the CPU");
  Require(!tensor.requires_grad(), "a state dict tensor does not require grad");
  if (tensor.numel() == 0) return;
  int64_t last = tensor.storage_offset();
  for (int64_t d = 0; d < tensor.dim(); ++d) {
    int64_t extent;
    Require(!__builtin_mul_overflow(tensor.size(d) - 1, tensor.stride(d), &extent) &&
                !__builtin_add_overflow(last, extent, &last),
            "a tensor's last element has an index");
  }
  Touch(tensor, tensor.storage_offset());
  Touch(tensor, last);
}

// Whether LibTorch's zip reader opens the archive at `path`.
bool LibTorchOpens(const std::string& path) {
  __lsan::ScopedDisabler leaks_ignored;
  try {
    caffe2::serialize::PyTorchStreamReader reader(path);
    return true;
  } catch (...) {
    return false;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static mc::fuzz::TempFile file;
  file.Write(data, size);
  absl::StatusOr<mc::serialization::StateDict> state;
  if (LibTorchOpens(file.path())) {
    state = mc::serialization::ReadPyTorchStateDict(file.path());
  } else {
    __lsan::ScopedDisabler leaks_ignored;
    state = mc::serialization::ReadPyTorchStateDict(file.path());
    Require(!state.ok(), "an archive LibTorch cannot open is refused");
  }
  if (!state.ok()) return 0;
  for (const auto& entry : *state) Check(entry.second);
  return 0;
}
