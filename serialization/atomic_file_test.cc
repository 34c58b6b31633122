#include "serialization/atomic_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <iostream>
#include <string>

#include "common/status_matchers.h"
#include "serialization/testutil.h"

namespace mc::serialization {
namespace {

using ::testing::HasSubstr;

std::string TempDir() { return std::getenv("TEST_TMPDIR") ? std::getenv("TEST_TMPDIR") : "/tmp"; }

// Tests that a write replaces the previous content and a read returns it exactly.
TEST(AtomicFileTest, WriteReplacesAndReadsBack) {
  const std::string path = TempDir() + "/atomic_roundtrip.bin";
  const std::string binary("a\0b\xff", 4);
  ASSERT_THAT(WriteFileAtomically(path, "old"), IsOk());
  ASSERT_THAT(WriteFileAtomically(path, binary), IsOk());
  MC_ASSERT_OK_AND_ASSIGN(const std::string read, ReadFileToString(path));
  EXPECT_EQ(read, binary);
}

// Tests that a write into a missing directory fails with a message naming the directory.
TEST(AtomicFileTest, MissingDirectoryIsNotFound) {
  EXPECT_THAT(WriteFileAtomically(TempDir() + "/no/such/dir/file", "x"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("/no/such/dir")));
}

// Tests that a failed write (an unwritable target) keeps the previous file intact.
TEST(AtomicFileTest, FailedWriteKeepsPreviousContent) {
  const std::string path = TempDir() + "/target_is_directory";
  ASSERT_THAT(CreateDirectories(path), IsOk());
  // rename over a directory fails
  EXPECT_THAT(WriteFileAtomically(path, "data"),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("cannot replace " + path)));
  struct stat info;
  ASSERT_EQ(::stat(path.c_str(), &info), 0);
  EXPECT_TRUE(S_ISDIR(info.st_mode));
}

// Tests that appends create the file and add to its end, bytes as given.
TEST(AtomicFileTest, AppendCreatesAndExtends) {
  const std::string path = TempDir() + "/appended.log";
  ASSERT_THAT(AppendToFile(path, "first\n"), IsOk());
  ASSERT_THAT(AppendToFile(path, std::string("\0second", 7)), IsOk());
  MC_ASSERT_OK_AND_ASSIGN(const std::string read, ReadFileToString(path));
  EXPECT_EQ(read, std::string("first\n\0second", 13));
}

// Tests that an append into a missing directory fails with a message naming the file.
TEST(AtomicFileTest, AppendToMissingDirectoryNamesTheFile) {
  EXPECT_THAT(AppendToFile(TempDir() + "/no/such/dir/log", "x"),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("/no/such/dir/log")));
}

// Tests that reading a missing file is kNotFound and names the path.
TEST(AtomicFileTest, ReadMissingFileIsNotFound) {
  EXPECT_THAT(ReadFileToString(TempDir() + "/missing.bin"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("missing.bin")));
}

// Tests that nested directories are created and existing ones accepted.
TEST(AtomicFileTest, CreateDirectoriesIsIdempotent) {
  const std::string path = TempDir() + "/a/b/c";
  ASSERT_THAT(CreateDirectories(path), IsOk());
  ASSERT_THAT(CreateDirectories(path), IsOk());
  EXPECT_THAT(WriteFileAtomically(path + "/file", "x"), IsOk());
}

// Tests that only the temporaries of interrupted atomic writes are deleted, not their
// targets nor files whose names merely look alike.
TEST(AtomicFileTest, RemovesOnlyStaleTemporaryFiles) {
  const std::string dir = TempDir() + "/stale";
  ASSERT_THAT(CreateDirectories(dir), IsOk());
  for (const char* name : {"checkpoint.pt", "checkpoint.pt.tmp.a1B2c3", "model.mcm.tmp.XXXXXX",
                           "notes.tmp.txt", "model.mcm.tmp.ab-def", "model.mcm.tmp.abcdefg"}) {
    ASSERT_THAT(WriteFileAtomically(dir + "/" + name, name), IsOk());
  }
  MC_ASSERT_OK_AND_ASSIGN(const int removed, RemoveStaleTemporaryFiles(dir));
  EXPECT_EQ(removed, 2);
  for (const char* name : {"checkpoint.pt.tmp.a1B2c3", "model.mcm.tmp.XXXXXX"}) {
    EXPECT_THAT(ReadFileToString(dir + "/" + name), StatusIs(absl::StatusCode::kNotFound)) << name;
  }
  for (const char* name :
       {"checkpoint.pt", "notes.tmp.txt", "model.mcm.tmp.ab-def", "model.mcm.tmp.abcdefg"}) {
    EXPECT_EQ(ReadFileToString(dir + "/" + name).value_or(""), name);
  }
  EXPECT_EQ(RemoveStaleTemporaryFiles(dir).value_or(-1), 0);
}

// Tests that listing a missing directory is an error naming it.
TEST(AtomicFileTest, RemoveStaleTemporaryFilesNamesAMissingDirectory) {
  EXPECT_THAT(RemoveStaleTemporaryFiles(TempDir() + "/no_such_dir"),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("no_such_dir")));
}

// Tests that a write that runs out of space (in a child process whose files may not grow
// beyond 4 KiB) is reported, keeps the previous file byte for byte and leaves no temporary.
TEST(AtomicFileDeathTest, FullDiskKeepsPreviousFile) {
  constexpr uint64_t kFreeBytes = 4096;
  const std::string dir = TempDir() + "/full_disk";
  ASSERT_THAT(CreateDirectories(dir), IsOk());
  const std::string path = dir + "/model.mcm";
  const std::string previous(kFreeBytes / 2, 'p');
  ASSERT_THAT(WriteFileAtomically(path, previous), IsOk());
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
