// File: model_file_checksum.h
// What the harnesses that read model files share: a copy of an input whose header states the
// payload's true length and CRC-32, so that mutations of the payload reach the protobuf
// parser and the readers behind it instead of stopping at the checksum.
#ifndef MC_TESTS_FUZZ_MODEL_FILE_CHECKSUM_H_
#define MC_TESTS_FUZZ_MODEL_FILE_CHECKSUM_H_

#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "serialization/model_file.h"

namespace mc::fuzz {

/// `bytes` (at least a header long) with the header's payload length (8 bytes at offset 12)
/// and CRC-32 (4 bytes at offset 20) rewritten to match the payload, little-endian.
inline std::string WithMatchingChecksum(absl::string_view bytes) {
  const auto put = [](std::string& out, size_t offset, uint64_t value, int width) {
    for (int i = 0; i < width; ++i) out[offset + i] = static_cast<char>(value >> (8 * i));
  };
  std::string fixed(bytes);
  const size_t payload = fixed.size() - serialization::kModelFileHeaderBytes;
  put(fixed, 12, payload, 8);
  const uLong crc = crc32(
      crc32(0L, Z_NULL, 0),
      reinterpret_cast<const Bytef*>(fixed.data() + serialization::kModelFileHeaderBytes),
      static_cast<uInt>(payload));
  put(fixed, 20, crc, 4);
  return fixed;
}

}  // namespace mc::fuzz

#endif  // MC_TESTS_FUZZ_MODEL_FILE_CHECKSUM_H_
