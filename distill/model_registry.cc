#include "distill/model_registry.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <functional>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "serialization/atomic_file.h"
#include "serialization/container.h"
#include "serialization/deterministic_bytes.h"

namespace mc::distill {
namespace {

using serialization::RegistryEntry;

// Version 1 files had no payload length; this build reads version 2 only.
constexpr serialization::ContainerFormat kFormat{"MCREGIS\x1a", 2, kModelRegistryVersion,
                                                 "model registry"};

std::string EncodeRegistryFile(const serialization::ModelRegistry& registry) {
  return serialization::EncodeContainer(kFormat, serialization::DeterministicBytes(registry));
}

absl::StatusOr<serialization::ModelRegistry> DecodeRegistryFile(absl::string_view bytes,
                                                                const std::string& path) {
  MC_ASSIGN_OR_RETURN(const serialization::ContainerPayload contained,
                      serialization::DecodeContainer(kFormat, bytes, path));
  serialization::ModelRegistry registry;
  if (!registry.ParseFromArray(contained.payload.data(),
                               static_cast<int>(contained.payload.size()))) {
    return absl::DataLossError(
        absl::StrCat(path, ": corrupt model registry (payload does not parse)"));
  }
  return registry;
}

// The registry at `path`; empty if the file does not exist.
absl::StatusOr<serialization::ModelRegistry> ReadRegistry(const std::string& path) {
  absl::StatusOr<std::string> bytes = serialization::ReadFileToString(path);
  if (absl::IsNotFound(bytes.status())) return serialization::ModelRegistry();
  if (!bytes.ok()) return bytes.status();
  return DecodeRegistryFile(*bytes, path);
}

// An exclusive flock held on an open file until destruction.
class ExclusiveFileLock {
 public:
  // Opens (creating if needed) and locks `path`, waiting for other holders.
  static absl::StatusOr<ExclusiveFileLock> Acquire(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
      const int open_errno = errno;
      if (open_errno == ENOENT) {
        return absl::NotFoundError(
            absl::StrCat("cannot create lock file ", path, ": its directory does not exist"));
      }
      return absl::InternalError(
          absl::StrCat("cannot open lock file ", path, ": ", std::strerror(open_errno)));
    }
    int result;
    do {
      result = ::flock(fd, LOCK_EX);
    } while (result != 0 && errno == EINTR);
    if (result != 0) {
      const std::string error = std::strerror(errno);
      ::close(fd);
      return absl::InternalError(absl::StrCat("cannot lock ", path, ": ", error));
    }
    return ExclusiveFileLock(fd);
  }

  ExclusiveFileLock(ExclusiveFileLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  ExclusiveFileLock& operator=(ExclusiveFileLock&&) = delete;
  ExclusiveFileLock(const ExclusiveFileLock&) = delete;
  ExclusiveFileLock& operator=(const ExclusiveFileLock&) = delete;

  // Closing the descriptor releases the lock.
  ~ExclusiveFileLock() {
    if (fd_ >= 0) ::close(fd_);
  }

 private:
  explicit ExclusiveFileLock(int fd) : fd_(fd) {}

  int fd_;
};

// Under the registry's lock: reads the current registry, applies `change` and, if it
// succeeds, replaces the file. Nothing is written when reading or `change` fails.
absl::Status ModifyRegistry(
    const std::string& path,
    const std::function<absl::Status(serialization::ModelRegistry&)>& change) {
  MC_ASSIGN_OR_RETURN(const ExclusiveFileLock lock,
                      ExclusiveFileLock::Acquire(absl::StrCat(path, ".lock")));
  MC_ASSIGN_OR_RETURN(serialization::ModelRegistry registry, ReadRegistry(path));
  MC_RETURN_IF_ERROR(change(registry));
  return serialization::WriteFileAtomically(path, EncodeRegistryFile(registry));
}

int64_t UnixSecondsNow() { return static_cast<int64_t>(std::time(nullptr)); }

// "a, b, c" of the distinct names in the registry, sorted, or "none".
std::string KnownNames(const serialization::ModelRegistry& registry) {
  std::set<std::string> names;
  for (const RegistryEntry& entry : registry.entries()) names.insert(entry.name());
  return names.empty() ? "none" : absl::StrJoin(names, ", ");
}

}  // namespace

ModelRegistry::ModelRegistry(std::string path) : path_(std::move(path)) {}

absl::StatusOr<RegistryEntry> ModelRegistry::Add(RegistryEntry entry) {
  if (entry.name().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot add a model without a name to the registry ", path_));
  }
  MC_RETURN_IF_ERROR(ModifyRegistry(path_, [&entry](serialization::ModelRegistry& registry) {
    int32_t last_run = 0;
    for (const RegistryEntry& stored : registry.entries()) {
      if (stored.name() == entry.name()) last_run = std::max(last_run, stored.run());
    }
    entry.set_run(last_run + 1);
    const int64_t now = UnixSecondsNow();
    entry.set_created_unix_seconds(now);
    entry.set_updated_unix_seconds(now);
    if (entry.status() == RegistryEntry::STATUS_UNSPECIFIED) {
      entry.set_status(RegistryEntry::RUNNING);
    }
    *registry.add_entries() = entry;
    return absl::OkStatus();
  }));
  return entry;
}

absl::Status ModelRegistry::Update(const RegistryEntry& entry) {
  return ModifyRegistry(path_, [this, &entry](serialization::ModelRegistry& registry) {
    std::vector<int32_t> runs;
    for (RegistryEntry& stored : *registry.mutable_entries()) {
      if (stored.name() != entry.name()) continue;
      if (stored.run() == entry.run()) {
        const int64_t created = stored.created_unix_seconds();
        stored = entry;
        stored.set_created_unix_seconds(created);
        stored.set_updated_unix_seconds(UnixSecondsNow());
        return absl::OkStatus();
      }
      runs.push_back(stored.run());
    }
    std::sort(runs.begin(), runs.end());
    return absl::NotFoundError(absl::StrCat(
        path_, ": cannot update run ", entry.run(), " of model \"", entry.name(), "\": ",
        runs.empty() ? std::string("the model has no runs")
                     : absl::StrCat("its runs are ", absl::StrJoin(runs, ", "))));
  });
}

absl::StatusOr<std::vector<RegistryEntry>> ModelRegistry::Runs(absl::string_view name) const {
  MC_ASSIGN_OR_RETURN(const serialization::ModelRegistry registry, ReadRegistry(path_));
  std::vector<RegistryEntry> runs;
  for (const RegistryEntry& entry : registry.entries()) {
    if (entry.name() == name) runs.push_back(entry);
  }
  if (runs.empty()) {
    return absl::NotFoundError(absl::StrCat(path_, ": no model named \"", name,
                                            "\" (known models: ", KnownNames(registry), ")"));
  }
  std::sort(runs.begin(), runs.end(),
            [](const RegistryEntry& a, const RegistryEntry& b) { return a.run() < b.run(); });
  return runs;
}

absl::StatusOr<RegistryEntry> ModelRegistry::LatestCompleted(absl::string_view name) const {
  MC_ASSIGN_OR_RETURN(const std::vector<RegistryEntry> runs, Runs(name));
  for (auto run = runs.rbegin(); run != runs.rend(); ++run) {
    if (run->status() == RegistryEntry::COMPLETED) return *run;
  }
  return absl::NotFoundError(absl::StrCat(path_, ": none of the ", runs.size(), " runs of model \"",
                                          name, "\" has completed"));
}

absl::StatusOr<std::vector<RegistryEntry>> ModelRegistry::List() const {
  MC_ASSIGN_OR_RETURN(const serialization::ModelRegistry registry, ReadRegistry(path_));
  return std::vector<RegistryEntry>(registry.entries().begin(), registry.entries().end());
}

}  // namespace mc::distill
