#include "common/user_path.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace mc {
namespace {

// Tests that relative paths are taken from BUILD_WORKING_DIRECTORY, and absolute and empty
// paths are left alone.
TEST(UserPathTest, RelativeToBazelRunDirectory) {
  setenv("BUILD_WORKING_DIRECTORY", "/home/user/project", 1);
  EXPECT_EQ(UserPath("runs/model.mcm"), "/home/user/project/runs/model.mcm");
  EXPECT_EQ(UserPath("/tmp/model.mcm"), "/tmp/model.mcm");
  EXPECT_EQ(UserPath(""), "");
}

// Tests that without `bazel run`, relative paths are taken from the current directory.
TEST(UserPathTest, RelativeToCurrentDirectoryOtherwise) {
  unsetenv("BUILD_WORKING_DIRECTORY");
  char cwd[4096];
  ASSERT_NE(::getcwd(cwd, sizeof(cwd)), nullptr);
  EXPECT_EQ(UserPath("model.mcm"), std::string(cwd) + "/model.mcm");
}

}  // namespace
}  // namespace mc
