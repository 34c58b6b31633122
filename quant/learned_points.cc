#include "quant/learned_points.h"

#include <ATen/ATen.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "quant/bitpack.h"
#include "quant/uniform.h"
#include "serialization/tensor_codec.h"

namespace mc::quant {
namespace {

// Below this range a bucket is treated as constant (scale 1), as the reference.
constexpr double kMinScale = 1e-10;

}  // namespace

BucketScaling LinearBucketScaling(const at::Tensor& x, int64_t bucket_size) {
  TORCH_CHECK(x.numel() > 0, "LinearBucketScaling: empty tensor");
  TORCH_CHECK(bucket_size >= 0, "LinearBucketScaling: bucket_size must be >= 0, got ", bucket_size);
  auto [min, max] = GroupMinMax(x.detach().reshape({-1}).to(at::kFloat), bucket_size);
  const at::Tensor range = max - min;
  return {bucket_size, at::where(range < kMinScale, at::ones_like(range), range), min};
}

at::Tensor ScaleDown(const at::Tensor& x, const BucketScaling& scaling) {
  const int64_t numel = x.numel();
  const at::Tensor flat = x.reshape({-1}).to(at::kFloat);
  return ((flat - ExpandGroups(scaling.offset, numel, scaling.bucket_size)) /
          ExpandGroups(scaling.scale, numel, scaling.bucket_size))
      .view(x.sizes());
}

at::Tensor ScaleUp(const at::Tensor& y, const BucketScaling& scaling) {
  const int64_t numel = y.numel();
  return (ExpandGroups(scaling.offset, numel, scaling.bucket_size) +
          ExpandGroups(scaling.scale, numel, scaling.bucket_size) * y.reshape({-1}))
      .view(y.sizes());
}

at::Tensor NearestPoint(const at::Tensor& scaled, const at::Tensor& points) {
  TORCH_CHECK(points.dim() == 1 && points.numel() > 0, "NearestPoint: points must be (n), n > 0");
  const at::Tensor sorted = points.detach().to(at::kFloat).contiguous();
  const at::Tensor x = scaled.detach().reshape({-1}).to(at::kFloat).contiguous();
  const int64_t last = sorted.numel() - 1;
  const at::Tensor upper = at::searchsorted(sorted, x).clamp_max(last);
  const at::Tensor lower = (upper - 1).clamp_min(0);
  // Strictly closer to the lower point; a tie keeps the upper one.
  const at::Tensor take_lower =
      (x - sorted.index_select(0, lower)).abs() < (x - sorted.index_select(0, upper)).abs();
  return at::where(take_lower, lower, upper).view(scaled.sizes());
}

serialization::LearnedPointsEncoding EncodeLearnedPoints(const at::Tensor& indices,
                                                         const at::Tensor& points,
                                                         const BucketScaling& scaling) {
  const int64_t n = points.numel();
  TORCH_CHECK(n >= 1 && n <= 65536, "EncodeLearnedPoints: need 1 to 65536 points, got ", n);
  const at::Tensor flat = indices.reshape({-1}).to(at::kLong);
  TORCH_CHECK(flat.numel() == 0 || (flat.min().item<int64_t>() >= 0 && flat.max().item<int64_t>() < n),
              "EncodeLearnedPoints: indices must be in [0, ", n, ")");
  TORCH_CHECK(scaling.scale.numel() == NumGroups(flat.numel(), scaling.bucket_size),
              "EncodeLearnedPoints: ", scaling.scale.numel(), " bucket scales for ", flat.numel(),
              " elements in buckets of ", scaling.bucket_size);
  const int bits = BitsFor(static_cast<uint32_t>(n - 1));
  const at::Tensor values = flat.to(at::kInt).contiguous();
  std::vector<uint16_t> packed_values(values.data_ptr<int32_t>(),
                                      values.data_ptr<int32_t>() + values.numel());
  absl::StatusOr<std::string> packed = PackBitsToString(packed_values, bits);
  TORCH_CHECK(packed.ok(), packed.status().message());
  serialization::LearnedPointsEncoding encoding;
  encoding.set_bucket_size(scaling.bucket_size);
  encoding.set_points(serialization::Float32Bytes(points.detach()));
  encoding.set_index_bits(bits);
  encoding.set_bucket_scale(serialization::Float32Bytes(scaling.scale));
  encoding.set_bucket_offset(serialization::Float32Bytes(scaling.offset));
  encoding.set_indices(*std::move(packed));
  return encoding;
}

absl::StatusOr<DecodedLearnedPoints> DecodeLearnedPointsIndices(
    const serialization::CompressedTensor& stored) {
  const std::string& name = stored.name();
  if (!stored.has_learned_points()) {
    return absl::DataLossError(absl::StrCat("tensor ", name, " is not stored as learned points"));
  }
  const serialization::LearnedPointsEncoding& encoding = stored.learned_points();
  MC_ASSIGN_OR_RETURN(const int64_t numel, serialization::NumElements(stored));
  if (encoding.bucket_size() < 0) {
    return absl::DataLossError(
        absl::StrCat("tensor ", name, ": negative bucket_size ", encoding.bucket_size()));
  }
  const int64_t n = static_cast<int64_t>(encoding.points().size() / 4);
  if (n < 1 || n > 65536 || encoding.index_bits() != static_cast<uint32_t>(BitsFor(n - 1))) {
    return absl::DataLossError(absl::StrCat("tensor ", name, ": ", n, " points cannot use ",
                                            encoding.index_bits(), "-bit indices"));
  }
  DecodedLearnedPoints decoded;
  MC_ASSIGN_OR_RETURN(decoded.points,
                      serialization::Float32sFromBytes(encoding.points(), n, "points", name));
  const int64_t buckets = NumGroups(numel, encoding.bucket_size());
  decoded.scaling.bucket_size = encoding.bucket_size();
  MC_ASSIGN_OR_RETURN(decoded.scaling.scale, serialization::Float32sFromBytes(
                                                 encoding.bucket_scale(), buckets, "bucket_scale", name));
  MC_ASSIGN_OR_RETURN(decoded.scaling.offset,
                      serialization::Float32sFromBytes(encoding.bucket_offset(), buckets,
                                                       "bucket_offset", name));
  absl::StatusOr<std::vector<uint16_t>> indices = UnpackBitsFromString(
      encoding.indices(), static_cast<int>(encoding.index_bits()), static_cast<size_t>(numel));
  if (!indices.ok()) {
    return absl::DataLossError(
        absl::StrCat("tensor ", name, ": indices: ", indices.status().message()));
  }
  for (const uint16_t index : *indices) {
    if (index >= n) {
      return absl::DataLossError(
          absl::StrCat("tensor ", name, ": index ", index, " is past the ", n, " points"));
    }
  }
  const std::vector<int64_t> shape(stored.shape().begin(), stored.shape().end());
  decoded.indices = at::tensor(std::vector<int64_t>(indices->begin(), indices->end()), at::kLong)
                        .view(shape);
  return decoded;
}

absl::StatusOr<at::Tensor> DecodeLearnedPoints(const serialization::CompressedTensor& stored) {
  MC_ASSIGN_OR_RETURN(const DecodedLearnedPoints decoded, DecodeLearnedPointsIndices(stored));
  return ScaleUp(decoded.points.index_select(0, decoded.indices.reshape({-1})).view(decoded.indices.sizes()),
                 decoded.scaling);
}

}  // namespace mc::quant
