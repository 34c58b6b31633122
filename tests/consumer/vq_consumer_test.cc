// Clusters weight subvectors with @model_compression//vq:kmeans from another workspace.
#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/status_matchers.h"
#include "vq/kmeans.h"

namespace {

using ::mc::StatusIs;

// Tests that activation-weighted k-means returns a codebook, one assignment per subvector and
// a non-increasing objective.
TEST(VqConsumerTest, ActivationWeightedKMeans) {
  const at::Tensor subvectors = at::randn({512, 9});
  const at::Tensor activations = at::randn({64, 9});
  MC_ASSERT_OK_AND_ASSIGN(const mc::vq::KMeansResult result,
                          mc::vq::ActivationWeightedKMeans(
                              subvectors, activations, mc::vq::KMeansOptions(16).iterations(8)));
  EXPECT_EQ(result.centroids.sizes(), (at::IntArrayRef{16, 9}));
  EXPECT_EQ(result.assignments.sizes(), (at::IntArrayRef{512}));
  ASSERT_EQ(result.objective.size(), 8u);
  EXPECT_LT(result.objective.back(), result.objective.front());
  EXPECT_THAT(mc::vq::KMeans(subvectors, mc::vq::KMeansOptions(513)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::HasSubstr("num_centroids must be at most the number of points")));
}

}  // namespace
