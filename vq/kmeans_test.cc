#include "vq/kmeans.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

#include "common/status_matchers.h"

namespace mc::vq {
namespace {

using ::testing::HasSubstr;

// Lloyd's objective is non-increasing in exact arithmetic; the float32 centroids it is
// evaluated at are rounded means, which can move it by this relative amount.
constexpr double kObjectiveRoundingTolerance = 1e-6;

// n points around `clusters` Gaussian centres in d dimensions.
at::Tensor GaussianMixture(int64_t n, int64_t d, int64_t clusters, uint64_t seed) {
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  const at::Tensor centres = at::randn({clusters, d}, generator) * 3;
  const at::Tensor which = at::randint(clusters, {n}, generator);
  return centres.index_select(0, which) + at::randn({n, d}, generator);
}

// ||A (u - c)||^2 for every pair of rows of u and c, computed directly in float64.
at::Tensor WeightedDistancesRef(const at::Tensor& u, const at::Tensor& c, const at::Tensor& a) {
  const at::Tensor diff = u.to(at::kDouble).unsqueeze(1) - c.to(at::kDouble).unsqueeze(0);
  return diff.matmul(a.to(at::kDouble).t()).pow(2).sum(-1);  // (n, k)
}

// Seeds the global generator that at::randn and friends draw the test data from.
class KMeansTest : public ::testing::Test {
 protected:
  void SetUp() override { at::manual_seed(0); }
};

void ExpectNonIncreasing(const KMeansResult& result) {
  ASSERT_FALSE(result.objective.empty());
  for (size_t i = 1; i < result.objective.size(); ++i) {
    EXPECT_LE(result.objective[i], result.objective[i - 1] * (1 + kObjectiveRoundingTolerance))
        << "iteration " << i;
  }
  EXPECT_LE(result.final_objective, result.objective.back() * (1 + kObjectiveRoundingTolerance));
}

// Tests that the objective never increases over iterations, for both initialisations, and
// that k-means makes real progress from the initial centroids.
TEST_F(KMeansTest, ObjectiveNeverIncreases) {
  const at::Tensor points = GaussianMixture(3000, 9, 40, 1);
  for (KMeansInit init : {KMeansInit::kRandom, KMeansInit::kKMeansPlusPlus}) {
    MC_ASSERT_OK_AND_ASSIGN(KMeansResult result,
                            KMeans(points, KMeansOptions(32).iterations(25).init(init).seed(3)));
    ASSERT_EQ(result.objective.size(), 25u);
    ExpectNonIncreasing(result);
    EXPECT_LT(result.objective.back(), 0.9 * result.objective.front());
    EXPECT_EQ(result.centroids.sizes(), (at::IntArrayRef{32, 9}));
    EXPECT_EQ(result.assignments.sizes(), (at::IntArrayRef{3000}));
    // final_objective is the objective of what is returned.
    const at::Tensor reconstructed = result.centroids.index_select(0, result.assignments);
    EXPECT_NEAR(result.final_objective, (points - reconstructed).pow(2).sum().item<double>(),
                1e-4 * result.final_objective);
  }
}

// Tests the same property for the activation-weighted objective, recomputed directly as
// sum ||A (u - c)||^2 at the returned centroids and assignments (ridge 0: no extra term).
TEST_F(KMeansTest, WeightedObjectiveNeverIncreases) {
  const at::Tensor subvectors = GaussianMixture(2000, 9, 30, 2);
  const at::Tensor activations = at::randn({100, 9}) * at::linspace(0.1, 3, 9);
  MC_ASSERT_OK_AND_ASSIGN(
      KMeansResult result,
      ActivationWeightedKMeans(subvectors, activations,
                               KMeansOptions(16).iterations(20).ridge(0).seed(5)));
  ExpectNonIncreasing(result);
  EXPECT_LT(result.objective.back(), 0.9 * result.objective.front());
  const at::Tensor residual =
      subvectors - result.centroids.index_select(0, result.assignments);
  const double direct = residual.to(at::kDouble).mm(activations.to(at::kDouble).t())
                            .pow(2).sum().item<double>();
  EXPECT_NEAR(result.final_objective, direct, 1e-4 * direct);
}

// Tests that the assignment through the Cholesky metric equals the brute-force weighted
// assignment argmin_k ||A (u - c_k)||^2 computed without it.
TEST_F(KMeansTest, WeightedAssignmentMatchesBruteForce) {
  const at::Tensor u = at::randn({500, 9});
  const at::Tensor c = at::randn({24, 9});
  const at::Tensor a = at::randn({40, 9}) * at::linspace(0.2, 2, 9);
  MC_ASSERT_OK_AND_ASSIGN(at::Tensor metric, ActivationMetric(a, /*ridge=*/0));
  MC_ASSERT_OK_AND_ASSIGN(at::Tensor assignments, AssignNearest(u.mm(metric), c.mm(metric)));
  const at::Tensor distances = WeightedDistancesRef(u, c, a);
  const at::Tensor expected = distances.argmin(1);
  EXPECT_TRUE(at::equal(assignments, expected))
      << (assignments != expected).sum().item<int64_t>() << " of 500 differ";
  // Plain Euclidean distances would choose differently: the metric matters here.
  MC_ASSERT_OK_AND_ASSIGN(at::Tensor euclidean, AssignNearest(u, c));
  EXPECT_FALSE(at::equal(euclidean, expected));
}

// Tests that L L^T = A^T A + ridge * mean(diag(A^T A)) * I.
TEST_F(KMeansTest, ActivationMetricFactorisesTheGram) {
  const at::Tensor a = at::randn({30, 4}, at::kDouble);
  MC_ASSERT_OK_AND_ASSIGN(at::Tensor metric, ActivationMetric(a, 0.5));
  const at::Tensor gram = a.t().mm(a);
  const at::Tensor expected = gram + at::eye(4, at::kDouble) * (0.5 * gram.trace() / 4);
  EXPECT_TRUE(at::allclose(metric.to(at::kDouble).mm(metric.to(at::kDouble).t()), expected,
                           1e-5, 1e-5));
  EXPECT_TRUE(at::equal(metric, metric.tril()));
}

// Tests that chunking the distance computation (down to one point per chunk) does not
// change the assignment, which is the Euclidean nearest centroid.
TEST_F(KMeansTest, AssignNearestIsChunkIndependent) {
  const at::Tensor points = at::randn({333, 5});
  const at::Tensor centroids = at::randn({17, 5});
  const at::Tensor expected = at::cdist(points, centroids).argmin(1);
  for (int64_t buffer_bytes : {1, 17 * 4 * 10, 1 << 20}) {
    MC_ASSERT_OK_AND_ASSIGN(at::Tensor assignments,
                            AssignNearest(points, centroids, buffer_bytes));
    EXPECT_TRUE(at::equal(assignments, expected)) << buffer_bytes;
  }
}

// Tests that a point equally near several centroids goes to the lowest index, in the
// four-lane argmin (k >= 8) as in the scalar one.
TEST_F(KMeansTest, AssignNearestTiesGoToTheLowestIndex) {
  for (int64_t k : {6, 13, 32}) {
    at::Tensor centroids = at::randn({k, 3}) + 10;
    const at::Tensor nearest = at::zeros({1, 3});
    for (int64_t copy : {k - 1, k / 2, int64_t{2}}) centroids[copy] = nearest[0];
    MC_ASSERT_OK_AND_ASSIGN(at::Tensor assignments, AssignNearest(nearest, centroids));
    EXPECT_EQ(assignments.item<int64_t>(), 2) << "k = " << k;
  }
}

// Tests that with A = I and no ridge, weighted k-means is plain k-means.
TEST_F(KMeansTest, IdentityActivationsGivePlainKMeans) {
  const at::Tensor points = GaussianMixture(800, 4, 10, 4);
  const KMeansOptions options = KMeansOptions(8).iterations(10).ridge(0).seed(9);
  MC_ASSERT_OK_AND_ASSIGN(KMeansResult plain, KMeans(points, options));
  MC_ASSERT_OK_AND_ASSIGN(KMeansResult weighted,
                          ActivationWeightedKMeans(points, at::eye(4), options));
  EXPECT_TRUE(at::equal(plain.assignments, weighted.assignments));
  EXPECT_TRUE(at::allclose(plain.centroids, weighted.centroids, 1e-5, 1e-6));
  EXPECT_EQ(plain.objective, weighted.objective);
}

// Tests that equal seeds give equal results and different seeds different ones.
TEST_F(KMeansTest, SeededAndReproducible) {
  const at::Tensor points = GaussianMixture(1000, 9, 20, 6);
  for (KMeansInit init : {KMeansInit::kRandom, KMeansInit::kKMeansPlusPlus}) {
    const KMeansOptions options = KMeansOptions(16).iterations(5).init(init).seed(11);
    MC_ASSERT_OK_AND_ASSIGN(KMeansResult first, KMeans(points, options));
    MC_ASSERT_OK_AND_ASSIGN(KMeansResult second, KMeans(points, options));
    EXPECT_TRUE(at::equal(first.centroids, second.centroids));
    EXPECT_TRUE(at::equal(first.assignments, second.assignments));
    EXPECT_EQ(first.objective, second.objective);
    MC_ASSERT_OK_AND_ASSIGN(KMeansResult other, KMeans(points, KMeansOptions(options).seed(12)));
    EXPECT_FALSE(at::equal(first.centroids, other.centroids));
  }
}

// Tests that with k close to n the duplicates of the random initialisation (drawn with
// replacement) leave empty clusters that are split until every cluster has a point.
TEST_F(KMeansTest, EmptyClustersAreSplitWhenKIsCloseToN) {
  const at::Tensor points = at::randn({40, 3});
  MC_ASSERT_OK_AND_ASSIGN(KMeansResult result,
                          KMeans(points, KMeansOptions(38).iterations(5).seed(1)));
  EXPECT_GT(result.empty_cluster_splits, 0);
  EXPECT_EQ(at::bincount(result.assignments, {}, 38).min().item<int64_t>(), 1);
  ExpectNonIncreasing(result);
  // k = n: every point is its own cluster in the end.
  MC_ASSERT_OK_AND_ASSIGN(KMeansResult all, KMeans(points, KMeansOptions(40).iterations(3)));
  EXPECT_EQ(all.final_objective, 0);
}

// Tests that duplicated points are clustered exactly when there are as many distinct values
// as centroids, whatever duplicates the initialisation picks (splitting a cluster of
// duplicates moves all of them, which must not leave the split cluster empty).
TEST_F(KMeansTest, DuplicatedPointsResolve) {
  for (int draw = 0; draw < 20; ++draw) {
    const at::Tensor points = at::randn({6, 9}).repeat({20, 1});
    for (uint64_t seed = 0; seed < 10; ++seed) {
      MC_ASSERT_OK_AND_ASSIGN(KMeansResult result,
                              KMeans(points, KMeansOptions(6).iterations(6).seed(seed)));
      EXPECT_EQ(result.final_objective, 0) << "draw " << draw << ", seed " << seed;
      EXPECT_EQ(at::bincount(result.assignments, {}, 6).min().item<int64_t>(), 20);
    }
  }
}

// Tests that fewer distinct values than centroids end in a clear error after the bounded
// number of failed splits, instead of looping for ever.
TEST_F(KMeansTest, UnresolvableEmptyClustersFail) {
  const at::Tensor points = at::randn({3, 4}).repeat({10, 1});
  EXPECT_THAT(KMeans(points, KMeansOptions(5).max_empty_cluster_retries(7)),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("still empty after 7 splits that left a cluster empty")));
  EXPECT_THAT(KMeans(points, KMeansOptions(5).max_empty_cluster_retries(0)),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("fewer centroids")));
}

// Tests that a rank-deficient A^T A is an error without a ridge and works with one.
TEST_F(KMeansTest, RankDeficientActivations) {
  const at::Tensor subvectors = at::randn({200, 9});
  const at::Tensor activations = at::randn({5, 9});  // rank 5 < 9
  EXPECT_THAT(
      ActivationWeightedKMeans(subvectors, activations, KMeansOptions(8).ridge(0)),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not positive definite")));
  MC_ASSERT_OK_AND_ASSIGN(KMeansResult result,
                          ActivationWeightedKMeans(subvectors, activations,
                                                   KMeansOptions(8).iterations(10)));
  ExpectNonIncreasing(result);
  // All-zero activations: the default ridge still gives a metric (plain k-means).
  EXPECT_THAT(ActivationWeightedKMeans(subvectors, at::zeros({5, 9}), KMeansOptions(8)), IsOk());
}

// Tests that bad inputs and options are refused with messages naming them.
TEST_F(KMeansTest, RejectsBadInputs) {
  const at::Tensor points = at::randn({10, 3});
  EXPECT_THAT(KMeans(points, KMeansOptions(11)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("num_centroids")));
  EXPECT_THAT(KMeans(points, KMeansOptions(0)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("num_centroids")));
  EXPECT_THAT(KMeans(points, KMeansOptions(2).iterations(0)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("iterations")));
  EXPECT_THAT(KMeans(points, KMeansOptions(2).empty_cluster_eps(0)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("empty_cluster_eps")));
  EXPECT_THAT(Validate(KMeansOptions(2).max_empty_cluster_retries(-1)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_empty_cluster_retries")));
  EXPECT_THAT(Validate(KMeansOptions(300)), IsOk());
  EXPECT_THAT(KMeans(points, KMeansOptions(2).assignment_buffer_bytes(0)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("assignment_buffer_bytes")));
  at::Tensor with_nan = points.clone();
  with_nan[3][1] = NAN;
  EXPECT_THAT(KMeans(with_nan, KMeansOptions(2)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("finite")));
  EXPECT_THAT(KMeans(at::randn({10, 3, 1}), KMeansOptions(2)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("2-D")));
  EXPECT_THAT(KMeans(at::ones({10, 3}, at::kInt), KMeansOptions(2)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("floating-point")));
  EXPECT_THAT(ActivationWeightedKMeans(points, at::randn({20, 4}), KMeansOptions(2)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("block_size")));
  EXPECT_THAT(ActivationWeightedKMeans(points, at::randn({20, 3}), KMeansOptions(2).ridge(-1)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("ridge")));
  EXPECT_THAT(AssignNearest(points, at::randn({4, 2})),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("centroids 2")));
  EXPECT_THAT(AssignNearest(points.to(at::kDouble), at::randn({4, 3})),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("float32")));
}

}  // namespace
}  // namespace mc::vq
