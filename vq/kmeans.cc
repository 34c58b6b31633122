#include "vq/kmeans.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/eye.h>
#include <ATen/ops/linalg_cholesky_ex.h>
#include <ATen/ops/mm.h>
#include <ATen/ops/multinomial.h>
#include <ATen/ops/randint.h>
#include <ATen/ops/randn.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace mc::vq {
namespace {

// Points per parallel_for task of the argmin over a chunk of distances.
constexpr int64_t kArgminGrain = 256;

absl::Status CheckPoints(const at::Tensor& points, const char* name) {
  if (!points.defined() || points.dim() != 2 || !points.is_floating_point()) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " must be a 2-D floating-point tensor (n, d)"));
  }
  if (!points.device().is_cpu()) {
    return absl::InvalidArgumentError(absl::StrCat(name, " must be on the CPU"));
  }
  if (points.size(0) < 1 || points.size(1) < 1) {
    return absl::InvalidArgumentError(absl::StrCat(name, " must not be empty"));
  }
  if (!points.isfinite().all().item<bool>()) {
    return absl::InvalidArgumentError(absl::StrCat(name, " must be finite (no NaN or inf)"));
  }
  return absl::OkStatus();
}

absl::Status CheckOptions(const KMeansOptions& options, int64_t num_points) {
  MC_RETURN_IF_ERROR(Validate(options));
  if (options.num_centroids() > num_points) {
    return absl::InvalidArgumentError(absl::StrCat("num_centroids must be at most the number of "
                                                   "points, ", num_points, ", got ",
                                                   options.num_centroids()));
  }
  return absl::OkStatus();
}

float SquaredDistance(const float* x, const float* c, int64_t d) {
  float sum = 0;
  for (int64_t j = 0; j < d; ++j) {
    const float diff = x[j] - c[j];
    sum += diff * diff;
  }
  return sum;
}

// Index of the smallest of values[0, k), the first one on ties.
int64_t ArgMinScalar(const float* values, int64_t k) {
  float best = values[0];
  int64_t best_index = 0;
  for (int64_t i = 1; i < k; ++i) {
    if (values[i] < best) {
      best = values[i];
      best_index = i;
    }
  }
  return best_index;
}

#if defined(__SSE2__)
// The same, four lanes at a time (SSE2 is part of x86-64): the scalar loop is more than half
// of k-means' time at d = 9, where the distances cost little to compute. Each lane keeps
// its first smallest value; across lanes, the smallest value with the lowest index wins.
int64_t ArgMin(const float* values, int64_t k) {
  if (k < 8) return ArgMinScalar(values, k);
  __m128 best = _mm_loadu_ps(values);
  __m128i index = _mm_setr_epi32(0, 1, 2, 3);
  __m128i best_index = index;
  const __m128i four = _mm_set1_epi32(4);
  int64_t i = 4;
  for (; i + 4 <= k; i += 4) {
    index = _mm_add_epi32(index, four);
    const __m128 candidate = _mm_loadu_ps(values + i);
    const __m128i smaller = _mm_castps_si128(_mm_cmplt_ps(candidate, best));
    best = _mm_min_ps(candidate, best);
    best_index = _mm_or_si128(_mm_and_si128(smaller, index),
                              _mm_andnot_si128(smaller, best_index));
  }
  alignas(16) float lane_best[4];
  alignas(16) int32_t lane_index[4];
  _mm_store_ps(lane_best, best);
  _mm_store_si128(reinterpret_cast<__m128i*>(lane_index), best_index);
  float smallest = lane_best[0];
  int64_t smallest_index = lane_index[0];
  for (int lane = 1; lane < 4; ++lane) {
    if (lane_best[lane] < smallest ||
        (lane_best[lane] == smallest && lane_index[lane] < smallest_index)) {
      smallest = lane_best[lane];
      smallest_index = lane_index[lane];
    }
  }
  for (; i < k; ++i) {
    if (values[i] < smallest) {
      smallest = values[i];
      smallest_index = i;
    }
  }
  return smallest_index;
}
#else
int64_t ArgMin(const float* values, int64_t k) { return ArgMinScalar(values, k); }
#endif

// The assignment step. Distances are ||c||^2 - 2 x.c (||x||^2 does not change the argmin),
// obtained by one sgemm of the points with a column of ones appended against
// [-2 c, ||c||^2]^T, a chunk of points at a time into a buffer of bounded size, each chunk
// followed by a parallel argmin over its rows.
class NearestCentroidAssigner {
 public:
  // points: (n, d) float32 contiguous.
  NearestCentroidAssigner(const at::Tensor& points, int64_t k, int64_t buffer_bytes)
      : n_(points.size(0)), d_(points.size(1)), k_(k) {
    augmented_points_ = at::empty({n_, d_ + 1}, points.options());
    augmented_points_.narrow(1, 0, d_).copy_(points);
    augmented_points_.select(1, d_).fill_(1);
    augmented_centroids_t_ = at::empty({d_ + 1, k_}, points.options());
    chunk_rows_ = std::clamp<int64_t>(buffer_bytes / (k_ * static_cast<int64_t>(sizeof(float))),
                                      1, n_);
    distances_ = at::empty({chunk_rows_, k_}, points.options());
  }

  // centroids: (k, d) float32 contiguous; assignments: (n,) int64, overwritten.
  void Assign(const at::Tensor& centroids, at::Tensor& assignments) {
    augmented_centroids_t_.narrow(0, 0, d_).copy_(centroids.t());
    augmented_centroids_t_.narrow(0, 0, d_).mul_(-2);
    augmented_centroids_t_.select(0, d_).copy_(centroids.mul(centroids).sum(1));
    int64_t* assignment = assignments.data_ptr<int64_t>();
    for (int64_t start = 0; start < n_; start += chunk_rows_) {
      const int64_t rows = std::min(chunk_rows_, n_ - start);
      at::Tensor distances = distances_.narrow(0, 0, rows);
      at::mm_out(distances, augmented_points_.narrow(0, start, rows), augmented_centroids_t_);
      const float* distance = distances.data_ptr<float>();
      at::parallel_for(0, rows, kArgminGrain, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) {
          assignment[start + i] = ArgMin(distance + i * k_, k_);
        }
      });
    }
  }

 private:
  int64_t n_;
  int64_t d_;
  int64_t k_;
  int64_t chunk_rows_;
  at::Tensor augmented_points_;       // (n, d + 1): [x, 1]
  at::Tensor augmented_centroids_t_;  // (d + 1, k): [-2 c, ||c||^2]^T
  at::Tensor distances_;              // (chunk_rows, k)
};

std::vector<int64_t> ClusterSizes(const at::Tensor& assignments, int64_t k) {
  std::vector<int64_t> sizes(k, 0);
  const int64_t* assignment = assignments.data_ptr<int64_t>();
  for (int64_t i = 0; i < assignments.size(0); ++i) ++sizes[assignment[i]];
  return sizes;
}

at::Tensor InitialCentroids(const at::Tensor& points, const KMeansOptions& options,
                            at::Generator& generator) {
  const int64_t n = points.size(0);
  const int64_t k = options.num_centroids();
  if (options.init() == KMeansInit::kRandom) {
    return points.index_select(0, at::randint(n, {k}, generator)).contiguous();
  }
  // k-means++.
  at::Tensor centroids = at::empty({k, points.size(1)}, points.options());
  const int64_t first = at::randint(n, {1}, generator).item<int64_t>();
  centroids[0].copy_(points[first]);
  at::Tensor nearest = points.sub(points[first]).pow(2).sum(1);
  for (int64_t j = 1; j < k; ++j) {
    // When every point coincides with a chosen centroid, any point will do.
    const int64_t next = nearest.sum().item<double>() > 0
                             ? at::multinomial(nearest, 1, false, generator).item<int64_t>()
                             : at::randint(n, {1}, generator).item<int64_t>();
    centroids[j].copy_(points[next]);
    nearest = nearest.minimum(points.sub(points[next]).pow(2).sum(1));
  }
  return centroids;
}

// Fills every empty cluster k by splitting the most populated cluster m (reference rule, with a
// relative perturbation; see KMeansOptions::empty_cluster_eps) and moving to k the members of
// m that are nearer to c_k than to c_m. The reference reassigns every point after each split
// instead; with perturbations this small, the rounding of ||c||^2 - 2 x.c can hand the
// members back to c_m and leave k empty for good, so the members are shared out with exact
// distances and the next iteration's assignment step does the rest. Returns the number of
// splits.
absl::StatusOr<int64_t> ResolveEmptyClusters(const at::Tensor& points, at::Tensor& centroids,
                                             at::Tensor& assignments,
                                             const KMeansOptions& options,
                                             at::Generator& generator) {
  const int64_t n = points.size(0);
  const int64_t d = points.size(1);
  const int64_t k = centroids.size(0);
  const float* point = points.data_ptr<float>();
  float* centroid = centroids.data_ptr<float>();
  int64_t* assignment = assignments.data_ptr<int64_t>();
  std::vector<int64_t> sizes = ClusterSizes(assignments, k);
  int64_t splits = 0;
  int64_t failed_splits = 0;
  for (;;) {
    const int64_t empty_cluster = std::find(sizes.begin(), sizes.end(), 0) - sizes.begin();
    if (empty_cluster == k) return splits;
    if (failed_splits == options.max_empty_cluster_retries()) {
      const int64_t empty = std::count(sizes.begin(), sizes.end(), 0);
      return absl::FailedPreconditionError(absl::StrCat(
          empty, " of ", k, " clusters are still empty after ", failed_splits,
          " splits that left a cluster empty (max_empty_cluster_retries); the points may have "
          "fewer than ", k, " distinct values: use fewer centroids"));
    }
    const int64_t largest = std::max_element(sizes.begin(), sizes.end()) - sizes.begin();
    float* split = centroid + empty_cluster * d;
    float* kept = centroid + largest * d;
    float scale = 0;
    for (int64_t j = 0; j < d; ++j) scale = std::max(scale, std::abs(kept[j]));
    scale = static_cast<float>(options.empty_cluster_eps()) * std::max(scale, 1e-30f);
    const at::Tensor noise = at::randn({d}, generator, points.options());
    const float* e = noise.data_ptr<float>();
    for (int64_t j = 0; j < d; ++j) {
      split[j] = kept[j] + scale * e[j];
      kept[j] -= scale * e[j];
    }
    for (int64_t i = 0; i < n; ++i) {
      if (assignment[i] == largest &&
          SquaredDistance(point + i * d, split, d) < SquaredDistance(point + i * d, kept, d)) {
        assignment[i] = empty_cluster;
        --sizes[largest];
        ++sizes[empty_cluster];
      }
    }
    ++splits;
    // All members on one side (duplicates of one point, or a hyperplane that misses them)
    // leaves as many clusters empty as before.
    if (sizes[empty_cluster] == 0 || sizes[largest] == 0) ++failed_splits;
  }
}

// Sum over points of the squared distance to their centroid, in float64.
double Objective(const at::Tensor& points, const at::Tensor& centroids,
                 const at::Tensor& assignments) {
  const int64_t n = points.size(0);
  const int64_t d = points.size(1);
  const float* point = points.data_ptr<float>();
  const float* centroid = centroids.data_ptr<float>();
  const int64_t* assignment = assignments.data_ptr<int64_t>();
  double objective = 0;
  for (int64_t i = 0; i < n; ++i) {
    objective += SquaredDistance(point + i * d, centroid + assignment[i] * d, d);
  }
  return objective;
}

// Mean of the points of each cluster, accumulated in float64; no cluster may be empty.
at::Tensor ClusterMeans(const at::Tensor& points, const at::Tensor& assignments, int64_t k) {
  const int64_t n = points.size(0);
  const int64_t d = points.size(1);
  const float* point = points.data_ptr<float>();
  const int64_t* assignment = assignments.data_ptr<int64_t>();
  std::vector<double> sums(k * d, 0.0);
  std::vector<int64_t> sizes(k, 0);
  for (int64_t i = 0; i < n; ++i) {
    double* sum = sums.data() + assignment[i] * d;
    for (int64_t j = 0; j < d; ++j) sum[j] += point[i * d + j];
    ++sizes[assignment[i]];
  }
  at::Tensor means = at::empty({k, d}, points.options());
  float* mean = means.data_ptr<float>();
  for (int64_t c = 0; c < k; ++c) {
    TORCH_INTERNAL_ASSERT(sizes[c] > 0, "cluster ", c, " is empty");
    for (int64_t j = 0; j < d; ++j) {
      mean[c * d + j] = static_cast<float>(sums[c * d + j] / static_cast<double>(sizes[c]));
    }
  }
  return means;
}

// Lloyd's k-means on float32 contiguous points whose checks have passed.
absl::StatusOr<KMeansResult> Lloyd(const at::Tensor& points, const KMeansOptions& options) {
  const int64_t k = options.num_centroids();
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(options.seed());
  NearestCentroidAssigner assigner(points, k, options.assignment_buffer_bytes());
  KMeansResult result;
  result.centroids = InitialCentroids(points, options, generator);
  result.assignments = at::empty({points.size(0)}, points.options().dtype(at::kLong));
  for (int64_t iteration = 0; iteration < options.iterations(); ++iteration) {
    assigner.Assign(result.centroids, result.assignments);
    MC_ASSIGN_OR_RETURN(const int64_t splits,
                        ResolveEmptyClusters(points, result.centroids, result.assignments,
                                             options, generator));
    result.empty_cluster_splits += splits;
    result.objective.push_back(Objective(points, result.centroids, result.assignments));
    result.centroids = ClusterMeans(points, result.assignments, k);
  }
  result.final_objective = Objective(points, result.centroids, result.assignments);
  return result;
}

}  // namespace

absl::Status Validate(const KMeansOptions& options) {
  if (options.num_centroids() < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("num_centroids must be >= 1, got ", options.num_centroids()));
  }
  if (options.iterations() < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("iterations must be >= 1, got ", options.iterations()));
  }
  if (!(options.empty_cluster_eps() > 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("empty_cluster_eps must be > 0, got ", options.empty_cluster_eps()));
  }
  if (options.max_empty_cluster_retries() < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_empty_cluster_retries must be >= 0, got ", options.max_empty_cluster_retries()));
  }
  if (!(options.ridge() >= 0)) {
    return absl::InvalidArgumentError(absl::StrCat("ridge must be >= 0, got ", options.ridge()));
  }
  if (options.assignment_buffer_bytes() < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "assignment_buffer_bytes must be >= 1, got ", options.assignment_buffer_bytes()));
  }
  return absl::OkStatus();
}

absl::StatusOr<KMeansResult> KMeans(const at::Tensor& points, const KMeansOptions& options) {
  MC_RETURN_IF_ERROR(CheckPoints(points, "points"));
  MC_RETURN_IF_ERROR(CheckOptions(options, points.size(0)));
  return Lloyd(points.to(at::kFloat).contiguous(), options);
}

absl::StatusOr<at::Tensor> ActivationMetric(const at::Tensor& activations, double ridge) {
  MC_RETURN_IF_ERROR(CheckPoints(activations, "activations"));
  if (!(ridge >= 0)) {
    return absl::InvalidArgumentError(absl::StrCat("ridge must be >= 0, got ", ridge));
  }
  const at::Tensor a = activations.to(at::kDouble);
  const int64_t d = a.size(1);
  at::Tensor gram = a.t().mm(a);
  const double mean_diagonal = gram.trace().item<double>() / static_cast<double>(d);
  // A zero A still gets a metric (ridge * I): its layer's output does not depend on the
  // weight, and any centroids are optimal.
  const double scale = mean_diagonal > 0 ? mean_diagonal : 1.0;
  gram.add_(at::eye(d, a.options()), ridge * scale);
  auto [factor, info] = at::linalg_cholesky_ex(gram);
  if (info.item<int64_t>() != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "A^T A + ridge * I is not positive definite (ridge ", ridge,
        "): the activations have rank below ", d, "; use a ridge > 0 or more activation rows"));
  }
  return factor.to(at::kFloat);
}

absl::StatusOr<KMeansResult> ActivationWeightedKMeans(const at::Tensor& subvectors,
                                                      const at::Tensor& activations,
                                                      const KMeansOptions& options) {
  MC_RETURN_IF_ERROR(CheckPoints(subvectors, "subvectors"));
  MC_RETURN_IF_ERROR(CheckPoints(activations, "activations"));
  if (subvectors.size(1) != activations.size(1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "subvectors have ", subvectors.size(1), " values and activation rows ",
        activations.size(1), "; both must be block_size"));
  }
  MC_RETURN_IF_ERROR(CheckOptions(options, subvectors.size(0)));
  MC_ASSIGN_OR_RETURN(const at::Tensor metric, ActivationMetric(activations, options.ridge()));
  const at::Tensor u = subvectors.to(at::kFloat).contiguous();
  MC_ASSIGN_OR_RETURN(KMeansResult result, Lloyd(u.mm(metric), options));
  // The transformed centroids are metric^T times the means of the subvectors; computing the
  // means of the subvectors directly avoids inverting the metric.
  result.centroids = ClusterMeans(u, result.assignments, options.num_centroids());
  return result;
}

absl::StatusOr<at::Tensor> AssignNearest(const at::Tensor& points, const at::Tensor& centroids,
                                         int64_t assignment_buffer_bytes) {
  MC_RETURN_IF_ERROR(CheckPoints(points, "points"));
  MC_RETURN_IF_ERROR(CheckPoints(centroids, "centroids"));
  if (points.scalar_type() != at::kFloat || centroids.scalar_type() != at::kFloat) {
    return absl::InvalidArgumentError("points and centroids must be float32");
  }
  if (points.size(1) != centroids.size(1)) {
    return absl::InvalidArgumentError(absl::StrCat("points have ", points.size(1),
                                                   " values and centroids ", centroids.size(1)));
  }
  if (assignment_buffer_bytes < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "assignment_buffer_bytes must be >= 1, got ", assignment_buffer_bytes));
  }
  NearestCentroidAssigner assigner(points.contiguous(), centroids.size(0),
                                   assignment_buffer_bytes);
  at::Tensor assignments = at::empty({points.size(0)}, points.options().dtype(at::kLong));
  assigner.Assign(centroids.contiguous(), assignments);
  return assignments;
}

}  // namespace mc::vq
