// File: bitpack.h
// Packs integer levels of 1 to 16 bits into bytes and back, at memory speed. Every
// compressed tensor stores its levels, indices or assignments this way.
//
// Layout: one little-endian bit stream. Value i occupies bits [i*bits, (i+1)*bits) of the
// stream, least significant bit first; bit j of the stream is bit (j % 8) of byte j / 8.
// The last byte is zero-padded. Packing n values takes ceil(n * bits / 8) bytes, with no
// header and no per-block padding.
//
// Example:
//   std::vector<uint8_t> packed(PackedBytes(levels.size(), 4));
//   MC_RETURN_IF_ERROR(PackBits(levels, 4, absl::MakeSpan(packed)));
//   MC_RETURN_IF_ERROR(UnpackBits(packed, 4, absl::MakeSpan(levels)));
#ifndef MC_QUANT_BITPACK_H_
#define MC_QUANT_BITPACK_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace mc::quant {

/// Widths PackBits accepts.
inline constexpr int kMinPackBits = 1;
inline constexpr int kMaxPackBits = 16;

/// Bytes that `count` values of `bits` bits take: ceil(count * bits / 8).
size_t PackedBytes(size_t count, int bits);

/// Packs `values` into `out`, which must hold exactly PackedBytes(values.size(), bits).
/// \error kInvalidArgument if bits is outside [1, 16], `out` has the wrong size, or a
/// value does not fit in `bits` bits (then the content of `out` is unspecified).
absl::Status PackBits(absl::Span<const uint16_t> values, int bits, absl::Span<uint8_t> out);

/// Unpacks out.size() values of `bits` bits from `packed`, which must hold exactly
/// PackedBytes(out.size(), bits) bytes.
/// \error kInvalidArgument if bits is outside [1, 16]; kDataLoss if `packed` has the wrong
/// size for the number of values.
absl::Status UnpackBits(absl::Span<const uint8_t> packed, int bits, absl::Span<uint16_t> out);

/// PackBits into a new byte string (the form of the `bytes` fields of compressed_model.proto).
absl::StatusOr<std::string> PackBitsToString(absl::Span<const uint16_t> values, int bits);

/// UnpackBits from a byte string into `count` new values. The size of `packed` is checked
/// before the values are allocated, so a corrupt count from a file cannot exhaust memory.
/// \error as UnpackBits.
absl::StatusOr<std::vector<uint16_t>> UnpackBitsFromString(const std::string& packed, int bits,
                                                           size_t count);

/// Smallest width that holds `max_value`: max(1, ceil(log2(max_value + 1))).
int BitsFor(uint32_t max_value);

/// Bit-by-bit reference implementations of the same layout, for tests.
void PackBitsRef(absl::Span<const uint16_t> values, int bits, absl::Span<uint8_t> out);
void UnpackBitsRef(absl::Span<const uint8_t> packed, int bits, absl::Span<uint16_t> out);

}  // namespace mc::quant

#endif  // MC_QUANT_BITPACK_H_
