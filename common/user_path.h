// File: user_path.h
// Paths given on the command line of a `bazel run` binary are meant relative to the directory
// the user ran the command in (BUILD_WORKING_DIRECTORY), not to the runfiles directory the
// binary starts in.
//
// Example:
//   const std::string model_file = mc::UserPath(argv[1]);
#ifndef MC_COMMON_USER_PATH_H_
#define MC_COMMON_USER_PATH_H_

#include <string>

namespace mc {

/// `path` made absolute against the directory the user started the command in: that of
/// `bazel run` when set, else the current directory. Absolute and empty paths are unchanged.
std::string UserPath(const std::string& path);

}  // namespace mc

#endif  // MC_COMMON_USER_PATH_H_
