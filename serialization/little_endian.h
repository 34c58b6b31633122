// File: little_endian.h
// Fixed-width little-endian integers in byte strings, for the binary formats of this package
// (container.h, event_writer.h), independent of the host's byte order.
//
// Example:
//   AppendLittleEndian(out, payload.size(), 8);
//   const uint64_t length = ReadLittleEndian(bytes, offset, 8);
#ifndef MC_SERIALIZATION_LITTLE_ENDIAN_H_
#define MC_SERIALIZATION_LITTLE_ENDIAN_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace mc::serialization {

/// Appends the low `width` bytes of `value` (1 to 8), least significant first.
inline void AppendLittleEndian(std::string& out, uint64_t value, int width) {
  for (int i = 0; i < width; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

/// The `width`-byte (1 to 8) integer at `offset`; the caller checks that the bytes exist.
inline uint64_t ReadLittleEndian(absl::string_view bytes, size_t offset, int width) {
  uint64_t value = 0;
  for (int i = 0; i < width; ++i) {
    value |= static_cast<uint64_t>(static_cast<unsigned char>(bytes[offset + i])) << (8 * i);
  }
  return value;
}

}  // namespace mc::serialization

#endif  // MC_SERIALIZATION_LITTLE_ENDIAN_H_
