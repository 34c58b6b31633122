#include "serialization/tensor_codec.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"

namespace mc::serialization {
namespace {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "the stored format is little-endian; big-endian hosts need byte swapping");

at::ScalarType StoredType(DataType dtype) {
  switch (dtype) {
    case FLOAT16:
      return at::kHalf;
    case INT64:
      return at::kLong;
    default:
      return at::kFloat;
  }
}

}  // namespace

CompressedTensor EncodePassthrough(const std::string& name, const at::Tensor& tensor,
                                   DataType dtype) {
  TORCH_CHECK(dtype == FLOAT32 || dtype == FLOAT16 || dtype == INT64,
              "EncodePassthrough: unsupported dtype ", DataType_Name(dtype), " for ", name);
  CompressedTensor out;
  out.set_name(name);
  for (const int64_t size : tensor.sizes()) out.add_shape(size);
  const at::Tensor stored = tensor.detach().to(at::kCPU, StoredType(dtype)).contiguous();
  PassthroughEncoding* encoding = out.mutable_passthrough();
  encoding->set_dtype(dtype);
  encoding->set_data(static_cast<const char*>(stored.data_ptr()), stored.nbytes());
  return out;
}

absl::StatusOr<int64_t> NumElements(const CompressedTensor& tensor) {
  // The extent, the product with every 0 taken as 1, bounds the count and the contiguous
  // strides LibTorch computes for the shape: (0, 2^40, 2^40) has no elements but strides
  // that overflow, and LibTorch throws on them.
  int64_t count = 1;
  int64_t extent = 1;
  for (const int64_t size : tensor.shape()) {
    if (size < 0 || extent > kMaxStoredExtent / std::max<int64_t>(size, 1)) {
      return absl::DataLossError(
          absl::StrCat("tensor ", tensor.name(), ": invalid dimension ", size, " in shape (",
                       absl::StrJoin(tensor.shape(), ", "), ")"));
    }
    extent *= std::max<int64_t>(size, 1);
    count *= size;
  }
  return count;
}

absl::StatusOr<at::Tensor> DecodePassthrough(const CompressedTensor& tensor) {
  if (!tensor.has_passthrough()) {
    return absl::DataLossError(
        absl::StrCat("tensor ", tensor.name(), " is not stored as passthrough"));
  }
  const PassthroughEncoding& encoding = tensor.passthrough();
  if (encoding.dtype() != FLOAT32 && encoding.dtype() != FLOAT16 && encoding.dtype() != INT64) {
    return absl::DataLossError(absl::StrCat("tensor ", tensor.name(), ": unknown dtype ",
                                            static_cast<int>(encoding.dtype())));
  }
  MC_ASSIGN_OR_RETURN(const int64_t numel, NumElements(tensor));
  const at::ScalarType stored_type = StoredType(encoding.dtype());
  const size_t expected = static_cast<size_t>(numel) * at::elementSize(stored_type);
  if (encoding.data().size() != expected) {
    return absl::DataLossError(absl::StrCat("tensor ", tensor.name(), ": ", encoding.data().size(),
                                            " bytes stored, its shape needs ", expected));
  }
  const std::vector<int64_t> shape(tensor.shape().begin(), tensor.shape().end());
  at::Tensor stored = at::empty(shape, at::TensorOptions().dtype(stored_type));
  // An empty tensor has a null data pointer, which memcpy must not get even for 0 bytes.
  if (expected > 0) std::memcpy(stored.data_ptr(), encoding.data().data(), expected);
  return encoding.dtype() == FLOAT16 ? stored.to(at::kFloat) : stored;
}

std::string Float32Bytes(const at::Tensor& values) {
  const at::Tensor contiguous = values.to(at::kFloat).contiguous();
  return std::string(static_cast<const char*>(contiguous.data_ptr()), contiguous.nbytes());
}

absl::StatusOr<at::Tensor> Float32sFromBytes(const std::string& bytes, int64_t count,
                                             absl::string_view what, absl::string_view name) {
  if (count < 0 || bytes.size() != static_cast<size_t>(count) * 4) {
    return absl::DataLossError(absl::StrCat("tensor ", name, ": ", what, " has ", bytes.size(),
                                            " bytes, expected ", count * 4));
  }
  at::Tensor values = at::empty({count}, at::kFloat);
  if (count > 0) std::memcpy(values.data_ptr(), bytes.data(), bytes.size());
  return values;
}

}  // namespace mc::serialization
