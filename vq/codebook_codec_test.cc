#include "vq/codebook_codec.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/status_matchers.h"
#include "vq/layout.h"

namespace mc::vq {
namespace {

using ::testing::HasSubstr;

struct Case {
  std::string name;
  std::vector<int64_t> shape;
  int64_t block_size;
  int64_t k;
};

class CodebookRoundTripTest : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override { at::manual_seed(0); }
};

// Tests that a layer decodes to exactly its float16-rounded centroids indexed by its
// assignments, for 3x3 and 1x1 convolutions and a linear layer, through the codec and
// through the shared model decoder.
TEST_P(CodebookRoundTripTest, DecodesExactly) {
  const Case& c = GetParam();
  MC_ASSERT_OK_AND_ASSIGN(const int64_t n, NumSubvectors(c.shape, c.block_size));
  const at::Tensor centroids = at::randn({c.k, c.block_size});
  const at::Tensor assignments = at::randint(c.k, {n}, at::kLong);
  MC_ASSERT_OK_AND_ASSIGN(const serialization::CompressedTensor stored,
                          EncodeCodebook(c.name, c.shape, centroids, assignments));
  EXPECT_EQ(stored.codebook().layout(), c.shape.size() == 4 ? "conv" : "linear");
  EXPECT_EQ(stored.codebook().assignment_bits(), AssignmentBits(c.k));
  EXPECT_EQ(stored.codebook().centroids().size(), static_cast<size_t>(c.k * c.block_size * 2));
  EXPECT_EQ(stored.codebook().assignments().size(),
            static_cast<size_t>((n * AssignmentBits(c.k) + 7) / 8));

  MC_ASSERT_OK_AND_ASSIGN(const DecodedCodebook parts, DecodeCodebookParts(stored));
  EXPECT_TRUE(parts.centroids.equal(RoundCentroids(centroids)));
  EXPECT_TRUE(parts.assignments.equal(assignments));
  EXPECT_EQ(parts.shape, c.shape);
  EXPECT_GT((parts.centroids - centroids).abs().max().item<float>(), 0);  // really float16

  MC_ASSERT_OK_AND_ASSIGN(const at::Tensor expected,
                          ReconstructWeight(RoundCentroids(centroids), assignments, c.shape));
  MC_ASSERT_OK_AND_ASSIGN(const at::Tensor weight, DecodeCodebook(stored));
  EXPECT_TRUE(weight.equal(expected));

}

INSTANTIATE_TEST_SUITE_P(
    Layers, CodebookRoundTripTest,
    ::testing::Values(Case{"conv3x3.weight", {16, 8, 3, 3}, 9, 32},
                      Case{"pointwise.weight", {32, 16, 1, 1}, 4, 256},
                      Case{"fc.weight", {10, 64}, 4, 100},
                      Case{"tiny.weight", {4, 4}, 2, 1}),
    [](const ::testing::TestParamInfo<Case>& info) {
      return std::to_string(info.index);
    });

serialization::CompressedTensor Valid() {
  at::manual_seed(1);
  return *EncodeCodebook("layer.weight", {8, 4, 3, 3}, at::randn({5, 9}),
                         at::randint(5, {32}, at::kLong));
}

// Tests that a shape promising far more subvectors than the assignments hold, as a corrupt
// file can, is refused before the assignments are allocated (2^40 would take 2 TiB).
TEST(CodebookCodecTest, RejectsShapeBeyondItsAssignmentsBeforeAllocating) {
  serialization::CompressedTensor bad;
  bad.set_name("fc.weight");
  bad.add_shape(int64_t{1} << 20);
  bad.add_shape(int64_t{1} << 20);
  serialization::CodebookEncoding& encoding = *bad.mutable_codebook();
  encoding.set_layout("linear");
  encoding.set_block_size(1);
  encoding.set_num_centroids(1);
  encoding.set_centroid_dtype(serialization::FLOAT32);
  encoding.set_centroids(std::string(4, '\0'));
  encoding.set_assignment_bits(1);
  EXPECT_THAT(DecodeCodebook(bad).status(),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("tensor fc.weight: assignments: 1099511627776 values")));
}

// Tests that corrupt encodings are refused with kDataLoss and a message naming the problem.
TEST(CodebookCodecTest, RejectsCorruptEncodings) {
  using absl::StatusCode;
  {
    serialization::CompressedTensor bad = Valid();
    bad.mutable_codebook()->mutable_centroids()->pop_back();
    EXPECT_THAT(DecodeCodebook(bad).status(),
                StatusIs(StatusCode::kDataLoss, HasSubstr("bytes stored")));
  }
  {
    serialization::CompressedTensor bad = Valid();
    bad.mutable_codebook()->mutable_assignments()->push_back('\0');
    EXPECT_THAT(DecodeCodebook(bad).status(),
                StatusIs(StatusCode::kDataLoss, HasSubstr("assignments")));
  }
  {
    // 5 centroids take 3 bits: an all-ones byte holds indices 7 >= 5.
    serialization::CompressedTensor bad = Valid();
    (*bad.mutable_codebook()->mutable_assignments())[0] = '\xff';
    EXPECT_THAT(DecodeCodebook(bad).status(),
                StatusIs(StatusCode::kDataLoss, HasSubstr("past the 5 centroids")));
  }
  {
    serialization::CompressedTensor bad = Valid();
    bad.set_shape(1, 5);  // 5 * 9 values per channel: block size 9 still divides, 40 subvectors
    EXPECT_THAT(DecodeCodebook(bad).status(), StatusIs(StatusCode::kDataLoss, HasSubstr("assignments")));
  }
  {
    serialization::CompressedTensor bad = Valid();
    bad.mutable_codebook()->set_block_size(7);
    EXPECT_THAT(DecodeCodebook(bad).status(),
                StatusIs(StatusCode::kDataLoss, HasSubstr("does not divide")));
  }
  {
    serialization::CompressedTensor bad = Valid();
    bad.mutable_codebook()->set_layout("linear");
    EXPECT_THAT(DecodeCodebook(bad).status(), StatusIs(StatusCode::kDataLoss, HasSubstr("layout")));
  }
  {
    serialization::CompressedTensor bad = Valid();
    bad.mutable_codebook()->set_num_centroids(0);
    EXPECT_THAT(DecodeCodebook(bad).status(),
                StatusIs(StatusCode::kDataLoss, HasSubstr("num_centroids")));
  }
  {
    serialization::CompressedTensor bad = Valid();
    bad.mutable_codebook()->set_assignment_bits(8);
    EXPECT_THAT(DecodeCodebook(bad).status(),
                StatusIs(StatusCode::kDataLoss, HasSubstr("3-bit assignments")));
  }
  {
    serialization::CompressedTensor bad = Valid();
    bad.mutable_codebook()->set_centroid_dtype(serialization::INT64);
    EXPECT_THAT(DecodeCodebook(bad).status(),
                StatusIs(StatusCode::kDataLoss, HasSubstr("centroid dtype")));
  }
  serialization::CompressedTensor not_codebook = Valid();
  not_codebook.clear_codebook();
  EXPECT_THAT(DecodeCodebook(not_codebook).status(), StatusIs(StatusCode::kDataLoss));
}

// Tests that the encoder refuses inputs it cannot store faithfully.
TEST(CodebookCodecTest, EncoderRejectsInconsistentInputs) {
  const at::Tensor centroids = at::randn({4, 9});
  EXPECT_THAT(EncodeCodebook("w", {8, 4, 3, 3}, centroids, at::zeros({31}, at::kLong)).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("expected 32")));
  at::Tensor out_of_range = at::zeros({32}, at::kLong);
  out_of_range[3] = 4;
  EXPECT_THAT(EncodeCodebook("w", {8, 4, 3, 3}, centroids, out_of_range).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("outside [0, 4)")));
  EXPECT_THAT(EncodeCodebook("w", {8, 5, 2}, centroids, at::zeros({32}, at::kLong)).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace mc::vq
