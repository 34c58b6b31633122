#include "quant/uniform_codec.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "common/status_matchers.h"
#include "quant/bitpack.h"
#include "serialization/tensor_codec.h"

namespace mc::quant {
namespace {

using ::testing::HasSubstr;

serialization::CompressedTensor Stored(const at::Tensor& x, const at::Tensor& bits,
                                       const UniformLayout& layout) {
  serialization::CompressedTensor tensor;
  tensor.set_name("w");
  for (int64_t size : x.sizes()) tensor.add_shape(size);
  *tensor.mutable_uniform() =
      EncodeUniform(UniformQuantize(x, bits, layout, Rounding::kHalfToEven), bits, layout);
  return tensor;
}

// Tests that mixed widths 1..16 (including 15 and 16) and a short last group decode to
// exactly the quantized values, and that the levels take exactly their bits.
TEST(UniformCodecTest, MixedWidthsRoundTripExactly) {
  at::manual_seed(3);
  const at::Tensor x = at::randn({16 * 10 + 5});
  UniformLayout layout;
  layout.bit_group_size = 10;
  const at::Tensor bits = at::arange(1, 18, at::kLong).clamp_max(16);  // 17 groups
  const serialization::CompressedTensor stored = Stored(x, bits, layout);
  absl::StatusOr<at::Tensor> decoded = DecodeUniform(stored);
  ASSERT_THAT(decoded, IsOk());
  const at::Tensor expected =
      UniformUnquantize(UniformQuantize(x, bits, layout, Rounding::kHalfToEven), bits, layout);
  EXPECT_TRUE(at::equal(*decoded, expected));
  int64_t level_bytes = 0;
  for (int w = 1; w <= 16; ++w) {
    const int64_t count = (w == 16 ? 15 : 10);  // widths 16 cover groups 16 (10) and 17 (5)
    level_bytes += static_cast<int64_t>(PackedBytes(count, w));
  }
  EXPECT_EQ(static_cast<int64_t>(stored.uniform().levels().size()), level_bytes);
  EXPECT_EQ(UniformLevelBits(x.numel(), bits, 10), 10 * (1 + 15) * 15 / 2 + 16 * 15);
  // 17 widths 1..16 are stored as offsets from 1 at 4 bits each.
  EXPECT_EQ(stored.uniform().group_bits_offset(), 1u);
  EXPECT_EQ(stored.uniform().group_bits_width(), 4u);
  EXPECT_EQ(stored.uniform().group_bits().size(), PackedBytes(17, 4));
}

// Tests that one width for the whole tensor is stored in `bits` with no width table.
TEST(UniformCodecTest, SingleWidth) {
  const at::Tensor x = at::linspace(-1, 1, 100).view({10, 10});
  const serialization::CompressedTensor stored = Stored(x, at::full({}, 4, at::kLong), {});
  EXPECT_EQ(stored.uniform().bits(), 4u);
  EXPECT_TRUE(stored.uniform().group_bits().empty());
  EXPECT_EQ(stored.uniform().levels().size(), 50u);
  absl::StatusOr<at::Tensor> decoded = DecodeUniform(stored);
  ASSERT_THAT(decoded, IsOk());
  EXPECT_EQ(decoded->sizes(), x.sizes());
  EXPECT_LE((*decoded - x).abs().max().item<float>(), 2.0f / 15 / 2 + 1e-6f);
}

// Tests that inconsistent stored data is refused with the tensor's name.
TEST(UniformCodecTest, RejectsCorruptEncodings) {
  UniformLayout layout;
  layout.bit_group_size = 4;
  const serialization::CompressedTensor good =
      Stored(at::randn({16}), at::tensor({2, 3, 4, 5}, at::kLong), layout);
  serialization::CompressedTensor bad = good;
  bad.mutable_uniform()->mutable_group_bits()->push_back('\0');
  EXPECT_THAT(DecodeUniform(bad), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("tensor w")));
  bad = good;
  bad.mutable_uniform()->set_group_bits_offset(15);  // widths 15..18
  EXPECT_THAT(DecodeUniform(bad), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("outside")));
  bad = good;
  bad.mutable_uniform()->mutable_levels()->pop_back();
  EXPECT_THAT(DecodeUniform(bad), StatusIs(absl::StatusCode::kDataLoss));
  bad = good;
  bad.mutable_uniform()->mutable_levels()->push_back('\0');
  EXPECT_THAT(DecodeUniform(bad), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("left over")));
  bad = good;
  bad.mutable_uniform()->set_scale_min("abc");
  EXPECT_THAT(DecodeUniform(bad), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("scale_min")));
}

serialization::CompressedTensor StoredStep(const at::Tensor& levels, int64_t bits,
                                           int64_t zero_level, float step) {
  serialization::CompressedTensor tensor;
  tensor.set_name("w");
  for (int64_t size : levels.sizes()) tensor.add_shape(size);
  *tensor.mutable_uniform() = EncodeUniformStep(levels, bits, zero_level, step);
  return tensor;
}

// Tests that the step form decodes to (level - zero_level) * step, bit for bit the float32
// product, keeps the shape, and stores the levels and one float32 step.
TEST(UniformCodecTest, StepFormIsExact) {
  at::manual_seed(5);
  const at::Tensor levels = at::randint(0, 16, {3, 7}, at::kInt);
  const float step = 0.0123456f;
  const serialization::CompressedTensor stored = StoredStep(levels, 4, 8, step);
  EXPECT_EQ(stored.uniform().bits(), 4u);
  EXPECT_EQ(stored.uniform().zero_level(), 8u);
  EXPECT_EQ(stored.uniform().step().size(), 4u);
  EXPECT_TRUE(stored.uniform().scale_min().empty());
  EXPECT_EQ(stored.uniform().levels().size(), PackedBytes(21, 4));
  absl::StatusOr<at::Tensor> decoded = DecodeUniform(stored);
  ASSERT_THAT(decoded, IsOk());
  EXPECT_EQ(decoded->sizes(), levels.sizes());
  EXPECT_TRUE(at::equal(*decoded, (levels - 8).to(at::kFloat) * at::scalar_tensor(step)));
  EXPECT_EQ((*decoded)[0][0].item<float>(),
            static_cast<float>(levels[0][0].item<int>() - 8) * step);
  absl::StatusOr<DecodedUniform> parts = DecodeUniformLevels(stored);
  ASSERT_THAT(parts, IsOk());
  EXPECT_TRUE(at::equal(parts->quantized.levels, levels));
  EXPECT_EQ(parts->step.item<float>(), step);
  EXPECT_EQ(parts->zero_level, 8);
}

// Tests that step-form encodings mixing in ranges, or with a bad step or zero level, are
// refused, and that out-of-range arguments to the encoder throw.
TEST(UniformCodecTest, RejectsCorruptStepForms) {
  const serialization::CompressedTensor good = StoredStep(at::arange(8, at::kInt), 3, 4, 0.5f);
  ASSERT_THAT(DecodeUniform(good), IsOk());
  serialization::CompressedTensor bad = good;
  bad.mutable_uniform()->set_scale_min(std::string(4, '\0'));
  EXPECT_THAT(DecodeUniform(bad), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("step form")));
  bad = good;
  bad.mutable_uniform()->set_scale_group_size(2);
  EXPECT_THAT(DecodeUniform(bad), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("step form")));
  bad = good;
  bad.mutable_uniform()->mutable_step()->push_back('\0');
  EXPECT_THAT(DecodeUniform(bad), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("step has 5")));
  bad = good;
  bad.mutable_uniform()->set_zero_level(8);
  EXPECT_THAT(DecodeUniform(bad), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("zero level 8")));
  EXPECT_THAT([] { EncodeUniformStep(at::arange(9, at::kInt), 3, 4, 1.f); },
              ::testing::ThrowsMessage<c10::Error>(HasSubstr("levels must be in [0, 7]")));
  EXPECT_THAT([] { EncodeUniformStep(at::arange(8, at::kInt), 3, 8, 1.f); },
              ::testing::ThrowsMessage<c10::Error>(HasSubstr("zero level 8")));
}

// A (2^20, 2^20) tensor: 2^40 elements, which no level array in these tests holds.
serialization::CompressedTensor Huge() {
  serialization::CompressedTensor tensor;
  tensor.set_name("w");
  tensor.add_shape(int64_t{1} << 20);
  tensor.add_shape(int64_t{1} << 20);
  return tensor;
}

// Tests that a shape promising far more elements than the levels hold, as a corrupt file can,
// is refused before the levels are allocated (2^40 levels would take 2 TiB), in the step form,
// the range form and with mixed widths.
TEST(UniformCodecTest, RejectsShapeBeyondItsLevelsBeforeAllocating) {
  const std::string one = serialization::Float32Bytes(at::ones({1}));
  serialization::CompressedTensor step = Huge();
  step.mutable_uniform()->set_bits(1);
  step.mutable_uniform()->set_step(one);
  EXPECT_THAT(DecodeUniform(step), StatusIs(absl::StatusCode::kDataLoss,
                                            HasSubstr("tensor w: levels: 1099511627776 values")));

  serialization::CompressedTensor range = Huge();
  range.mutable_uniform()->set_bits(1);
  range.mutable_uniform()->set_scale_min(serialization::Float32Bytes(at::zeros({1})));
  range.mutable_uniform()->set_scale_max(one);
  range.mutable_uniform()->set_levels(std::string(3, '\0'));
  EXPECT_THAT(DecodeUniform(range), StatusIs(absl::StatusCode::kDataLoss,
                                             HasSubstr("do not fit in 3 bytes")));

  // Two groups of 2^39 elements at widths 1 and 2 (offsets 0 and 1 from 1, one bit each).
  serialization::CompressedTensor mixed = range;
  mixed.mutable_uniform()->set_group_size(int64_t{1} << 39);
  mixed.mutable_uniform()->set_group_bits(std::string(1, '\x02'));
  mixed.mutable_uniform()->set_group_bits_width(1);
  mixed.mutable_uniform()->set_group_bits_offset(1);
  EXPECT_THAT(DecodeUniform(mixed),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("levels are truncated (3 bytes, their widths take 206158430208)")));
}

}  // namespace
}  // namespace mc::quant
