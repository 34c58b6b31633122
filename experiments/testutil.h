// File: testutil.h
// Test fixtures of the experiments package: the experiment binaries run as child processes
// (output to files; waited for, polled or killed at any moment), and trained model files
// compared tensor by tensor.
//
// Example:
//   absl::StatusOr<ChildProcess> child = ChildProcess::Start(
//       {BinaryPath("experiments/cifar_baseline"), "--dataset=synthetic"}, {log, log});
//   ...
//   const ExitStatus status = child->Kill();  // SIGKILL, unless it has ended already
#ifndef MC_EXPERIMENTS_TESTUTIL_H_
#define MC_EXPERIMENTS_TESTUTIL_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace mc::experiments {

/// How a child process ended.
struct ExitStatus {
  bool exited = false;  ///< returned from main() or called exit()
  int code = 0;         ///< the exit code when exited, otherwise the signal that ended it
  bool killed() const;  ///< ended by SIGKILL
  std::string ToString() const;  ///< "exit code 1", "signal 9", ...
};

/// Where a child's standard output and error go (files are created or truncated).
struct ChildOutput {
  std::string stdout_path = "/dev/null";
  std::string stderr_path = "/dev/null";
};

/// A started child process; the destructor kills and reaps it if it is still running.
class ChildProcess {
 public:
  /// Starts argv[0] (a path) with the arguments argv[1...]. A child that cannot execute it
  /// exits with code 127. \error kInternal when the output files or the process cannot be
  /// created.
  static absl::StatusOr<ChildProcess> Start(const std::vector<std::string>& argv,
                                            const ChildOutput& output);

  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&&) = delete;
  ~ChildProcess();

  /// How it ended, or nullopt while it runs.
  std::optional<ExitStatus> Poll();
  /// Waits for it to end.
  ExitStatus Wait();
  /// Sends SIGKILL unless it has ended, and reaps it. The status says which happened.
  ExitStatus Kill();

 private:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  pid_t pid_;
  std::optional<ExitStatus> ended_;
};

/// Runs argv to the end.
absl::StatusOr<ExitStatus> RunChild(const std::vector<std::string>& argv, const ChildOutput& output);

/// Path of a file of this workspace in the test's runfiles, e.g. "experiments/cifar_baseline"
/// (the target must be in the test's data).
std::string RunfilesPath(const std::string& workspace_path);

/// A directory of its own under the test's temporary directory (created; emptied if it exists).
std::string FreshTestDirectory(const std::string& name);

/// Expects the two model files to be readable and to hold the same tensors, bit for bit.
void ExpectSameModelTensors(const std::string& expected_file, const std::string& actual_file);

}  // namespace mc::experiments

#endif  // MC_EXPERIMENTS_TESTUTIL_H_
