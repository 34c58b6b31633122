// Clusters weight subvectors with @model_compression//vq:kmeans from another workspace.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "vq/kmeans.h"

namespace {

// Tests that activation-weighted k-means returns a codebook, one assignment per subvector and
// a non-increasing objective.
TEST(VqConsumerTest, ActivationWeightedKMeans) {
  const at::Tensor subvectors = at::randn({512, 9});
  const at::Tensor activations = at::randn({64, 9});
  absl::StatusOr<mc::vq::KMeansResult> result = mc::vq::ActivationWeightedKMeans(
      subvectors, activations, mc::vq::KMeansOptions(16).iterations(8));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->centroids.sizes(), (at::IntArrayRef{16, 9}));
  EXPECT_EQ(result->assignments.sizes(), (at::IntArrayRef{512}));
  ASSERT_EQ(result->objective.size(), 8u);
  EXPECT_LT(result->objective.back(), result->objective.front());
  EXPECT_EQ(mc::vq::KMeans(subvectors, mc::vq::KMeansOptions(513)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
