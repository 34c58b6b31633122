#include "distributed/testutil.h"

#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "absl/strings/strip.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

extern char** environ;

namespace mc::distributed {

std::optional<WorkerArgs> ParseWorkerArgs(int argc, char** argv) {
  WorkerArgs args;
  bool worker = false;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (absl::ConsumePrefix(&arg, "--worker_rank=")) {
      worker = absl::SimpleAtoi(arg, &args.rank);
    } else if (absl::ConsumePrefix(&arg, "--worker_port=")) {
      (void)absl::SimpleAtoi(arg, &args.port);
    } else if (absl::ConsumePrefix(&arg, "--worker_dir=")) {
      args.dir = std::string(arg);
    }
  }
  if (!worker) return std::nullopt;
  return args;
}

int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    std::perror("FreePort");
    std::abort();
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

pid_t SpawnSelf(const std::vector<std::string>& args) {
  std::vector<std::string> arguments = {"/proc/self/exe"};
  arguments.insert(arguments.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& argument : arguments) argv.push_back(argument.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (::posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argv.data(), environ) != 0) {
    std::perror("SpawnSelf");
    std::abort();
  }
  return pid;
}

int WaitForExit(pid_t pid, double timeout_seconds) {
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds(static_cast<int64_t>(timeout_seconds * 1000));
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

pid_t SpawnWorker(const WorkerArgs& args) {
  return SpawnSelf({absl::StrCat("--worker_rank=", args.rank),
                    absl::StrCat("--worker_port=", args.port), absl::StrCat("--worker_dir=", args.dir)});
}

}  // namespace mc::distributed
