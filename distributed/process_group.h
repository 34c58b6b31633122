// File: process_group.h
// The processes of a data-parallel run, connected through PyTorch's c10d: rank 0 hosts a
// TCPStore at (master_addr, master_port) where the ranks meet, and a Gloo process group
// carries the collectives over TCP. Tensors are CPU tensors; each collective flattens its
// tensors into one buffer per dtype, so a call costs one round whatever the tensor count.
//
// Gloo binds to the loopback interface when master_addr is a loopback address, to the
// interface named by GLOO_SOCKET_IFNAME when it is set, and otherwise to the address this
// machine's hostname resolves to (as torch.distributed does).
//
// Example (on each of two processes, rank 0 and rank 1):
//   ProcessGroupOptions options;
//   options.world_size = 2;
//   options.rank = rank;
//   options.master_addr = "10.0.0.1";
//   MC_ASSIGN_OR_RETURN(std::unique_ptr<ProcessGroup> group, ProcessGroup::Connect(options));
//   MC_RETURN_IF_ERROR(group->Broadcast(parameters));        // everyone starts as rank 0
//   loss.backward();
//   MC_RETURN_IF_ERROR(group->AverageGradients(parameters));  // the global batch's gradient
//   optimizer.step();
#ifndef MC_DISTRIBUTED_PROCESS_GROUP_H_
#define MC_DISTRIBUTED_PROCESS_GROUP_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace at {
class Tensor;
}

namespace mc::distributed {

struct ProcessGroupOptions {
  /// Number of processes, >= 1.
  int world_size = 1;
  /// This process's rank in [0, world_size); rank 0 hosts the store.
  int rank = 0;
  /// Address of rank 0, reachable from every rank, and the port its store listens on.
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  /// How long connecting to rank 0, meeting the other ranks and each collective may wait, in
  /// seconds. Default: 1800 (the other ranks wait while rank 0 evaluates and writes).
  double timeout_seconds = 1800;
};

/// Checks `options`. \error kInvalidArgument naming the first bad field and its range.
absl::Status Validate(const ProcessGroupOptions& options);

class ProcessGroup {
 public:
  /// Connects this process to the others; returns once all world_size ranks have met.
  /// \error kInvalidArgument for invalid options; kUnavailable when rank 0 cannot listen on
  ///   the port or another rank cannot reach rank 0's store within the timeout (the message
  ///   names master_addr:master_port); kDeadlineExceeded when the ranks do not all meet.
  static absl::StatusOr<std::unique_ptr<ProcessGroup>> Connect(const ProcessGroupOptions& options);
  ~ProcessGroup();

  int rank() const;
  int world_size() const;

  /// Replaces each tensor by its sum over the ranks, in place. Every rank passes the same
  /// shapes and dtypes in the same order. \error kUnavailable when a rank fails or times out.
  absl::Status AllReduceSum(const std::vector<at::Tensor>& tensors);

  /// Replaces the gradient of each tensor that has one by its mean over the ranks (one
  /// all-reduce of the flattened gradients). Every rank passes the same tensors with the same
  /// gradients defined. \error as AllReduceSum.
  absl::Status AverageGradients(const std::vector<at::Tensor>& parameters);

  /// Copies rank 0's values into each tensor, in place (also tensors that require grad).
  /// \error as AllReduceSum.
  absl::Status Broadcast(const std::vector<at::Tensor>& tensors);

  /// Replaces `bytes` by rank 0's `bytes` (any length). \error as AllReduceSum.
  absl::Status BroadcastBytes(std::string& bytes);

  /// Returns once every rank has called Barrier. \error as AllReduceSum.
  absl::Status Barrier();

 private:
  class Impl;
  explicit ProcessGroup(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mc::distributed

#endif  // MC_DISTRIBUTED_PROCESS_GROUP_H_
