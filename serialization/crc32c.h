// File: crc32c.h
// CRC-32C (Castagnoli: polynomial 0x1EDC6F41, reflected 0x82F63B78, initial value and final
// xor 0xFFFFFFFF), the checksum of TFRecord files (serialization/event_writer.h). Abseil
// 20220623 has no CRC library and zlib's crc32 uses the other (IEEE) polynomial.
//
// Example:
//   const uint32_t crc = Crc32c("123456789");  // 0xE3069283
//   const uint32_t stored = MaskCrc32c(crc);   // as a TFRecord stores it
#ifndef MC_SERIALIZATION_CRC32C_H_
#define MC_SERIALIZATION_CRC32C_H_

#include <cstdint>

#include "absl/strings/string_view.h"

namespace mc::serialization {

/// CRC-32C of `bytes` (table-driven, one byte at a time: event records are small).
uint32_t Crc32c(absl::string_view bytes);

/// The masked form TFRecord stores, ((crc >> 15) | (crc << 17)) + 0xA282EAD8: a CRC of data
/// that itself holds CRCs is then no longer a fixed point of the computation.
uint32_t MaskCrc32c(uint32_t crc);

}  // namespace mc::serialization

#endif  // MC_SERIALIZATION_CRC32C_H_
