// File: huffman.h
// Canonical Huffman coding of quantized indices (level or point indices pooled over a whole
// model, as quantized distillation sizes its models), and the reference's size formulas.
// The code is optimal for the given counts (mean length within one bit of the entropy);
// canonical, so it is determined by the code lengths alone. Bit streams are LSB-first within
// each byte (the convention of quant/bitpack.h), each code written from its most significant
// bit. A single used symbol costs 0 bits, as in the reference.
//
// Example:
//   MC_ASSIGN_OR_RETURN(HuffmanCode code, HuffmanCode::FromCounts(counts));
//   double bits_per_weight = code.MeanBits(counts);
//   MC_ASSIGN_OR_RETURN(std::string bits, code.Encode(indices));
#ifndef MC_QUANT_HUFFMAN_H_
#define MC_QUANT_HUFFMAN_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace mc::quant {

/// A canonical Huffman code over symbols 0..n-1.
class HuffmanCode {
 public:
  /// Longest code this implementation builds (counts that would need longer codes are refused).
  static constexpr int kMaxLength = 57;

  /// The optimal code for `counts` (one per symbol, each >= 0). Unused symbols get no code.
  /// Ties between equal counts are broken by symbol order, so the code is deterministic.
  /// \error kInvalidArgument on a negative count, an empty or over 65536-symbol alphabet, or
  /// counts that need a code longer than kMaxLength bits.
  static absl::StatusOr<HuffmanCode> FromCounts(absl::Span<const int64_t> counts);

  int32_t num_symbols() const { return static_cast<int32_t>(lengths_.size()); }
  /// Code length of each symbol in bits (0 for unused symbols and a lone used symbol).
  const std::vector<uint8_t>& lengths() const { return lengths_; }

  /// sum of counts[s] * length(s). `counts` may be shorter than the alphabet (missing
  /// symbols count 0); a positive count of a symbol outside the alphabet is refused.
  /// \error kInvalidArgument naming the symbol.
  absl::StatusOr<int64_t> EncodedBits(absl::Span<const int64_t> counts) const;
  /// EncodedBits / sum of counts; 0 when there is nothing to count or on invalid counts.
  double MeanBits(absl::Span<const int64_t> counts) const;

  /// The bit stream of `symbols`. \error kInvalidArgument naming the first symbol that is
  /// outside the alphabet or has no code.
  absl::StatusOr<std::string> Encode(absl::Span<const int32_t> symbols) const;
  /// Decodes `count` symbols from `bits`. \error kDataLoss if the stream ends early or holds
  /// a bit pattern that is no code.
  absl::StatusOr<std::vector<int32_t>> Decode(absl::string_view bits, int64_t count) const;

 private:
  explicit HuffmanCode(std::vector<uint8_t> lengths);

  std::vector<uint8_t> lengths_;
  std::vector<uint64_t> codes_;          ///< canonical code of each symbol (its low `length` bits)
  std::vector<int32_t> sorted_symbols_;  ///< used symbols by (length, symbol)
  /// Per length L: the first canonical code of length L, how many codes have length L, and
  /// where they start in sorted_symbols_.
  std::vector<uint64_t> first_code_;
  std::vector<int64_t> length_count_;
  std::vector<int64_t> first_index_;
  int32_t lone_symbol_ = -1;  ///< the only used symbol, when there is exactly one
};

/// Bytes of a model as the reference (Polino et al.) counts them: 4 per unquantized
/// parameter, mean_bits / 8 per quantized one, and two float32 scales per bucket counted as
/// quantized_params / bucket_size (a fraction, as the reference); no scales when bucket_size
/// is 0 (one scaling for a whole tensor, which the reference does not count).
double ReferenceQuantizedModelBytes(int64_t unquantized_params, int64_t quantized_params,
                                    double mean_bits, int64_t bucket_size);

/// The reference's reduction factor against float32 of quantized weights alone:
/// k * 32 / (k * b + 64) with buckets of k elements, 32 / b without (k == 0).
double ReferenceSizeReduction(double mean_bits, int64_t bucket_size);

}  // namespace mc::quant

#endif  // MC_QUANT_HUFFMAN_H_
