#include "serialization/atomic_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <string>

namespace mc::serialization {
namespace {

using ::testing::HasSubstr;

std::string TempDir() { return std::getenv("TEST_TMPDIR") ? std::getenv("TEST_TMPDIR") : "/tmp"; }

// Tests that a write replaces the previous content and a read returns it exactly.
TEST(AtomicFileTest, WriteReplacesAndReadsBack) {
  const std::string path = TempDir() + "/atomic_roundtrip.bin";
  const std::string binary("a\0b\xff", 4);
  ASSERT_TRUE(WriteFileAtomically(path, "old").ok());
  ASSERT_TRUE(WriteFileAtomically(path, binary).ok());
  absl::StatusOr<std::string> read = ReadFileToString(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, binary);
}

// Tests that a write into a missing directory fails with a message naming the directory.
TEST(AtomicFileTest, MissingDirectoryIsNotFound) {
  const absl::Status status = WriteFileAtomically(TempDir() + "/no/such/dir/file", "x");
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(status.message()), HasSubstr("/no/such/dir"));
}

// Tests that a failed write (an unwritable target) keeps the previous file intact.
TEST(AtomicFileTest, FailedWriteKeepsPreviousContent) {
  const std::string path = TempDir() + "/target_is_directory";
  ASSERT_TRUE(CreateDirectories(path).ok());
  EXPECT_FALSE(WriteFileAtomically(path, "data").ok());  // rename over a directory fails
  struct stat info;
  ASSERT_EQ(::stat(path.c_str(), &info), 0);
  EXPECT_TRUE(S_ISDIR(info.st_mode));
}

// Tests that appends create the file and add to its end, bytes as given.
TEST(AtomicFileTest, AppendCreatesAndExtends) {
  const std::string path = TempDir() + "/appended.log";
  ASSERT_TRUE(AppendToFile(path, "first\n").ok());
  ASSERT_TRUE(AppendToFile(path, std::string("\0second", 7)).ok());
  absl::StatusOr<std::string> read = ReadFileToString(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, std::string("first\n\0second", 13));
}

// Tests that an append into a missing directory fails with a message naming the file.
TEST(AtomicFileTest, AppendToMissingDirectoryNamesTheFile) {
  const absl::Status status = AppendToFile(TempDir() + "/no/such/dir/log", "x");
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(status.message()), HasSubstr("/no/such/dir/log"));
}

// Tests that reading a missing file is kNotFound and names the path.
TEST(AtomicFileTest, ReadMissingFileIsNotFound) {
  absl::StatusOr<std::string> read = ReadFileToString(TempDir() + "/missing.bin");
  EXPECT_EQ(read.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(read.status().message()), HasSubstr("missing.bin"));
}

// Tests that nested directories are created and existing ones accepted.
TEST(AtomicFileTest, CreateDirectoriesIsIdempotent) {
  const std::string path = TempDir() + "/a/b/c";
  ASSERT_TRUE(CreateDirectories(path).ok());
  ASSERT_TRUE(CreateDirectories(path).ok());
  EXPECT_TRUE(WriteFileAtomically(path + "/file", "x").ok());
}

}  // namespace
}  // namespace mc::serialization
