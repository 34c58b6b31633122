#include "serialization/crc32c.h"

#include <gtest/gtest.h>

#include <string>

namespace mc::serialization {
namespace {

// Tests the check value of the CRC catalogue and the vectors of RFC 3720 (iSCSI), B.4.
TEST(Crc32cTest, MatchesPublishedVectors) {
  EXPECT_EQ(Crc32c(""), 0x00000000u);
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(Crc32c(std::string(32, '\x00')), 0x8A9136AAu);
  EXPECT_EQ(Crc32c(std::string(32, '\xff')), 0x62A8AB43u);
  std::string ascending;
  std::string descending;
  for (int i = 0; i < 32; ++i) {
    ascending.push_back(static_cast<char>(i));
    descending.push_back(static_cast<char>(31 - i));
  }
  EXPECT_EQ(Crc32c(ascending), 0x46DD794Eu);
  EXPECT_EQ(Crc32c(descending), 0x113FDB5Cu);
}

// Tests that the mask rotates right by 15 bits and adds TFRecord's constant.
TEST(Crc32cTest, MaskRotatesAndAddsTheConstant) {
  EXPECT_EQ(MaskCrc32c(0), 0xA282EAD8u);
  // 0xE3069283 rotated right by 15 is 0x2507C60D.
  EXPECT_EQ(MaskCrc32c(0xE3069283u), 0xC78AB0E5u);
  // The sum wraps around 2^32: 0x8A9136AA rotated is 0x6D551522.
  EXPECT_EQ(MaskCrc32c(0x8A9136AAu), 0x0FD7FFFAu);
}

}  // namespace
}  // namespace mc::serialization
