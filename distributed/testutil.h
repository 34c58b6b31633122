// File: testutil.h
// Multi-process tests on one machine: a free loopback port for rank 0's store, and copies of
// the running test binary started as the ranks. A test binary with workers has its own main:
// with worker flags it runs one rank and exits with its result, otherwise it runs the tests.
//
// Example:
//   int main(int argc, char** argv) {
//     if (std::optional<WorkerArgs> worker = ParseWorkerArgs(argc, argv)) return RunRank(*worker);
//     testing::InitGoogleTest(&argc, argv);
//     return RUN_ALL_TESTS();
//   }
//   // in a test:
//   const int port = FreePort();
//   pid_t rank1 = SpawnWorker({/*rank=*/1, port, dir});
//   EXPECT_EQ(WaitForExit(rank1, /*timeout_seconds=*/120), 0);
#ifndef MC_DISTRIBUTED_TESTUTIL_H_
#define MC_DISTRIBUTED_TESTUTIL_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace mc::distributed {

/// What a worker copy of a test binary is told: its rank, rank 0's port and a directory.
struct WorkerArgs {
  int rank = 0;
  int port = 0;
  std::string dir;
};

/// The worker flags (--worker_rank, --worker_port, --worker_dir) of a command line, or
/// nullopt when --worker_rank is absent.
std::optional<WorkerArgs> ParseWorkerArgs(int argc, char** argv);

/// A TCP port of 127.0.0.1 that was free a moment ago (bound as port 0, then released).
int FreePort();

/// Starts this binary (/proc/self/exe) again with `args` and this process's environment;
/// returns its pid. Aborts the test binary if it cannot start.
pid_t SpawnSelf(const std::vector<std::string>& args);

/// Waits for `pid` at most `timeout_seconds`, killing it after that. Returns its exit code,
/// or -1 if it was killed or died of a signal.
int WaitForExit(pid_t pid, double timeout_seconds);

/// SpawnSelf with the flags ParseWorkerArgs reads.
pid_t SpawnWorker(const WorkerArgs& args);

}  // namespace mc::distributed

#endif  // MC_DISTRIBUTED_TESTUTIL_H_
