// Huffman-coded model sizes against a model worked by hand.
#include "distill/coded_size.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/status_matchers.h"
#include "quant/bucketed_uniform.h"
#include "quant/learned_points.h"
#include "quant/uniform_codec.h"
#include "serialization/tensor_codec.h"

namespace mc::distill {
namespace {

serialization::CompressedTensor Uniform(const std::string& name, const at::Tensor& values,
                                        int64_t bits, int64_t bucket_size) {
  serialization::CompressedTensor tensor;
  tensor.set_name(name);
  for (const int64_t d : values.sizes()) tensor.add_shape(d);
  *tensor.mutable_uniform() = quant::EncodeUniform(
      quant::BucketedUniformQuantize(values, bits, bucket_size, quant::Rounding::kHalfAwayFromZero),
      at::full({}, bits, at::kLong), {0, bucket_size});
  return tensor;
}

// Tests a weight of 8 values at 2 bits in buckets of 4 (levels 0 1 2 3 | 0 0 0 3: counts 4, 1,
// 1, 2, Huffman lengths 1, 3, 3, 2: 14 bits, 1.75 per weight), a float bias of 2 values and a
// buffer that is not counted: 2 + 16 + 8 + 4 = 30 bytes exactly; the reference formula gives
// 8 + 1.75 + 16 = 25.75.
TEST(CodedSizeTest, HandWorkedModel) {
  serialization::CompressedModel state;
  *state.add_tensors() = Uniform("fc.weight", at::tensor({0.f, 1.f, 2.f, 3.f, 5.f, 5.f, 5.f, 8.f}).view({2, 4}), 2, 4);
  *state.add_tensors() = serialization::EncodePassthrough("fc.bias", at::ones({2}), serialization::FLOAT32);
  *state.add_tensors() = serialization::EncodePassthrough("bn.running_mean", at::ones({100}), serialization::FLOAT32);
  absl::StatusOr<CodedSize> size = HuffmanCodedSize(state, {"fc.weight", "fc.bias"});
  ASSERT_THAT(size.status(), IsOk());
  EXPECT_DOUBLE_EQ(size->mean_bits, 1.75);
  EXPECT_EQ(size->quantized_params, 8);
  EXPECT_EQ(size->unquantized_params, 2);
  EXPECT_EQ(size->bytes, 30);
  EXPECT_DOUBLE_EQ(size->reference_bytes, 25.75);
  EXPECT_DOUBLE_EQ(size->tensor_bytes["fc.weight"], 16 + 14 / 8.0);
  EXPECT_DOUBLE_EQ(size->tensor_bytes["fc.bias"], 8);
}

// Tests that learned-points indices are pooled with uniform levels into one code, and that
// tensors with different bucket sizes (per-channel buckets) count their own scales.
TEST(CodedSizeTest, PoolsLearnedPointsAndCountsBucketsPerTensor) {
  serialization::CompressedModel state;
  *state.add_tensors() = Uniform("a", at::tensor({0.f, 1.f, 2.f, 3.f}), 2, 4);  // levels 0 1 2 3
  serialization::CompressedTensor b;
  b.set_name("b");
  b.add_shape(4);
  const at::Tensor values = at::tensor({0.f, 0.f, 0.f, 1.f});
  *b.mutable_learned_points() = quant::EncodeLearnedPoints(
      at::tensor(std::vector<int64_t>{0, 0, 0, 1}), at::tensor({0.f, 1.f}), quant::LinearBucketScaling(values, 4));
  *state.add_tensors() = b;
  // Pooled counts 4, 2, 1, 1: lengths 1, 2, 3, 3: 14 bits over 8 weights.
  absl::StatusOr<CodedSize> size = HuffmanCodedSize(state, {"a", "b"});
  ASSERT_THAT(size.status(), IsOk());
  EXPECT_DOUBLE_EQ(size->mean_bits, 1.75);
  // Reference formula: 8 weights at 1.75 bits, 2 buckets of 4 of 8 bytes each.
  EXPECT_DOUBLE_EQ(size->reference_bytes, 8 * 1.75 / 8 + 2 * 8);
  *state.add_tensors() = Uniform("c", at::ones({16}), 2, 8);  // 2 buckets of 8
  size = HuffmanCodedSize(state, {"a", "b", "c"});
  ASSERT_THAT(size.status(), IsOk());
  EXPECT_DOUBLE_EQ(size->reference_bytes, 24 * size->mean_bits / 8 + 4 * 8);
}

}  // namespace
}  // namespace mc::distill
