// File: huffman.h
// Canonical Huffman coding of quantized level indices, and the model-size formulas of
// quantized distillation (Polino et al. 2018), which price a quantized model by the mean
// Huffman code length of its levels pooled over all quantized tensors into one alphabet.
//
// A code is determined by its code lengths: symbols sorted by (length, symbol) receive
// consecutive codes (the canonical code of DEFLATE), so a file stores only the lengths.
// Layout of an encoded stream: the codes of the symbols one after the other, each code
// most significant bit first, in a bit stream that fills each byte least significant bit
// first (the convention of quant/bitpack.h); the last byte is zero-padded.
//
// Example:
//   MC_ASSIGN_OR_RETURN(HuffmanCode code, HuffmanCode::FromCounts(level_counts));
//   MC_ASSIGN_OR_RETURN(double mean_bits, code.MeanBits(level_counts));
//   MC_ASSIGN_OR_RETURN(std::string stream, code.Encode(levels));
//   // ... store code.lengths(), code.sole_symbol(), stream and levels.size(); then:
//   MC_ASSIGN_OR_RETURN(HuffmanCode stored, HuffmanCode::FromLengths(lengths, sole_symbol));
//   MC_ASSIGN_OR_RETURN(std::vector<int32_t> decoded, stored.Decode(stream, count));
#ifndef MC_QUANT_HUFFMAN_H_
#define MC_QUANT_HUFFMAN_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace mc::quant {

/// A canonical Huffman code over the symbols 0..num_symbols()-1.
///
/// Code lengths are optimal (minimum sum of count x length over all prefix codes) among
/// codes of at most kMaxHuffmanCodeBits bits, computed by package-merge (Larmore and
/// Hirschberg 1990). That is the Huffman optimum whenever a Huffman code fits in 32 bits,
/// which it always does when the counts total less than 9,227,465 (the Fibonacci number
/// F(35); fewer cannot build a deeper Huffman tree). Ties are broken deterministically: of
/// two symbols with equal counts, the lower one never gets the longer code.
///
/// Unused symbols have length 0 and no code. A code with exactly one used symbol gives it
/// the empty code (length 0, as in the reference: the stream holds no bits); lengths() then
/// cannot tell which symbol it is, so sole_symbol() records it.
class HuffmanCode {
 public:
  /// Largest alphabet accepted.
  static constexpr int32_t kMaxSymbols = 1 << 16;
  /// Longest code.
  static constexpr int kMaxHuffmanCodeBits = 32;
  /// Largest total of the counts (keeps every weight sum in int64).
  static constexpr int64_t kMaxTotalCount = int64_t{1} << 57;

  /// The optimal code for the given symbol counts (counts.size() symbols).
  /// \error kInvalidArgument on an empty alphabet, more than kMaxSymbols symbols, a
  /// negative count, or counts totalling more than kMaxTotalCount.
  static absl::StatusOr<HuffmanCode> FromCounts(absl::Span<const int64_t> counts);

  /// Rebuilds the canonical code from its lengths (one per symbol, 0 for unused) and, for
  /// a one-symbol code, its sole symbol (-1 for none): FromLengths(c.lengths(),
  /// c.sole_symbol()) reproduces c.
  /// \error kInvalidArgument on an empty or too large alphabet, a length above 32, lengths
  /// that are not a complete prefix code (Kraft sum above or below 1) when any is non-zero,
  /// or a sole symbol that is out of range or given together with non-zero lengths.
  static absl::StatusOr<HuffmanCode> FromLengths(absl::Span<const uint8_t> lengths,
                                                 int32_t sole_symbol = -1);

  /// Size of the alphabet.
  int32_t num_symbols() const { return static_cast<int32_t>(lengths_.size()); }

  /// Bits of each symbol's code (0 for unused symbols and for the sole symbol).
  const std::vector<uint8_t>& lengths() const { return lengths_; }

  /// The symbol of a one-symbol code, which every decoded symbol is; -1 otherwise.
  int32_t sole_symbol() const { return sole_symbol_; }

  /// Bits that symbols with these counts take: sum of counts[s] * lengths()[s].
  /// \error kInvalidArgument if counts.size() != num_symbols(), a count is negative, the
  /// total exceeds kMaxTotalCount, or a symbol without a code has a positive count.
  absl::StatusOr<int64_t> EncodedBits(absl::Span<const int64_t> counts) const;

  /// EncodedBits divided by the total count (0 when the total is 0): the reference's mean
  /// bits per quantized weight. \error as EncodedBits.
  absl::StatusOr<double> MeanBits(absl::Span<const int64_t> counts) const;

  /// Encodes `symbols` into a bit stream of ceil(EncodedBits / 8) bytes (layout above).
  /// \error kInvalidArgument naming the position and value of the first symbol that is out
  /// of range or has no code.
  absl::StatusOr<std::string> Encode(absl::Span<const int32_t> symbols) const;

  /// Decodes `count` symbols from a stream written by Encode. The stream must be exactly
  /// what Encode wrote: its length is checked and its padding bits must be zero.
  /// \error kDataLoss when the stream is too short, too long, holds a code no symbol has,
  /// has non-zero padding, or count > 0 for a code without symbols; kInvalidArgument when
  /// count is negative.
  absl::StatusOr<std::vector<int32_t>> Decode(absl::string_view stream, int64_t count) const;

 private:
  // One entry of the decoding table, indexed by the next table_bits_ stream bits.
  struct TableEntry {
    // The symbol; for a code longer than table_bits_, the table_bits_ bits read so far as a
    // number, most significant first (the prefix of the code).
    uint16_t symbol_or_prefix = 0;
    uint8_t length = 0;  // 0: the code is longer than table_bits_
  };

  HuffmanCode(std::vector<uint8_t> lengths, int32_t sole_symbol);

  // Assigns canonical codes from lengths_ and builds the decoding tables.
  void BuildCanonicalCode();

  std::vector<uint8_t> lengths_;
  int32_t sole_symbol_ = -1;
  int max_length_ = 0;
  // Code of each symbol, bit-reversed so that it can be OR-ed into the LSB-first stream.
  std::vector<uint32_t> reversed_codes_;
  // Canonical decoding: for each length l, the first code of that length, the number of
  // codes of that length, and where its symbols start in symbols_by_code_.
  std::vector<uint64_t> first_code_;
  std::vector<uint32_t> codes_of_length_;
  std::vector<uint32_t> first_index_;
  std::vector<int32_t> symbols_by_code_;
  int table_bits_ = 0;
  std::vector<TableEntry> table_;
};

/// Bytes of a quantized model as the reference counts them (its get_size_quantized_model
/// in bytes rather than 10^6 bytes): 4 per unquantized parameter, mean_bits / 8 per
/// quantized one, and two float32 scales per bucket, with quantized_params / bucket_size
/// buckets as a float division. bucket_size <= 0 means no bucketing and counts no scales.
double ReferenceQuantizedModelBytes(int64_t unquantized_params, int64_t quantized_params,
                                    double mean_bits, int64_t bucket_size);

/// The reference's size reduction against float32 (its get_size_reduction):
/// k * 32 / (k * mean_bits + 64) with buckets of k = bucket_size > 0 values, 32 / mean_bits
/// without bucketing (infinite when mean_bits is 0).
double ReferenceSizeReduction(double mean_bits, int64_t bucket_size);

}  // namespace mc::quant

#endif  // MC_QUANT_HUFFMAN_H_
