// File: model_registry.h
// A registry of trained models: one file that records every training run of every named
// model (method, model file, full configuration, metrics, status, times), so that later
// steps find a teacher or a student by name instead of by path. Several processes may
// train and register at once: writers serialize on an exclusive lock and never lose an
// entry, readers always see a whole file.
//
// Concurrency: every write takes an exclusive flock(2) on the sidecar file `<path>.lock`,
// re-reads the registry under the lock, applies its change and replaces the file
// atomically (serialization/atomic_file.h) before unlocking. Reads take no lock: the
// atomic rename means they see the registry before or after a write, never a mix. Each
// call opens its own lock descriptor, so threads of one process are serialized as well.
// flock is reliable on local file systems; do not share a registry over NFS.
//
// File layout: the container of serialization/container.h (magic "MCREGIS\x1a", format
// version kModelRegistryVersion, payload length and CRC-32) around a serialized
// mc.serialization.ModelRegistry (serialization/model_registry.proto). Version 1 files, which
// had no payload length, are refused with an error naming the version.
//
// Example:
//   ModelRegistry registry(dir + "/models.registry");
//   RegistryEntry entry;
//   entry.set_name("cifar10_teacher");
//   entry.set_method("float");
//   *entry.mutable_config() = config;
//   MC_ASSIGN_OR_RETURN(RegistryEntry run, registry.Add(entry));  // RUNNING, run 1, 2, ...
//   ... train, write the model ...
//   run.set_model_file(model_path);
//   run.set_status(RegistryEntry::COMPLETED);
//   (*run.mutable_metrics())["test_accuracy"] = accuracy;
//   MC_RETURN_IF_ERROR(registry.Update(run));
//   MC_ASSIGN_OR_RETURN(RegistryEntry teacher, registry.LatestCompleted("cifar10_teacher"));
#ifndef MC_DISTILL_MODEL_REGISTRY_H_
#define MC_DISTILL_MODEL_REGISTRY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "serialization/model_registry.pb.h"

namespace mc::distill {

/// Format version written in the registry file header. Readers refuse newer versions.
inline constexpr uint32_t kModelRegistryVersion = 2;

/// A registry file of trained models. Cheap to construct: the file is read by each call.
///
/// Every call that reads the file reports a file that exists but is not a registry,
/// is truncated or corrupt as kDataLoss naming the file (a newer format version as
/// kFailedPrecondition); writes then fail too and leave the file untouched.
class ModelRegistry {
 public:
  /// A registry stored at `path`. The file need not exist: it is created by the first
  /// write, in a directory that must exist.
  explicit ModelRegistry(std::string path);

  const std::string& path() const { return path_; }

  /// Adds a run of the model entry.name(): its run index is one more than the highest
  /// run of that name (1 for a new name), its created and updated times are now, and
  /// an unspecified status becomes RUNNING. Returns the entry as stored.
  /// \error kInvalidArgument if the name is empty; kNotFound if the directory does not
  /// exist; kInternal if the lock or the file cannot be written.
  absl::StatusOr<serialization::RegistryEntry> Add(serialization::RegistryEntry entry);

  /// Replaces run entry.run() of entry.name() with `entry` (e.g. RUNNING -> COMPLETED with
  /// metrics), keeping its created time and setting its updated time to now.
  /// \error kNotFound (listing the runs of the name) if there is no such run; else as Add.
  absl::Status Update(const serialization::RegistryEntry& entry);

  /// Every run of the model `name`, oldest first.
  /// \error kNotFound naming `name` and listing the known names if there is none.
  absl::StatusOr<std::vector<serialization::RegistryEntry>> Runs(absl::string_view name) const;

  /// The latest (highest run index) COMPLETED run of the model `name`.
  /// \error kNotFound if `name` is unknown or none of its runs completed.
  absl::StatusOr<serialization::RegistryEntry> LatestCompleted(absl::string_view name) const;

  /// Every entry in the order they were added; empty if the file does not exist yet.
  absl::StatusOr<std::vector<serialization::RegistryEntry>> List() const;

 private:
  std::string path_;
};

}  // namespace mc::distill

#endif  // MC_DISTILL_MODEL_REGISTRY_H_
