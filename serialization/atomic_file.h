// File: atomic_file.h
// Whole-file reads and crash-safe writes. A write goes to a temporary file in the target's
// directory, is flushed to disk (fsync) and renamed over the target, then the directory is
// synced: after a crash the target holds either its old content or the new one, never a mix.
// Appends (logs such as metrics.jsonl) are flushed to disk before they return.
//
// Example:
//   MC_RETURN_IF_ERROR(WriteFileAtomically(dir + "/summary.json", json));
//   MC_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(dir + "/summary.json"));
//   MC_RETURN_IF_ERROR(AppendToFile(dir + "/metrics.jsonl", line + "\n"));
#ifndef MC_SERIALIZATION_ATOMIC_FILE_H_
#define MC_SERIALIZATION_ATOMIC_FILE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mc::serialization {

/// Replaces `path` with `contents` atomically (temp file, fsync, rename, directory fsync).
/// \error kNotFound if the directory does not exist; kInternal (with errno text) if a write
/// fails, e.g. a full disk, in which case `path` keeps its previous content.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents);

/// Appends `contents` to `path` (created if missing) and flushes the file to disk (fsync):
/// after a crash it holds everything appended before, and possibly a torn end of `contents`.
/// \error kInternal naming the file (with errno text) if it cannot be opened or written.
absl::Status AppendToFile(const std::string& path, absl::string_view contents);

/// Reads the whole file.
/// \error kNotFound if it does not exist; kInternal if it cannot be read.
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

/// Creates `path` and its missing parents (like mkdir -p).
/// \error kInternal naming the directory that could not be created.
absl::Status CreateDirectories(const std::string& path);

/// Deletes the temporary files that interrupted WriteFileAtomically calls (a crash or a kill
/// between the temporary's creation and its rename) left in `directory`: the files named
/// `<name>.tmp.XXXXXX`. Only for a directory no other process is writing to. Returns how
/// many were deleted. \error kInternal naming the directory or file that could not be
/// listed or deleted.
absl::StatusOr<int> RemoveStaleTemporaryFiles(const std::string& directory);

}  // namespace mc::serialization

#endif  // MC_SERIALIZATION_ATOMIC_FILE_H_
