#include "vq/layout.h"

#include <ATen/core/Tensor.h>

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"

namespace mc::vq {
namespace {

std::string ShapeString(at::IntArrayRef shape) {
  return absl::StrCat("(", absl::StrJoin(shape, ", "), ")");
}

// Values per output channel: in for a linear weight, in * kh * kw for a convolution.
absl::StatusOr<int64_t> RowLength(at::IntArrayRef weight_shape, int64_t block_size) {
  if (weight_shape.size() != 2 && weight_shape.size() != 4) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected a linear (out, in) or convolution (out, in, kh, kw) weight, got "
                     "shape ",
                     ShapeString(weight_shape)));
  }
  int64_t row_length = 1;
  for (size_t i = 0; i < weight_shape.size(); ++i) {
    if (weight_shape[i] < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("weight shape ", ShapeString(weight_shape), " has an empty dimension"));
    }
    if (i > 0) row_length *= weight_shape[i];
  }
  if (block_size < 1) {
    return absl::InvalidArgumentError(absl::StrCat("block_size must be >= 1, got ", block_size));
  }
  if (row_length % block_size != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "block_size ", block_size, " does not divide the ", row_length,
        " values per output channel of a weight of shape ", ShapeString(weight_shape)));
  }
  return row_length;
}

absl::Status CheckFloatingPoint(const at::Tensor& tensor, const char* name) {
  if (!tensor.defined() || !tensor.is_floating_point()) {
    return absl::InvalidArgumentError(absl::StrCat(name, " must be a floating-point tensor"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<int64_t> NumSubvectors(at::IntArrayRef weight_shape, int64_t block_size) {
  MC_ASSIGN_OR_RETURN(const int64_t row_length, RowLength(weight_shape, block_size));
  return weight_shape[0] * (row_length / block_size);
}

absl::StatusOr<int64_t> ClampNumCentroids(int64_t requested, int64_t n_subvectors,
                                          int64_t threshold) {
  if (requested < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("the number of centroids must be >= 1, got ", requested));
  }
  if (threshold < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("the centroids threshold must be >= 1, got ", threshold));
  }
  if (n_subvectors <= threshold) {
    return absl::InvalidArgumentError(
        absl::StrCat("a layer of ", n_subvectors, " subvectors is too small to quantize with "
                     "threshold ", threshold, ": it needs more than ", threshold, " subvectors"));
  }
  // The largest power of two p with p < n_subvectors / threshold, i.e. p * threshold <
  // n_subvectors, as the reference's bisect over 2^0 .. 2^15 finds it.
  int64_t cap = 1;
  while (cap < kMaxCentroids && 2 * cap * threshold < n_subvectors) cap *= 2;
  return requested < cap ? requested : cap;
}

absl::StatusOr<at::Tensor> WeightToSubvectors(const at::Tensor& weight, int64_t block_size) {
  MC_RETURN_IF_ERROR(CheckFloatingPoint(weight, "weight"));
  MC_ASSIGN_OR_RETURN(const int64_t row_length, RowLength(weight.sizes(), block_size));
  const int64_t out = weight.size(0);
  // (out, n_blocks, bs) -> (n_blocks, out, bs): row b * out + o is block b of channel o.
  return weight.reshape({out, row_length / block_size, block_size})
      .transpose(0, 1)
      .reshape({-1, block_size})
      .contiguous();
}

absl::StatusOr<at::Tensor> SubvectorsToWeight(const at::Tensor& subvectors,
                                              at::IntArrayRef weight_shape) {
  if (!subvectors.defined() || subvectors.dim() != 2) {
    return absl::InvalidArgumentError("subvectors must be a 2-D (n, block_size) tensor");
  }
  const int64_t block_size = subvectors.size(1);
  MC_ASSIGN_OR_RETURN(const int64_t row_length, RowLength(weight_shape, block_size));
  const int64_t out = weight_shape[0];
  const int64_t n_blocks = row_length / block_size;
  if (subvectors.size(0) != n_blocks * out) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a weight of shape ", ShapeString(weight_shape), " has ", n_blocks * out,
        " subvectors of ", block_size, " values, got ", subvectors.size(0)));
  }
  return subvectors.reshape({n_blocks, out, block_size})
      .transpose(0, 1)
      .reshape(weight_shape)
      .contiguous();
}

absl::StatusOr<at::Tensor> ReconstructWeight(const at::Tensor& centroids,
                                             const at::Tensor& assignments,
                                             at::IntArrayRef weight_shape) {
  MC_RETURN_IF_ERROR(CheckFloatingPoint(centroids, "centroids"));
  if (centroids.dim() != 2 || centroids.size(0) < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "centroids must be a non-empty (k, block_size) tensor, got shape ",
        ShapeString(centroids.sizes())));
  }
  if (!assignments.defined() || assignments.dim() != 1 ||
      !at::isIntegralType(assignments.scalar_type(), /*includeBool=*/false)) {
    return absl::InvalidArgumentError("assignments must be a 1-D integer tensor");
  }
  if (assignments.numel() > 0) {
    const int64_t smallest = assignments.min().item<int64_t>();
    const int64_t largest = assignments.max().item<int64_t>();
    if (smallest < 0 || largest >= centroids.size(0)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "assignments must be in [0, ", centroids.size(0), "), got values in [", smallest, ", ",
          largest, "]"));
    }
  }
  return SubvectorsToWeight(centroids.index_select(0, assignments.to(at::kLong)), weight_shape);
}

absl::StatusOr<at::Tensor> ActivationsToBlockRows(const at::Tensor& inputs, int64_t block_size) {
  MC_RETURN_IF_ERROR(CheckFloatingPoint(inputs, "inputs"));
  if (inputs.dim() != 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "inputs must be 2-D (N, row_length), got shape ", ShapeString(inputs.sizes())));
  }
  // An (N, row_length) matrix is cut like a linear weight of that shape: row b * N + i is
  // block b of input row i.
  return WeightToSubvectors(inputs, block_size);
}

}  // namespace mc::vq
