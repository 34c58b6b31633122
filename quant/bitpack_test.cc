#include "quant/bitpack.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "common/status_matchers.h"

namespace mc::quant {
namespace {

using ::testing::HasSubstr;

std::vector<uint16_t> RandomValues(size_t count, int bits, uint32_t seed) {
  std::mt19937 random(seed);
  std::uniform_int_distribution<uint32_t> value(0, (1u << bits) - 1);
  std::vector<uint16_t> values(count);
  for (uint16_t& v : values) v = static_cast<uint16_t>(value(random));
  return values;
}

class BitpackTest : public ::testing::TestWithParam<int> {};

// Tests that the fast packer writes exactly the reference bit stream and unpacks it back,
// for lengths around every block boundary.
TEST_P(BitpackTest, MatchesReferenceAndRoundTrips) {
  const int bits = GetParam();
  for (size_t count : {0, 1, 2, 7, 8, 9, 15, 16, 17, 63, 64, 65, 1000, 4099}) {
    const std::vector<uint16_t> values = RandomValues(count, bits, 17 * count + bits);
    std::vector<uint8_t> packed(PackedBytes(count, bits));
    std::vector<uint8_t> expected(packed.size());
    ASSERT_THAT(PackBits(values, bits, absl::MakeSpan(packed)), IsOk());
    PackBitsRef(values, bits, absl::MakeSpan(expected));
    ASSERT_EQ(packed, expected) << count << " values of " << bits << " bits";

    std::vector<uint16_t> unpacked(count, 0xffff);
    ASSERT_THAT(UnpackBits(packed, bits, absl::MakeSpan(unpacked)), IsOk());
    EXPECT_EQ(unpacked, values) << count << " values of " << bits << " bits";
    std::vector<uint16_t> reference(count);
    UnpackBitsRef(packed, bits, absl::MakeSpan(reference));
    EXPECT_EQ(reference, values);
  }
}

// Tests that the extreme values of every width survive (all ones, zero, alternating).
TEST_P(BitpackTest, ExtremeValues) {
  const int bits = GetParam();
  const uint16_t top = static_cast<uint16_t>((1u << bits) - 1);
  const std::vector<uint16_t> values = {top, 0, top, top, 0, 0, top, 1, top, 0, top};
  absl::StatusOr<std::string> packed = PackBitsToString(values, bits);
  ASSERT_THAT(packed, IsOk());
  EXPECT_EQ(packed->size(), PackedBytes(values.size(), bits));
  absl::StatusOr<std::vector<uint16_t>> unpacked =
      UnpackBitsFromString(*packed, bits, values.size());
  ASSERT_THAT(unpacked, IsOk());
  EXPECT_EQ(*unpacked, values);
}

INSTANTIATE_TEST_SUITE_P(AllWidths, BitpackTest, ::testing::Range(1, 17));

// Tests the documented layout on a hand-worked example: 3-bit values, LSB first.
TEST(BitpackLayoutTest, HandWorkedThreeBits) {
  // LSB first, 5 -> 1,0,1; 3 -> 1,1,0; 7 -> 1,1,1: the stream is 101110111, so
  // byte 0 = 0b11011101 (stream bits 0..7 read from bit 0 up) and byte 1 = 0b00000001.
  const std::vector<uint16_t> values = {5, 3, 7};
  std::vector<uint8_t> packed(2);
  ASSERT_THAT(PackBits(values, 3, absl::MakeSpan(packed)), IsOk());
  EXPECT_EQ(packed[0], 0b11011101);
  EXPECT_EQ(packed[1], 0b00000001);
}

// Tests the errors: width out of range, value too wide, wrong buffer sizes.
TEST(BitpackErrorsTest, RejectsBadInput) {
  std::vector<uint8_t> out(2);
  EXPECT_THAT(PackBits(std::vector<uint16_t>{1}, 0, absl::MakeSpan(out)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("outside [1, 16]")));
  EXPECT_THAT(PackBits(std::vector<uint16_t>{1, 2, 16}, 4, absl::MakeSpan(out)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("does not fit in 4 bits")));
  EXPECT_THAT(PackBits(std::vector<uint16_t>{1, 2, 3}, 8, absl::MakeSpan(out)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("needs 3 bytes")));
  std::vector<uint16_t> values(5);
  EXPECT_THAT(UnpackBits(out, 4, absl::MakeSpan(values)),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("take 3 bytes, got 2")));
  EXPECT_THAT(UnpackBits(out, 17, absl::MakeSpan(values)),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

// Tests that a count of values far beyond what the bytes hold, as a corrupt file can claim, is
// refused before the values are allocated (2^40 values would take 2 TiB).
TEST(BitpackErrorsTest, RejectsCountBeyondPackedBytesBeforeAllocating) {
  EXPECT_THAT(UnpackBitsFromString("", 1, size_t{1} << 40).status(),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("1099511627776 values of 1 bits do not fit in 0 bytes")));
  EXPECT_THAT(UnpackBitsFromString(std::string(4, '\0'), 16, SIZE_MAX).status(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("do not fit in 4 bytes")));
  EXPECT_THAT(UnpackBitsFromString(std::string(3, '\0'), 4, 5),
              IsOkAndHolds(std::vector<uint16_t>(5, 0)));
  EXPECT_THAT(UnpackBitsFromString(std::string(3, '\0'), 4, 7).status(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("take 4 bytes, got 3")));
  EXPECT_THAT(UnpackBitsFromString("", 0, 0).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("outside [1, 16]")));
}

// Tests BitsFor on boundaries.
TEST(BitpackLayoutTest, BitsFor) {
  EXPECT_EQ(BitsFor(0), 1);
  EXPECT_EQ(BitsFor(1), 1);
  EXPECT_EQ(BitsFor(2), 2);
  EXPECT_EQ(BitsFor(255), 8);
  EXPECT_EQ(BitsFor(256), 9);
  EXPECT_EQ(BitsFor(65535), 16);
}

}  // namespace
}  // namespace mc::quant
