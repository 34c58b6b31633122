// File: uniform_codec.h
// Stores uniformly quantized tensors (quant/uniform.h) as the UniformEncoding of
// compressed_model.proto, and reads them back with full validation.
//
// Widths: when every group has the width `width_offset`, it is recorded in `bits` and
// `group_bits` stays empty. Otherwise each group's width minus width_offset
// (group_bits_offset) is bit-packed in group_bits at the fewest bits that hold the largest
// difference (group_bits_width). width_offset defaults to the smallest width present.
// Levels: for each width w present, in increasing order, the levels of all groups of width
// w, in group order, are bit-packed at w bits (quant/bitpack.h) into one byte-aligned
// array; the arrays are concatenated. With one width this is the elements in order.
// Step form (EncodeUniformStep): one width, one float32 step for the tensor, and
// value = (level - zero_level) * step instead of a (min, max) range.
//
// Example:
//   *tensor.mutable_uniform() = EncodeUniform(q, bits, layout);
//   MC_ASSIGN_OR_RETURN(at::Tensor values, DecodeUniform(tensor));
#ifndef MC_QUANT_UNIFORM_CODEC_H_
#define MC_QUANT_UNIFORM_CODEC_H_

#include <ATen/core/Tensor.h>

#include "absl/status/statusor.h"
#include "quant/uniform.h"
#include "serialization/compressed_model.pb.h"

namespace mc::quant {

/// Encodes levels, ranges and widths (int64, one per bit group or one for the tensor).
/// `width_offset`, when given, must not exceed any width.
serialization::UniformEncoding EncodeUniform(const UniformQuantized& quantized,
                                             const at::Tensor& bits, const UniformLayout& layout,
                                             c10::optional<int64_t> width_offset = c10::nullopt);

/// Encodes `levels` (int32, any shape, each in [0, 2^bits - 1]) in the step form:
/// value = (level - zero_level) * step, computed as one float32 product.
/// Throws c10::Error if bits is outside [1, 16], zero_level outside [0, 2^bits - 1], or a
/// level does not fit in `bits` bits.
serialization::UniformEncoding EncodeUniformStep(const at::Tensor& levels, int64_t bits,
                                                 int64_t zero_level, float step);

/// Levels, ranges and widths of a stored tensor (its shape and uniform encoding).
struct DecodedUniform {
  UniformQuantized quantized;  ///< min and max are undefined in the step form
  at::Tensor bits;             ///< int64, one per bit group or a single width
  UniformLayout layout;
  at::Tensor step;             ///< step form only: float32 0-d; undefined otherwise
  int64_t zero_level = 0;      ///< step form only
};

/// Reads a uniform-encoded tensor back.
/// \error kDataLoss naming the tensor when sizes, widths or ranges are inconsistent.
absl::StatusOr<DecodedUniform> DecodeUniformLevels(const serialization::CompressedTensor& stored);

/// The stored widths of a uniform-encoded tensor: int64, one per bit group, or a single
/// width for the whole tensor. \error kDataLoss as DecodeUniformLevels.
absl::StatusOr<at::Tensor> DecodeUniformWidths(const serialization::CompressedTensor& stored);

/// The float32 values of a uniform-encoded tensor, in its shape.
absl::StatusOr<at::Tensor> DecodeUniform(const serialization::CompressedTensor& stored);

/// Bits the levels take: sum over groups of elements x width.
int64_t UniformLevelBits(int64_t numel, const at::Tensor& bits, int64_t bit_group_size);

}  // namespace mc::quant

#endif  // MC_QUANT_UNIFORM_CODEC_H_
