#include "serialization/tensor_codec.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/status_matchers.h"

namespace mc::serialization {
namespace {

using ::testing::HasSubstr;

// Tests that float32 and int64 tensors, including non-contiguous views, round-trip exactly.
TEST(TensorCodecTest, ExactRoundTrips) {
  const at::Tensor weight = at::randn({3, 4, 5}).transpose(0, 2);  // non-contiguous
  const CompressedTensor stored = EncodePassthrough("w", weight, FLOAT32);
  EXPECT_THAT(stored.shape(), ::testing::ElementsAre(5, 4, 3));
  EXPECT_EQ(stored.passthrough().data().size(), 60u * 4);
  MC_ASSERT_OK_AND_ASSIGN(const at::Tensor decoded, DecodePassthrough(stored));
  EXPECT_TRUE(at::equal(decoded, weight));

  const at::Tensor counter = at::tensor({int64_t{1} << 40, int64_t{-3}}, at::kLong);
  MC_ASSERT_OK_AND_ASSIGN(const at::Tensor counts,
                          DecodePassthrough(EncodePassthrough("n", counter, INT64)));
  EXPECT_EQ(counts.scalar_type(), at::kLong);
  EXPECT_TRUE(at::equal(counts, counter));
}

// Tests that float16 storage halves the bytes and decodes to the rounded float32 values.
TEST(TensorCodecTest, Float16StoresRoundedValues) {
  const at::Tensor values = at::tensor({0.1f, -2.5f, 1000.3f});
  const CompressedTensor stored = EncodePassthrough("b", values, FLOAT16);
  EXPECT_EQ(stored.passthrough().data().size(), 6u);
  MC_ASSERT_OK_AND_ASSIGN(const at::Tensor decoded, DecodePassthrough(stored));
  EXPECT_EQ(decoded.scalar_type(), at::kFloat);
  EXPECT_TRUE(at::equal(decoded, values.to(at::kHalf).to(at::kFloat)));
}

// Tests that empty tensors of every stored dtype, and an empty list of float32 values, decode
// to empty tensors of their shape (their data pointer is null: nothing may be copied into it;
// bazel test --config=asan checks this).
TEST(TensorCodecTest, EmptyTensorsRoundTrip) {
  for (const DataType dtype : {FLOAT32, FLOAT16, INT64}) {
    const at::Tensor empty = at::empty({3, 0}, dtype == INT64 ? at::kLong : at::kFloat);
    const CompressedTensor stored = EncodePassthrough("e", empty, dtype);
    EXPECT_TRUE(stored.passthrough().data().empty());
    MC_ASSERT_OK_AND_ASSIGN(const at::Tensor decoded, DecodePassthrough(stored));
    EXPECT_EQ(decoded.sizes(), empty.sizes());
  }
  MC_ASSERT_OK_AND_ASSIGN(const at::Tensor none, Float32sFromBytes("", 0, "scale", "e"));
  EXPECT_EQ(none.numel(), 0);
}

// Tests that an empty shape whose other dimensions multiply past kMaxStoredExtent is refused
// (LibTorch's contiguous strides for (0, 2^31, 2^31, 2) overflow, and converting float16 to
// float32 threw c10::Error through the Status API), and that one reaching exactly the limit
// is read.
TEST(TensorCodecTest, RejectsEmptyShapesWithOverflowingStrides) {
  for (const DataType dtype : {FLOAT32, FLOAT16}) {
    CompressedTensor stored = EncodePassthrough("e", at::empty({0}), dtype);
    stored.add_shape(int64_t{1} << 31);
    stored.add_shape(int64_t{1} << 31);
    stored.add_shape(2);
    EXPECT_THAT(DecodePassthrough(stored),
                StatusIs(absl::StatusCode::kDataLoss,
                         HasSubstr("tensor e: invalid dimension 2147483648 in shape (0, "
                                   "2147483648, 2147483648, 2)")));
    stored.set_shape(1, int64_t{1} << 20);
    stored.set_shape(2, int64_t{1} << 20);
    stored.set_shape(3, 1);
    MC_ASSERT_OK_AND_ASSIGN(const at::Tensor decoded, DecodePassthrough(stored));
    EXPECT_EQ(decoded.sizes(), at::IntArrayRef({0, int64_t{1} << 20, int64_t{1} << 20, 1}));
  }
}

// Tests that a byte count that disagrees with the shape is rejected, naming the tensor.
TEST(TensorCodecTest, RejectsSizeMismatch) {
  CompressedTensor stored = EncodePassthrough("layer.weight", at::ones({2, 2}), FLOAT32);
  stored.add_shape(2);
  EXPECT_THAT(DecodePassthrough(stored),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("tensor layer.weight: 16 bytes stored, its shape needs 32")));
  stored.set_shape(2, -1);
  EXPECT_THAT(DecodePassthrough(stored),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("tensor layer.weight: invalid dimension -1 in shape (2, 2, -1)")));
  CompressedTensor other;
  other.set_name("codebook");
  other.mutable_codebook();
  EXPECT_THAT(DecodePassthrough(other),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("tensor codebook is not stored as passthrough")));
}

}  // namespace
}  // namespace mc::serialization
