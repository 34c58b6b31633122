// File: learned_points.h
// Non-uniform quantization on learned points (Polino et al. 2018, "differentiable
// quantization"): each tensor is flattened row-major and cut into buckets; each bucket is
// scaled linearly to [0, 1] by its min and max (x = (v - offset) / scale, offset = min,
// scale = max - min, or 1 for a bucket whose range is below 1e-10, as the reference); each
// scaled element takes the nearest of the tensor's sorted points p_1 < ... < p_n, a tie going
// to the upper point; value = offset + scale * p[index]. Stored as the LearnedPointsEncoding
// of compressed_model.proto with indices bit-packed at ceil(log2 n) bits.
//
// Example:
//   BucketScaling scaling = LinearBucketScaling(weight, 256);
//   at::Tensor index = NearestPoint(ScaleDown(weight, scaling), points);
//   at::Tensor values = ScaleUp(points.index({index}), scaling);
//   *tensor.mutable_learned_points() = EncodeLearnedPoints(index, points, scaling);
#ifndef MC_QUANT_LEARNED_POINTS_H_
#define MC_QUANT_LEARNED_POINTS_H_

#include <ATen/core/Tensor.h>

#include <cstdint>

#include "absl/status/statusor.h"
#include "serialization/compressed_model.pb.h"

namespace mc::quant {

/// Per-bucket linear scaling of a tensor.
struct BucketScaling {
  int64_t bucket_size = 0;  ///< 0: one bucket for the tensor
  at::Tensor scale;         ///< float32 (B): max - min, or 1 when below 1e-10
  at::Tensor offset;        ///< float32 (B): min
};

/// The scaling of `x` (any shape) in buckets of `bucket_size` elements (0: one bucket).
BucketScaling LinearBucketScaling(const at::Tensor& x, int64_t bucket_size);

/// (x - offset) / scale per element: float32, x's shape.
at::Tensor ScaleDown(const at::Tensor& x, const BucketScaling& scaling);

/// offset + scale * y per element: float32, y's shape. Differentiable in y.
at::Tensor ScaleUp(const at::Tensor& y, const BucketScaling& scaling);

/// Index of the nearest point for each element of `scaled` (any shape): int64, its shape.
/// `points` (n) must be sorted ascending; an element halfway between two points takes the
/// upper one.
at::Tensor NearestPoint(const at::Tensor& scaled, const at::Tensor& points);

/// Encodes a quantized tensor: indices (int64, any shape, in [0, n)), points (n, sorted).
/// Throws c10::Error if an index is out of range or n is above 65536.
serialization::LearnedPointsEncoding EncodeLearnedPoints(const at::Tensor& indices,
                                                         const at::Tensor& points,
                                                         const BucketScaling& scaling);

/// Indices (int64, the stored shape) and points (float32) of a stored tensor.
struct DecodedLearnedPoints {
  at::Tensor indices;
  at::Tensor points;
  BucketScaling scaling;
};

/// Reads a learned-points tensor back.
/// \error kDataLoss naming the tensor when sizes, bit widths or indices are inconsistent.
absl::StatusOr<DecodedLearnedPoints> DecodeLearnedPointsIndices(
    const serialization::CompressedTensor& stored);

/// The float32 values of a learned-points tensor, in its shape.
absl::StatusOr<at::Tensor> DecodeLearnedPoints(const serialization::CompressedTensor& stored);

}  // namespace mc::quant

#endif  // MC_QUANT_LEARNED_POINTS_H_
