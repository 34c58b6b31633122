// File: layout.h
// How "And the bit goes down" (Stock et al. 2020, section 3.1) cuts a layer's weight into the
// subvectors that one shared codebook quantizes, and how the weight comes back from
// (centroids, assignments). A subvector is `block_size` consecutive values of one output
// channel's flattened weight, along (in_channels, kh, kw) for a convolution and along the
// inputs for a linear layer; blocks never cross output channels.
//
// Layout of the subvectors, (n_blocks * out, block_size): row j = b * out + o holds
// weight.view(out, -1)[o, b * block_size : (b + 1) * block_size], block-major then output
// channel, the reference's (and fairseq iPQ's) assignment order. For a 3x3 convolution with
// block_size 9 a row is one input channel's kernel; with 18, the kernels of two consecutive
// input channels; for a 1x1 convolution with 4 or 8, that many consecutive input channels.
//
// Example:
//   MC_ASSIGN_OR_RETURN(at::Tensor subvectors, WeightToSubvectors(conv->weight, 9));
//   MC_ASSIGN_OR_RETURN(int64_t k, ClampNumCentroids(256, subvectors.size(0)));
//   ... k-means (vq/kmeans.h) gives centroids (k, 9) and assignments (n,) ...
//   MC_ASSIGN_OR_RETURN(at::Tensor weight,
//                       ReconstructWeight(centroids, assignments, conv->weight.sizes()));
#ifndef MC_VQ_LAYOUT_H_
#define MC_VQ_LAYOUT_H_

#include <ATen/core/Tensor.h>

#include <cstdint>

#include "absl/status/statusor.h"

namespace mc::vq {

/// The reference's default `n_centroids_threshold`: a layer gets fewer than n_subvectors / 4
/// centroids.
inline constexpr int64_t kDefaultCentroidsThreshold = 4;

/// The largest number of centroids the reference allows itself: 2^15.
inline constexpr int64_t kMaxCentroids = int64_t{1} << 15;

/// Number of subvectors of a weight of shape `weight_shape` (2-D linear or 4-D convolution):
/// numel / block_size.
/// \error kInvalidArgument if the shape is not 2-D or 4-D, has a non-positive dimension,
///   block_size < 1, or block_size does not divide the row length (in or in*kh*kw).
absl::StatusOr<int64_t> NumSubvectors(at::IntArrayRef weight_shape, int64_t block_size);

/// Caps a requested number of centroids the reference's way (quantize.py): the result is
/// min(requested, largest power of two in [1, 2^15] strictly below n_subvectors / threshold).
/// E.g. a 64x64x1x1 convolution with block size 8 has 512 subvectors: 256 requested gives 64.
/// \error kInvalidArgument if requested < 1, threshold < 1, or n_subvectors <= threshold (no
///   power of two fits; the reference's lookup then wrapped around to 2^15 and kept the
///   requested number).
absl::StatusOr<int64_t> ClampNumCentroids(int64_t requested, int64_t n_subvectors,
                                          int64_t threshold = kDefaultCentroidsThreshold);

/// Cuts `weight` into subvectors.
/// weight: (out, in) or (out, in, kh, kw), floating point, CPU. Returns
/// (n_blocks * out, block_size), same dtype, contiguous, in the order of the file comment.
/// \error kInvalidArgument as NumSubvectors, or if weight is not a floating-point tensor.
absl::StatusOr<at::Tensor> WeightToSubvectors(const at::Tensor& weight, int64_t block_size);

/// Inverse of WeightToSubvectors: puts the rows of `subvectors` (n, block_size) back into a
/// weight of shape `weight_shape`.
/// \error kInvalidArgument if `subvectors` is not 2-D or its shape does not match
///   `weight_shape` (NumSubvectors rows of block_size values).
absl::StatusOr<at::Tensor> SubvectorsToWeight(const at::Tensor& subvectors,
                                              at::IntArrayRef weight_shape);

/// The weight that (centroids, assignments) encode: subvector j is centroids[assignments[j]].
/// centroids: (k, block_size), floating point; assignments: (n,), any integer dtype, in the
/// order of the file comment. Returns a tensor of `weight_shape` with the centroids' dtype.
/// \error kInvalidArgument if the shapes do not match or an assignment is outside [0, k).
absl::StatusOr<at::Tensor> ReconstructWeight(const at::Tensor& centroids,
                                             const at::Tensor& assignments,
                                             at::IntArrayRef weight_shape);

/// Cuts input activations into rows of block_size values, matching the subvectors: column
/// block b of every row of `inputs` becomes a row, block-major (rows b * N .. (b+1) * N - 1
/// are block b), so that all blocks share one metric (reference section 1.2).
/// inputs: (N, row_length), the layer's inputs as rows (a linear layer's input, or im2col
/// patches ordered (c_in, kh, kw) for a convolution). Returns (N * n_blocks, block_size).
/// \error kInvalidArgument if inputs is not 2-D floating point or block_size does not divide
///   row_length.
absl::StatusOr<at::Tensor> ActivationsToBlockRows(const at::Tensor& inputs, int64_t block_size);

}  // namespace mc::vq

#endif  // MC_VQ_LAYOUT_H_
