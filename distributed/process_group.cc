#include "distributed/process_group.h"

#include <ATen/ATen.h>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace mc::distributed {
namespace {

std::string ErrorText(const std::exception& error) {
  if (const auto* torch_error = dynamic_cast<const c10::Error*>(&error)) {
    return torch_error->what_without_backtrace();
  }
  return error.what();
}

bool IsLoopback(const std::string& address) {
  return address == "localhost" || address == "::1" || absl::StartsWith(address, "127.");
}

std::shared_ptr<::gloo::transport::Device> MakeDevice(const std::string& master_addr) {
  if (const char* interface = std::getenv("GLOO_SOCKET_IFNAME"); interface != nullptr && *interface) {
    return c10d::ProcessGroupGloo::createDeviceForInterface(interface);
  }
  if (IsLoopback(master_addr)) return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

}  // namespace

absl::Status Validate(const ProcessGroupOptions& options) {
  if (options.world_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("world_size = ", options.world_size, " is out of range: allowed >= 1"));
  }
  if (options.rank < 0 || options.rank >= options.world_size) {
    return absl::InvalidArgumentError(absl::StrCat("rank = ", options.rank,
                                                   " is out of range: allowed [0, ",
                                                   options.world_size - 1, "]"));
  }
  if (options.master_addr.empty()) return absl::InvalidArgumentError("master_addr is empty");
  if (options.master_port < 1 || options.master_port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "master_port = ", options.master_port, " is out of range: allowed [1, 65535]"));
  }
  if (!(options.timeout_seconds > 0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "timeout_seconds = ", options.timeout_seconds, " is out of range: allowed > 0"));
  }
  return absl::OkStatus();
}

class ProcessGroup::Impl {
 public:
  Impl(ProcessGroupOptions options, c10::intrusive_ptr<c10d::Store> store,
       c10::intrusive_ptr<c10d::ProcessGroupGloo> group)
      : options(std::move(options)), store(std::move(store)), group(std::move(group)) {}

  // Runs `collective` (named `what` in errors) on one flat buffer per dtype holding `tensors`
  // in order, then copies each buffer back into its tensors.
  absl::Status OnFlatBuffers(const std::vector<at::Tensor>& tensors, absl::string_view what,
                             const std::function<void(at::Tensor& flat)>& collective) {
    std::map<at::ScalarType, std::vector<at::Tensor>> by_dtype;  // ordered alike on every rank
    for (const at::Tensor& tensor : tensors) by_dtype[tensor.scalar_type()].push_back(tensor.detach());
    return Guarded(what, [&] {
      at::NoGradGuard no_grad;
      for (auto& [dtype, members] : by_dtype) {
        std::vector<at::Tensor> flat_members;
        flat_members.reserve(members.size());
        for (const at::Tensor& member : members) flat_members.push_back(member.reshape({-1}));
        at::Tensor flat = at::cat(flat_members);
        collective(flat);
        int64_t offset = 0;
        for (at::Tensor& member : members) {
          member.copy_(flat.narrow(0, offset, member.numel()).view(member.sizes()));
          offset += member.numel();
        }
      }
    });
  }

  // Runs `body`, turning communication failures into kUnavailable.
  absl::Status Guarded(absl::string_view what, const std::function<void()>& body) {
    try {
      body();
    } catch (const std::exception& error) {
      return absl::UnavailableError(absl::StrCat("rank ", options.rank, " of ", options.world_size,
                                                 ": ", what, " failed: ", ErrorText(error)));
    }
    return absl::OkStatus();
  }

  void AllReduce(at::Tensor& flat) {
    std::vector<at::Tensor> buffers = {flat};
    group->allreduce(buffers)->wait();
  }

  void Broadcast(at::Tensor& flat) {
    std::vector<at::Tensor> buffers = {flat};
    c10d::BroadcastOptions broadcast;
    broadcast.rootRank = 0;
    group->broadcast(buffers, broadcast)->wait();
  }

  ProcessGroupOptions options;
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group;
};

absl::StatusOr<std::unique_ptr<ProcessGroup>> ProcessGroup::Connect(
    const ProcessGroupOptions& options) {
  MC_RETURN_IF_ERROR(Validate(options));
  const std::string endpoint = absl::StrCat(options.master_addr, ":", options.master_port);
  const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(options.timeout_seconds * 1000));
  c10::intrusive_ptr<c10d::Store> store;
  try {
    c10d::TCPStoreOptions store_options;
    store_options.port = static_cast<uint16_t>(options.master_port);
    store_options.isServer = options.rank == 0;
    store_options.numWorkers = options.world_size;
    store_options.waitWorkers = true;
    store_options.timeout = timeout;
    store = c10::make_intrusive<c10d::TCPStore>(options.master_addr, store_options);
  } catch (const std::exception& error) {
    if (options.rank == 0) {
      return absl::UnavailableError(absl::StrCat(
          "rank 0 could not host the rendezvous store on ", endpoint, ", or the other ",
          options.world_size - 1, " ranks did not connect to it within ", options.timeout_seconds,
          " s: ", ErrorText(error)));
    }
    return absl::UnavailableError(absl::StrCat(
        "rank ", options.rank, " could not reach the master (rank 0's store) at ", endpoint,
        " within ", options.timeout_seconds,
        " s; is rank 0 running with the same --master_port, and is --master_addr reachable from "
        "this machine? (",
        ErrorText(error), ")"));
  }
  try {
    auto gloo_options = c10d::ProcessGroupGloo::Options::create(timeout);
    gloo_options->devices.push_back(MakeDevice(options.master_addr));
    auto group = c10::make_intrusive<c10d::ProcessGroupGloo>(store, options.rank,
                                                             options.world_size, gloo_options);
    return std::unique_ptr<ProcessGroup>(
        new ProcessGroup(std::make_unique<Impl>(options, std::move(store), std::move(group))));
  } catch (const std::exception& error) {
    return absl::DeadlineExceededError(absl::StrCat("the ", options.world_size,
                                                    " ranks did not all meet through ", endpoint,
                                                    ": ", ErrorText(error)));
  }
}

ProcessGroup::ProcessGroup(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ProcessGroup::~ProcessGroup() = default;

int ProcessGroup::rank() const { return impl_->options.rank; }
int ProcessGroup::world_size() const { return impl_->options.world_size; }

absl::Status ProcessGroup::AllReduceSum(const std::vector<at::Tensor>& tensors) {
  return impl_->OnFlatBuffers(tensors, "all-reduce", [&](at::Tensor& flat) { impl_->AllReduce(flat); });
}

absl::Status ProcessGroup::AverageGradients(const std::vector<at::Tensor>& parameters) {
  std::vector<at::Tensor> gradients;
  gradients.reserve(parameters.size());
  for (const at::Tensor& parameter : parameters) {
    if (parameter.grad().defined()) gradients.push_back(parameter.grad());
  }
  const double world_size = impl_->options.world_size;
  return impl_->OnFlatBuffers(gradients, "gradient all-reduce", [&](at::Tensor& flat) {
    impl_->AllReduce(flat);
    flat.div_(world_size);
  });
}

absl::Status ProcessGroup::Broadcast(const std::vector<at::Tensor>& tensors) {
  return impl_->OnFlatBuffers(tensors, "broadcast", [&](at::Tensor& flat) { impl_->Broadcast(flat); });
}

absl::Status ProcessGroup::BroadcastBytes(std::string& bytes) {
  at::Tensor size = at::full({1}, static_cast<int64_t>(bytes.size()), at::kLong);
  MC_RETURN_IF_ERROR(impl_->Guarded("broadcast of a size", [&] { impl_->Broadcast(size); }));
  const int64_t length = size.item<int64_t>();
  if (length == 0) {
    bytes.clear();
    return absl::OkStatus();
  }
  at::Tensor data = at::empty({length}, at::kByte);
  if (rank() == 0) std::memcpy(data.data_ptr(), bytes.data(), bytes.size());
  MC_RETURN_IF_ERROR(impl_->Guarded("broadcast of bytes", [&] { impl_->Broadcast(data); }));
  bytes.assign(static_cast<const char*>(data.data_ptr()), length);
  return absl::OkStatus();
}

absl::Status ProcessGroup::Barrier() {
  return impl_->Guarded("barrier", [&] { impl_->group->barrier()->wait(); });
}

}  // namespace mc::distributed
