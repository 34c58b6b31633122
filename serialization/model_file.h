// File: model_file.h
// The compressed-model file: a serialized CompressedModel
// (serialization/compressed_model.proto) in the container of serialization/container.h, which
// detects truncation and corruption: magic "MCMODEL\x1a", format version kModelFileVersion,
// then the payload's length, its CRC-32 and the payload in protobuf binary form.
//
// Example:
//   MC_RETURN_IF_ERROR(WriteModelFile(dir + "/model.mcm", model));
//   MC_ASSIGN_OR_RETURN(CompressedModel restored, ReadModelFile(dir + "/model.mcm"));
#ifndef MC_SERIALIZATION_MODEL_FILE_H_
#define MC_SERIALIZATION_MODEL_FILE_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "serialization/container.h"
#include "serialization/compressed_model.pb.h"

namespace mc::serialization {

/// Version written by this library, both in the container header and in
/// CompressedModel.format_version. Readers reject newer versions.
inline constexpr uint32_t kModelFileVersion = 1;

/// Size of the container header before the payload.
inline constexpr size_t kModelFileHeaderBytes = kContainerHeaderBytes;

/// Encodes `model` into the container bytes (format_version is set to kModelFileVersion).
std::string EncodeModelFile(const CompressedModel& model);

/// Decodes container bytes; `source` names the input in error messages.
/// \error kDataLoss if the bytes are truncated, corrupt (CRC mismatch) or not a model file;
/// kFailedPrecondition if the file is from a newer, unknown format version.
absl::StatusOr<CompressedModel> DecodeModelFile(absl::string_view bytes,
                                                absl::string_view source);

/// Writes `model` to `path` atomically (see atomic_file.h).
absl::Status WriteModelFile(const std::string& path, const CompressedModel& model);

/// Reads and verifies a model file. Errors as DecodeModelFile, plus kNotFound.
absl::StatusOr<CompressedModel> ReadModelFile(const std::string& path);

}  // namespace mc::serialization

#endif  // MC_SERIALIZATION_MODEL_FILE_H_
