#include "distributed/process_group.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/status_matchers.h"
#include "distributed/testutil.h"

namespace mc::distributed {
namespace {

using ::testing::HasSubstr;

constexpr int kWorldSize = 2;
constexpr double kWorkerTimeoutSeconds = 120;

absl::Status Expect(bool condition, absl::string_view what) {
  return condition ? absl::OkStatus() : absl::InternalError(what);
}

// One rank of CollectivesAgreeAcrossTwoProcesses: every collective, checked against the
// values the two ranks contribute (rank r contributes values depending on r).
absl::Status RunCollectives(int rank, int port) {
  ProcessGroupOptions options;
  options.world_size = kWorldSize;
  options.rank = rank;
  options.master_port = port;
  options.timeout_seconds = 60;
  MC_ASSIGN_OR_RETURN(std::unique_ptr<ProcessGroup> group, ProcessGroup::Connect(options));
  MC_RETURN_IF_ERROR(Expect(group->rank() == rank && group->world_size() == kWorldSize, "rank"));

  // Gradients of two dtypes in one call; a parameter without a gradient is left alone.
  at::Tensor weight = at::zeros({2, 3}).requires_grad_(true);
  weight.mutable_grad() = at::arange(6, at::kFloat).view({2, 3}) + (rank + 1);
  at::Tensor frozen = at::zeros({4}).requires_grad_(true);
  at::Tensor scale = at::zeros({2}, at::kDouble).requires_grad_(true);
  scale.mutable_grad() = at::full({2}, 10.0 * rank, at::kDouble);
  MC_RETURN_IF_ERROR(group->AverageGradients({weight, frozen, scale}));
  MC_RETURN_IF_ERROR(Expect(at::equal(weight.grad(), at::arange(6, at::kFloat).view({2, 3}) + 1.5f),
                            "weight gradient is not the mean (1.5 + i)"));
  MC_RETURN_IF_ERROR(Expect(!frozen.grad().defined(), "a missing gradient was created"));
  MC_RETURN_IF_ERROR(Expect(at::equal(scale.grad(), at::full({2}, 5.0, at::kDouble)),
                            "double gradient is not the mean (5)"));

  // Broadcast of a tensor that requires grad and of an integer buffer.
  at::Tensor parameter = at::full({3}, static_cast<float>(rank)).requires_grad_(true);
  at::Tensor counter = at::full({2}, 7 + rank, at::kLong);
  MC_RETURN_IF_ERROR(group->Broadcast({parameter, counter}));
  MC_RETURN_IF_ERROR(Expect(at::equal(parameter.detach(), at::zeros({3})), "parameter is not rank 0's"));
  MC_RETURN_IF_ERROR(Expect(at::equal(counter, at::full({2}, 7, at::kLong)), "counter is not rank 0's"));

  std::string bytes = rank == 0 ? std::string("rank 0\0bytes", 12) : "other";
  MC_RETURN_IF_ERROR(group->BroadcastBytes(bytes));
  MC_RETURN_IF_ERROR(Expect(bytes == std::string("rank 0\0bytes", 12), "bytes are not rank 0's"));
  std::string empty = rank == 0 ? "" : "not empty";
  MC_RETURN_IF_ERROR(group->BroadcastBytes(empty));
  MC_RETURN_IF_ERROR(Expect(empty.empty(), "rank 0's empty bytes were not broadcast"));

  at::Tensor sums = at::tensor({static_cast<double>(rank), 1.0}, at::kDouble);
  MC_RETURN_IF_ERROR(group->AllReduceSum({sums}));
  MC_RETURN_IF_ERROR(Expect(at::equal(sums, at::tensor({1.0, 2.0}, at::kDouble)), "sums"));
  return group->Barrier();
}

// Tests that gradient averaging, broadcasts, the sum and the barrier give every rank the
// expected values when two processes meet on loopback.
TEST(ProcessGroupTest, CollectivesAgreeAcrossTwoProcesses) {
  const int port = FreePort();
  std::vector<pid_t> ranks;
  for (int rank = 0; rank < kWorldSize; ++rank) {
    ranks.push_back(SpawnWorker({rank, port, ""}));
  }
  for (int rank = 0; rank < kWorldSize; ++rank) {
    EXPECT_EQ(WaitForExit(ranks[rank], kWorkerTimeoutSeconds), 0) << "rank " << rank;
  }
}

// Tests that a rank whose master never comes up gets kUnavailable naming the address, after
// the timeout and not later.
TEST(ProcessGroupTest, UnreachableMasterIsUnavailable) {
  ProcessGroupOptions options;
  options.world_size = 2;
  options.rank = 1;
  options.master_port = FreePort();
  options.timeout_seconds = 1;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THAT(ProcessGroup::Connect(options),
              StatusIs(absl::StatusCode::kUnavailable,
                       HasSubstr(absl::StrCat("could not reach the master (rank 0's store) at 127.0.0.1:",
                                              options.master_port))));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
}

// Tests that invalid options are refused before any connection, naming the field.
TEST(ProcessGroupTest, RejectsInvalidOptions) {
  ProcessGroupOptions options;
  options.world_size = 2;
  options.rank = 2;
  EXPECT_THAT(Validate(options), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("rank = 2")));
  options.rank = 0;
  options.master_port = 70000;
  EXPECT_THAT(ProcessGroup::Connect(options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("master_port = 70000")));
  options.master_port = 29500;
  options.world_size = 0;
  EXPECT_THAT(Validate(options), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("world_size")));
  options.world_size = 2;
  options.master_addr = "";
  EXPECT_THAT(Validate(options), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("master_addr")));
}

}  // namespace
}  // namespace mc::distributed

// As a worker, runs one rank of CollectivesAgreeAcrossTwoProcesses: exit code 0 when every
// check passes. Otherwise runs the tests.
int main(int argc, char** argv) {
  if (const std::optional<mc::distributed::WorkerArgs> worker = mc::distributed::ParseWorkerArgs(argc, argv)) {
    const absl::Status status = mc::distributed::RunCollectives(worker->rank, worker->port);
    if (!status.ok()) std::cerr << "rank " << worker->rank << ": " << status << std::endl;
    return status.ok() ? 0 : 1;
  }
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
