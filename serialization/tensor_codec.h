// File: tensor_codec.h
// Tensors stored as they are (PassthroughEncoding of compressed_model.proto): float32,
// float16 or int64 values, little-endian, flattened row-major. Every method uses it for the
// tensors it does not compress (biases, BatchNorm parameters and statistics, ...).
//
// Example:
//   *model.add_tensors() = EncodePassthrough("fc.bias", bias, FLOAT32);
//   MC_ASSIGN_OR_RETURN(at::Tensor bias, DecodePassthrough(model.tensors(0)));
#ifndef MC_SERIALIZATION_TENSOR_CODEC_H_
#define MC_SERIALIZATION_TENSOR_CODEC_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "serialization/compressed_model.pb.h"

namespace mc::serialization {

/// Stores `tensor` (any floating or integer dtype, any layout) converted to `dtype`.
CompressedTensor EncodePassthrough(const std::string& name, const at::Tensor& tensor,
                                   DataType dtype);

/// Rebuilds a passthrough tensor: float32 for FLOAT32 and FLOAT16, int64 for INT64.
/// \error kDataLoss if the byte count disagrees with the shape, or the encoding is not
/// passthrough (the message names the tensor).
absl::StatusOr<at::Tensor> DecodePassthrough(const CompressedTensor& tensor);

/// Raw little-endian float32 bytes of `values` (converted to float32, flattened row-major).
std::string Float32Bytes(const at::Tensor& values);

/// `count` float32 values from Float32Bytes' output, as a (count) tensor.
/// \error kDataLoss naming the tensor and the field (`what`) if the byte count is not 4 * count.
absl::StatusOr<at::Tensor> Float32sFromBytes(const std::string& bytes, int64_t count,
                                             absl::string_view what, absl::string_view name);

/// Largest product of a stored shape's dimensions, each 0 taken as 1: 2^40.
inline constexpr int64_t kMaxStoredExtent = int64_t{1} << 40;

/// Number of elements of a stored tensor's shape.
/// \error kDataLoss on a negative dimension, or if the product of the dimensions, each 0
/// taken as 1, exceeds kMaxStoredExtent.
absl::StatusOr<int64_t> NumElements(const CompressedTensor& tensor);

}  // namespace mc::serialization

#endif  // MC_SERIALIZATION_TENSOR_CODEC_H_
