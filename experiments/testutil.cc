#include "experiments/testutil.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "serialization/model_file.h"

namespace mc::experiments {
namespace {

ExitStatus FromWaitStatus(int status) {
  ExitStatus result;
  result.exited = WIFEXITED(status);
  result.code = result.exited ? WEXITSTATUS(status) : WTERMSIG(status);
  return result;
}

}  // namespace

bool ExitStatus::killed() const { return !exited && code == SIGKILL; }

std::string ExitStatus::ToString() const {
  return exited ? absl::StrCat("exit code ", code) : absl::StrCat("signal ", code);
}

absl::StatusOr<ChildProcess> ChildProcess::Start(const std::vector<std::string>& argv,
                                                 const ChildOutput& output) {
  if (argv.empty()) return absl::InvalidArgumentError("no program to start");
  const int out = ::open(output.stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const int err = ::open(output.stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0 || err < 0) {
    const std::string error = std::strerror(errno);
    if (out >= 0) ::close(out);
    if (err >= 0) ::close(err);
    return absl::InternalError(absl::StrCat("cannot open ", output.stdout_path, " or ",
                                            output.stderr_path, ": ", error));
  }
  // Everything the child touches is prepared before fork: after it, only exec-safe calls.
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (::dup2(out, STDOUT_FILENO) < 0 || ::dup2(err, STDERR_FILENO) < 0) ::_exit(127);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  const std::string error = std::strerror(errno);
  ::close(out);
  ::close(err);
  if (pid < 0) return absl::InternalError(absl::StrCat("cannot fork: ", error));
  return ChildProcess(pid);
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(other.pid_), ended_(other.ended_) {
  other.ended_ = ExitStatus();  // the moved-from object no longer owns the process
}

ChildProcess::~ChildProcess() {
  if (!ended_) Kill();
}

std::optional<ExitStatus> ChildProcess::Poll() {
  if (ended_) return ended_;
  int status = 0;
  pid_t done;
  do {
    done = ::waitpid(pid_, &status, WNOHANG);
  } while (done < 0 && errno == EINTR);
  if (done == pid_) ended_ = FromWaitStatus(status);
  return ended_;
}

ExitStatus ChildProcess::Wait() {
  if (ended_) return *ended_;
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  ended_ = FromWaitStatus(status);
  return *ended_;
}

ExitStatus ChildProcess::Kill() {
  if (Poll()) return *ended_;
  ::kill(pid_, SIGKILL);
  return Wait();
}

absl::StatusOr<ExitStatus> RunChild(const std::vector<std::string>& argv, const ChildOutput& output) {
  absl::StatusOr<ChildProcess> child = ChildProcess::Start(argv, output);
  if (!child.ok()) return child.status();
  return child->Wait();
}

std::string RunfilesPath(const std::string& workspace_path) {
  const char* runfiles = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  return absl::StrCat(runfiles != nullptr ? runfiles : ".", "/",
                      workspace != nullptr ? workspace : "model_compression", "/", workspace_path);
}

std::string FreshTestDirectory(const std::string& name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string path = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/", name);
  std::filesystem::remove_all(path);
  std::filesystem::create_directories(path);
  return path;
}

void ExpectSameModelTensors(const std::string& expected_file, const std::string& actual_file) {
  const absl::StatusOr<serialization::CompressedModel> expected =
      serialization::ReadModelFile(expected_file);
  const absl::StatusOr<serialization::CompressedModel> actual =
      serialization::ReadModelFile(actual_file);
  ASSERT_TRUE(expected.ok()) << expected.status();
  ASSERT_TRUE(actual.ok()) << actual.status();
  ASSERT_EQ(expected->tensors_size(), actual->tensors_size());
  for (int i = 0; i < expected->tensors_size(); ++i) {
    EXPECT_EQ(expected->tensors(i).name(), actual->tensors(i).name());
    EXPECT_EQ(expected->tensors(i).SerializeAsString(), actual->tensors(i).SerializeAsString())
        << "tensor " << expected->tensors(i).name() << " of " << actual_file << " differs from "
        << expected_file;
  }
}

}  // namespace mc::experiments
