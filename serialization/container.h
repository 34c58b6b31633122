// File: container.h
// The binary container of this project's files (model files, the distillation model
// registry): a payload framed by a magic number, a format version, the payload's length and
// its CRC-32, so that truncated, corrupt and foreign files are told apart from good ones.
//
// Layout (little-endian):
//   offset 0   8 bytes  magic number, one per kind of file
//   offset 8   uint32   format version
//   offset 12  uint64   payload length in bytes
//   offset 20  uint32   CRC-32 (zlib's crc32) of the payload
//   offset 24  payload
//
// Example:
//   constexpr ContainerFormat kFormat{"MCMODEL\x1a", 1, 1, "model file"};
//   std::string bytes = EncodeContainer(kFormat, payload);
//   MC_ASSIGN_OR_RETURN(absl::string_view payload, DecodeContainer(kFormat, bytes, path));
#ifndef MC_SERIALIZATION_CONTAINER_H_
#define MC_SERIALIZATION_CONTAINER_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mc::serialization {

/// Size of the container header before the payload.
inline constexpr size_t kContainerHeaderBytes = 24;

/// One kind of file.
struct ContainerFormat {
  /// Exactly 8 bytes.
  const char* magic;
  /// Versions this build reads; it writes `version`.
  uint32_t min_version;
  uint32_t version;
  /// The kind of file in error messages ("model file").
  const char* what;
};

/// `payload` framed as `format`, at format.version.
std::string EncodeContainer(const ContainerFormat& format, absl::string_view payload);

/// The payload of `bytes` (a view into them) and its format version; `source` names the
/// input in error messages.
/// \error kDataLoss if the bytes are truncated, have trailing bytes, are corrupt (CRC
/// mismatch) or are not this kind of file; kFailedPrecondition for a format version outside
/// [min_version, version].
struct ContainerPayload {
  absl::string_view payload;
  uint32_t version = 0;
};
absl::StatusOr<ContainerPayload> DecodeContainer(const ContainerFormat& format,
                                                 absl::string_view bytes,
                                                 absl::string_view source);

}  // namespace mc::serialization

#endif  // MC_SERIALIZATION_CONTAINER_H_
