// File: kmeans.h
// k-means of weight subvectors for "And the bit goes down" (Stock et al. 2020, section 3.2):
// one codebook of k centroids minimising the error on the layer's output,
//   sum_j ||A (u_j - c_{a(j)})||^2,
// over sampled input activations A (rows of block_size values, vq/layout.h's
// ActivationsToBlockRows). With A^T A = L L^T (Cholesky) this equals sum_j ||L^T u_j -
// L^T c_{a(j)}||^2, so ActivationWeightedKMeans runs plain Lloyd k-means on the points u L
// and returns centroids in the space of u: the mean commutes with the linear map. Plain
// Euclidean k-means (KMeans) is the same algorithm on the points as they are.
//
// Each iteration assigns every point to its nearest centroid (||x||^2 - 2 x.c + ||c||^2 by
// matrix multiplication, in chunks of bounded memory, on all of ATen's threads), fills empty
// clusters by splitting the most populated one, records the objective, and moves each
// centroid to the mean of its points.
// The objective therefore never increases from one iteration to the next.
//
// Example:
//   MC_ASSIGN_OR_RETURN(at::Tensor u, WeightToSubvectors(conv->weight, 9));
//   MC_ASSIGN_OR_RETURN(at::Tensor a, ActivationsToBlockRows(patches, 9));
//   MC_ASSIGN_OR_RETURN(KMeansResult result,
//                       ActivationWeightedKMeans(u, a, KMeansOptions(256).iterations(100)));
//   // result.centroids (256, 9), result.assignments (n,), result.objective per iteration
#ifndef MC_VQ_KMEANS_H_
#define MC_VQ_KMEANS_H_

#include <ATen/core/Tensor.h>
#include <torch/arg.h>

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mc::vq {

/// How the first centroids are chosen.
enum class KMeansInit {
  /// k points drawn uniformly with replacement, as the reference (duplicates are possible;
  /// the empty clusters they leave are split at the first iteration).
  kRandom,
  /// k-means++ (Arthur and Vassilvitskii 2007): each next centroid is a point drawn with
  /// probability proportional to its squared distance to the nearest chosen one.
  kKMeansPlusPlus,
};

struct KMeansOptions {
  explicit KMeansOptions(int64_t num_centroids) : num_centroids_(num_centroids) {}
  /// Number of centroids k, in [1, number of points].
  TORCH_ARG(int64_t, num_centroids);
  /// Lloyd iterations (assignment, then update). Default: 100, the reference's --n-iter.
  TORCH_ARG(int64_t, iterations) = 100;
  /// Initialisation. Default: kRandom, the reference's.
  TORCH_ARG(KMeansInit, init) = KMeansInit::kRandom;
  /// Seed of every random choice (initialisation, split perturbations): equal seeds and
  /// inputs give equal results at a given number of threads. Default: 0.
  TORCH_ARG(uint64_t, seed) = 0;
  /// An empty cluster k is filled by splitting the most populated cluster m (reference rule):
  /// c_k = c_m + e, c_m = c_m - e, e ~ N(0, I) * empty_cluster_eps * max(|c_m|_inf, 1e-30).
  /// The reference's eps of 1e-8 is absolute, which float32 centroids of magnitude 1 cannot
  /// resolve (c_m + e == c_m, and the cluster stays empty for good); here it is relative.
  /// Default: 1e-6.
  TORCH_ARG(double, empty_cluster_eps) = 1e-6;
  /// Splits per iteration allowed to fail, i.e. to leave as many clusters empty as before
  /// (all members of the split cluster on one side, e.g. copies of one point); past them
  /// k-means fails with kFailedPrecondition (e.g. fewer distinct points than centroids)
  /// instead of looping for ever as the reference can. Default: 100.
  TORCH_ARG(int64_t, max_empty_cluster_retries) = 100;
  /// ActivationWeightedKMeans factorises A^T A + ridge * (trace(A^T A) / d) * I, which is
  /// positive definite for any ridge > 0 unless A is zero (then the metric is ridge * I,
  /// i.e. plain k-means). With ridge 0 a singular A^T A (fewer independent activation rows
  /// than block_size, or an input that is always zero) is an error. Default: 1e-6.
  TORCH_ARG(double, ridge) = 1e-6;
  /// Bytes of the distance buffer of the assignment step (one chunk of points times k
  /// float32 distances). Default: 1 MiB.
  TORCH_ARG(int64_t, assignment_buffer_bytes) = int64_t{1} << 20;
};

struct KMeansResult {
  /// (k, d) float32, in the space of the input points (subvectors).
  at::Tensor centroids;
  /// (n,) int64, in [0, k): the last iteration's assignment of each point; no cluster is
  /// empty.
  at::Tensor assignments;
  /// objective[i]: the objective (weighted for ActivationWeightedKMeans, including the
  /// ridge term), summed over points, of iteration i's assignment (nearest centroids, then
  /// empty clusters filled) to iteration i's centroids. Non-increasing, up to the float32
  /// rounding of the centroids.
  std::vector<double> objective;
  /// The objective of the returned (centroids, assignments): at most objective.back(), up to
  /// rounding.
  double final_objective = 0;
  /// Empty clusters split over all iterations.
  int64_t empty_cluster_splits = 0;
};

/// Checks every option on its own: num_centroids and iterations >= 1, empty_cluster_eps > 0,
/// max_empty_cluster_retries >= 0, ridge >= 0, assignment_buffer_bytes >= 1.
/// \returns OK, or kInvalidArgument naming the offending field and value.
absl::Status Validate(const KMeansOptions& options);

/// Plain Euclidean k-means: minimises sum_j ||x_j - c_{a(j)}||^2.
/// points: (n, d), floating point, CPU (computed in float32).
/// \error kInvalidArgument if points is not a 2-D finite floating-point CPU tensor, an
///   option is invalid (Validate), or num_centroids > n.
/// \error kFailedPrecondition if clusters are still empty after max_empty_cluster_retries
///   failed splits in one iteration.
absl::StatusOr<KMeansResult> KMeans(const at::Tensor& points, const KMeansOptions& options);

/// Activation-weighted k-means: minimises sum_j ||A (u_j - c_{a(j)})||^2 (+ the ridge term).
/// subvectors: (n, d); activations: (r, d), floating point, CPU.
/// \error as KMeans, and kInvalidArgument if d differs or A^T A (+ ridge) is not positive
///   definite.
absl::StatusOr<KMeansResult> ActivationWeightedKMeans(const at::Tensor& subvectors,
                                                      const at::Tensor& activations,
                                                      const KMeansOptions& options);

/// The factor that turns the weighted objective into a Euclidean one: L (d, d) float32,
/// lower triangular, with L L^T = A^T A + ridge * (trace(A^T A) / d) * I, so that
/// ||A (u - c)||^2 (+ ridge term) = ||(u - c)^T L||^2 for row vectors u, c.
/// activations: (r, d) floating point. Computed in float64.
/// \error kInvalidArgument if activations is not 2-D finite floating point, ridge < 0, or the
///   matrix is not positive definite.
absl::StatusOr<at::Tensor> ActivationMetric(const at::Tensor& activations, double ridge);

/// Index of the nearest centroid of each point (ties to the lower index), computed as
/// KMeans's assignment step. points: (n, d), centroids: (k, d), float32 CPU. Returns (n,)
/// int64. \error kInvalidArgument on shapes, dtypes or devices that do not match.
absl::StatusOr<at::Tensor> AssignNearest(const at::Tensor& points, const at::Tensor& centroids,
                                         int64_t assignment_buffer_bytes = int64_t{1} << 20);

}  // namespace mc::vq

#endif  // MC_VQ_KMEANS_H_
