#include "quant/bitpack.h"

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "absl/strings/str_cat.h"

namespace mc::quant {
namespace {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "the block loops assume a little-endian host");

// Eight values of B bits fill exactly B bytes, so the stream is processed in blocks of
// eight values: a block is assembled in a 64-bit word (128-bit above 8 bits) and moved
// with fixed-size memcpy, which the compiler turns into plain loads and stores. B is a
// template parameter so that shifts and masks are constants.
template <int B>
using BlockWord = std::conditional_t<(B <= 8), uint64_t, unsigned __int128>;

// Assembles block `block` (eight values) into a word; ORs the values into `overflow`.
template <int B>
BlockWord<B> PackBlock(const uint16_t* in, uint32_t& overflow) {
  BlockWord<B> word = 0;
  for (int k = 0; k < 8; ++k) {
    overflow |= in[k];
    word |= static_cast<BlockWord<B>>(in[k]) << (k * B);
  }
  return word;
}

template <int B>
bool PackBlocks(const uint16_t* values, size_t count, uint8_t* out) {
  const size_t blocks = count / 8;
  const size_t out_bytes = PackedBytes(count, B);
  uint32_t overflow = 0;
  size_t block = 0;
  // While a full word fits in the output, store all of it: the bytes past this block's B
  // are overwritten by the next block, and one wide store beats several narrow ones.
  for (; block < blocks && B * block + sizeof(BlockWord<B>) <= out_bytes; ++block) {
    const BlockWord<B> word = PackBlock<B>(values + 8 * block, overflow);
    std::memcpy(out + B * block, &word, sizeof(word));
  }
  for (; block < blocks; ++block) {
    const BlockWord<B> word = PackBlock<B>(values + 8 * block, overflow);
    std::memcpy(out + B * block, &word, B);
  }
  // The last partial block, zero-padded.
  const size_t rest = count - 8 * blocks;
  if (rest > 0) {
    const uint16_t* in = values + 8 * blocks;
    unsigned __int128 word = 0;
    for (size_t k = 0; k < rest; ++k) {
      overflow |= in[k];
      word |= static_cast<unsigned __int128>(in[k]) << (k * B);
    }
    std::memcpy(out + B * blocks, &word, (rest * B + 7) / 8);
  }
  return (overflow >> B) == 0;
}

template <int B>
void UnpackBlock(BlockWord<B> word, uint16_t* out) {
  constexpr BlockWord<B> kMask = (BlockWord<B>{1} << B) - 1;
  for (int k = 0; k < 8; ++k) out[k] = static_cast<uint16_t>((word >> (k * B)) & kMask);
}

template <int B>
void UnpackBlocks(const uint8_t* packed, size_t count, uint16_t* values) {
  const size_t blocks = count / 8;
  const size_t packed_bytes = PackedBytes(count, B);
  size_t block = 0;
  // Wide loads while they stay inside the input; the extra bytes are masked off.
  for (; block < blocks && B * block + sizeof(BlockWord<B>) <= packed_bytes; ++block) {
    BlockWord<B> word;
    std::memcpy(&word, packed + B * block, sizeof(word));
    UnpackBlock<B>(word, values + 8 * block);
  }
  for (; block < blocks; ++block) {
    BlockWord<B> word = 0;
    std::memcpy(&word, packed + B * block, B);
    UnpackBlock<B>(word, values + 8 * block);
  }
  const size_t rest = count - 8 * blocks;
  if (rest > 0) {
    constexpr uint32_t kMask = (uint32_t{1} << B) - 1;
    unsigned __int128 word = 0;
    std::memcpy(&word, packed + B * blocks, (rest * B + 7) / 8);
    for (size_t k = 0; k < rest; ++k) {
      values[8 * blocks + k] = static_cast<uint16_t>((word >> (k * B)) & kMask);
    }
  }
}

using PackFn = bool (*)(const uint16_t*, size_t, uint8_t*);
using UnpackFn = void (*)(const uint8_t*, size_t, uint16_t*);

constexpr PackFn kPackByBits[] = {nullptr,         PackBlocks<1>,  PackBlocks<2>,  PackBlocks<3>,
                                  PackBlocks<4>,   PackBlocks<5>,  PackBlocks<6>,  PackBlocks<7>,
                                  PackBlocks<8>,   PackBlocks<9>,  PackBlocks<10>, PackBlocks<11>,
                                  PackBlocks<12>,  PackBlocks<13>, PackBlocks<14>, PackBlocks<15>,
                                  PackBlocks<16>};
constexpr UnpackFn kUnpackByBits[] = {
    nullptr,          UnpackBlocks<1>,  UnpackBlocks<2>,  UnpackBlocks<3>,  UnpackBlocks<4>,
    UnpackBlocks<5>,  UnpackBlocks<6>,  UnpackBlocks<7>,  UnpackBlocks<8>,  UnpackBlocks<9>,
    UnpackBlocks<10>, UnpackBlocks<11>, UnpackBlocks<12>, UnpackBlocks<13>, UnpackBlocks<14>,
    UnpackBlocks<15>, UnpackBlocks<16>};

absl::Status CheckBits(int bits) {
  if (bits < kMinPackBits || bits > kMaxPackBits) {
    return absl::InvalidArgumentError(
        absl::StrCat("bit width ", bits, " is outside [", kMinPackBits, ", ", kMaxPackBits, "]"));
  }
  return absl::OkStatus();
}

// Checks that `packed_bytes` bytes hold exactly `count` values of `bits` bits.
absl::Status CheckPackedSize(size_t packed_bytes, int bits, size_t count) {
  if (absl::Status status = CheckBits(bits); !status.ok()) return status;
  // Each value takes at least one bit; ruling out larger counts first also keeps PackedBytes
  // from overflowing.
  if (count / 8 > packed_bytes) {
    return absl::DataLossError(absl::StrCat(count, " values of ", bits, " bits do not fit in ",
                                            packed_bytes, " bytes"));
  }
  if (packed_bytes != PackedBytes(count, bits)) {
    return absl::DataLossError(absl::StrCat(count, " values of ", bits, " bits take ",
                                            PackedBytes(count, bits), " bytes, got ",
                                            packed_bytes));
  }
  return absl::OkStatus();
}

}  // namespace

size_t PackedBytes(size_t count, int bits) {
  return (count * static_cast<size_t>(bits) + 7) / 8;
}

int BitsFor(uint32_t max_value) {
  int bits = 1;
  while (bits < 32 && (max_value >> bits) != 0) ++bits;
  return bits;
}

absl::Status PackBits(absl::Span<const uint16_t> values, int bits, absl::Span<uint8_t> out) {
  if (absl::Status status = CheckBits(bits); !status.ok()) return status;
  if (out.size() != PackedBytes(values.size(), bits)) {
    return absl::InvalidArgumentError(absl::StrCat("packing ", values.size(), " values of ", bits,
                                                   " bits needs ", PackedBytes(values.size(), bits),
                                                   " bytes, the output has ", out.size()));
  }
  if (!kPackByBits[bits](values.data(), values.size(), out.data())) {
    return absl::InvalidArgumentError(
        absl::StrCat("a value does not fit in ", bits, " bits (maximum ", (1 << bits) - 1, ")"));
  }
  return absl::OkStatus();
}

absl::Status UnpackBits(absl::Span<const uint8_t> packed, int bits, absl::Span<uint16_t> out) {
  if (absl::Status status = CheckPackedSize(packed.size(), bits, out.size()); !status.ok()) {
    return status;
  }
  kUnpackByBits[bits](packed.data(), out.size(), out.data());
  return absl::OkStatus();
}

absl::StatusOr<std::string> PackBitsToString(absl::Span<const uint16_t> values, int bits) {
  if (absl::Status status = CheckBits(bits); !status.ok()) return status;
  std::string out(PackedBytes(values.size(), bits), '\0');
  absl::Status status = PackBits(
      values, bits, absl::MakeSpan(reinterpret_cast<uint8_t*>(out.data()), out.size()));
  if (!status.ok()) return status;
  return out;
}

absl::StatusOr<std::vector<uint16_t>> UnpackBitsFromString(const std::string& packed, int bits,
                                                           size_t count) {
  if (absl::Status status = CheckPackedSize(packed.size(), bits, count); !status.ok()) {
    return status;
  }
  std::vector<uint16_t> values(count);
  kUnpackByBits[bits](reinterpret_cast<const uint8_t*>(packed.data()), count, values.data());
  return values;
}

void PackBitsRef(absl::Span<const uint16_t> values, int bits, absl::Span<uint8_t> out) {
  std::fill(out.begin(), out.end(), 0);
  for (size_t i = 0; i < values.size(); ++i) {
    for (int b = 0; b < bits; ++b) {
      const size_t position = i * bits + b;
      if ((values[i] >> b) & 1) out[position / 8] |= static_cast<uint8_t>(1u << (position % 8));
    }
  }
}

void UnpackBitsRef(absl::Span<const uint8_t> packed, int bits, absl::Span<uint16_t> out) {
  for (size_t i = 0; i < out.size(); ++i) {
    uint16_t value = 0;
    for (int b = 0; b < bits; ++b) {
      const size_t position = i * bits + b;
      value |= static_cast<uint16_t>(((packed[position / 8] >> (position % 8)) & 1) << b);
    }
    out[i] = value;
  }
}

}  // namespace mc::quant
