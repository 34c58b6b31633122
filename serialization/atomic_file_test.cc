#include "serialization/atomic_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <iostream>
#include <string>

#include "serialization/testutil.h"

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

// Tests that only the temporaries of interrupted atomic writes are deleted, not their
// targets nor files whose names merely look alike.
TEST(AtomicFileTest, RemovesOnlyStaleTemporaryFiles) {
  const std::string dir = TempDir() + "/stale";
  ASSERT_TRUE(CreateDirectories(dir).ok());
  for (const char* name : {"checkpoint.pt", "checkpoint.pt.tmp.a1B2c3", "model.mcm.tmp.XXXXXX",
                           "notes.tmp.txt", "model.mcm.tmp.ab-def", "model.mcm.tmp.abcdefg"}) {
    ASSERT_TRUE(WriteFileAtomically(dir + "/" + name, name).ok());
  }
  absl::StatusOr<int> removed = RemoveStaleTemporaryFiles(dir);
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(*removed, 2);
  for (const char* name : {"checkpoint.pt.tmp.a1B2c3", "model.mcm.tmp.XXXXXX"}) {
    EXPECT_TRUE(absl::IsNotFound(ReadFileToString(dir + "/" + name).status())) << name;
  }
  for (const char* name :
       {"checkpoint.pt", "notes.tmp.txt", "model.mcm.tmp.ab-def", "model.mcm.tmp.abcdefg"}) {
    EXPECT_EQ(ReadFileToString(dir + "/" + name).value_or(""), name);
  }
  EXPECT_EQ(RemoveStaleTemporaryFiles(dir).value_or(-1), 0);
}

// Tests that listing a missing directory is an error naming it.
TEST(AtomicFileTest, RemoveStaleTemporaryFilesNamesAMissingDirectory) {
  const absl::StatusOr<int> removed = RemoveStaleTemporaryFiles(TempDir() + "/no_such_dir");
  EXPECT_EQ(removed.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(removed.status().message()), HasSubstr("no_such_dir"));
}

// Tests that a write that runs out of space (in a child process whose files may not grow
// beyond 4 KiB) is reported, keeps the previous file byte for byte and leaves no temporary.
TEST(AtomicFileDeathTest, FullDiskKeepsPreviousFile) {
  constexpr uint64_t kFreeBytes = 4096;
  const std::string dir = TempDir() + "/full_disk";
  ASSERT_TRUE(CreateDirectories(dir).ok());
  const std::string path = dir + "/model.mcm";
  const std::string previous(kFreeBytes / 2, 'p');
  ASSERT_TRUE(WriteFileAtomically(path, previous).ok());
  EXPECT_EXIT(
      {
        SimulateFullDisk(kFreeBytes);
        const absl::Status status = WriteFileAtomically(path, std::string(3 * kFreeBytes, 'n'));
        std::cerr << status.message() << std::endl;
        std::exit(status.ok() ? 0 : 1);
      },
      ::testing::ExitedWithCode(1),
      "cannot write .*/model.mcm: File too large \\(the previous file, if any, is unchanged\\)");
  EXPECT_EQ(ReadFileToString(path).value_or(""), previous);
  EXPECT_EQ(RemoveStaleTemporaryFiles(dir).value_or(-1), 0);
}

}  // namespace
}  // namespace mc::serialization
