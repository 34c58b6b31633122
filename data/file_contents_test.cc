#include "data/file_contents.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/status_matchers.h"
#include "data/testutil.h"

namespace mc::data {
namespace {

using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

std::vector<uint8_t> SampleBytes(size_t size) {
  std::vector<uint8_t> bytes(size);
  for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<uint8_t>(i * 13 + i / 251);
  return bytes;
}

// The bytes of a file as stored, without decompression.
std::vector<uint8_t> RawBytes(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(file), {});
}

// Tests that plain and gzip-compressed files read back to the same bytes.
TEST(ReadFileContentsTest, ReadsPlainAndGzipFiles) {
  const std::string dir = MakeTestDir("file_contents_both");
  const std::vector<uint8_t> bytes = SampleBytes(200000);
  WriteFile(dir + "/plain", bytes);
  WriteFile(dir + "/compressed.gz", bytes, Compression::kGzip);
  EXPECT_THAT(ReadFileContents(dir + "/plain"), IsOkAndHolds(bytes));
  EXPECT_THAT(ReadFileContents(dir + "/compressed.gz"), IsOkAndHolds(bytes));
}

// Tests that a file of two concatenated gzip members reads as their concatenation.
TEST(ReadFileContentsTest, ConcatenatesGzipMembers) {
  const std::string dir = MakeTestDir("file_contents_members");
  WriteFile(dir + "/first.gz", {1, 2, 3}, Compression::kGzip);
  WriteFile(dir + "/second.gz", {4, 5}, Compression::kGzip);
  std::vector<uint8_t> members = RawBytes(dir + "/first.gz");
  const std::vector<uint8_t> second = RawBytes(dir + "/second.gz");
  members.insert(members.end(), second.begin(), second.end());
  WriteFile(dir + "/both.gz", members);
  MC_ASSERT_OK_AND_ASSIGN(const std::vector<uint8_t> bytes, ReadFileContents(dir + "/both.gz"));
  EXPECT_THAT(bytes, ElementsAreArray({1, 2, 3, 4, 5}));
}

// Tests that a gzip file cut short is a data-loss error naming the file.
TEST(ReadFileContentsTest, RejectsTruncatedGzip) {
  const std::string dir = MakeTestDir("file_contents_truncated");
  WriteFile(dir + "/full.gz", SampleBytes(100000), Compression::kGzip);
  std::vector<uint8_t> compressed = RawBytes(dir + "/full.gz");
  compressed.resize(compressed.size() / 2);
  WriteFile(dir + "/half.gz", compressed);
  EXPECT_THAT(ReadFileContents(dir + "/half.gz"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr(dir + "/half.gz: truncated gzip")));
}

// Tests that a gzip file with damaged compressed data is a data-loss error.
TEST(ReadFileContentsTest, RejectsCorruptGzip) {
  const std::string dir = MakeTestDir("file_contents_corrupt");
  WriteFile(dir + "/full.gz", SampleBytes(100000), Compression::kGzip);
  std::vector<uint8_t> compressed = RawBytes(dir + "/full.gz");
  for (size_t i = 20; i < 60; ++i) compressed[i] ^= 0xff;
  WriteFile(dir + "/corrupt.gz", compressed);
  EXPECT_THAT(ReadFileContents(dir + "/corrupt.gz"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr(dir + "/corrupt.gz: ")));
}

// Tests that a missing file is a not-found error naming it.
TEST(ReadFileContentsTest, ReportsMissingFile) {
  const std::string path = MakeTestDir("file_contents_missing") + "/absent";
  EXPECT_THAT(ReadFileContents(path), StatusIs(absl::StatusCode::kNotFound, HasSubstr(path)));
}

}  // namespace
}  // namespace mc::data
