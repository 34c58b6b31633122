#include "quant/huffman.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace mc::quant {
namespace {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "the bit stream is assembled in little-endian words");

// Codes of at most this many bits decode with one table lookup; longer ones continue
// canonically from the looked-up bits.
constexpr int kMaxTableBits = 11;

absl::Status CheckAlphabetSize(size_t size) {
  if (size == 0) return absl::InvalidArgumentError("Huffman code over an empty alphabet");
  if (size > static_cast<size_t>(HuffmanCode::kMaxSymbols)) {
    return absl::InvalidArgumentError(absl::StrCat("Huffman code over ", size, " symbols; at most ",
                                                   HuffmanCode::kMaxSymbols, " are supported"));
  }
  return absl::OkStatus();
}

// The total of `counts`. \error kInvalidArgument on a negative count or a total above
// kMaxTotalCount.
absl::StatusOr<int64_t> TotalCount(absl::Span<const int64_t> counts) {
  int64_t total = 0;
  for (size_t symbol = 0; symbol < counts.size(); ++symbol) {
    if (counts[symbol] < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("count of symbol ", symbol, " is negative (", counts[symbol], ")"));
    }
    if (counts[symbol] > HuffmanCode::kMaxTotalCount - total) {
      return absl::InvalidArgumentError(
          absl::StrCat("symbol counts total more than ", HuffmanCode::kMaxTotalCount, " (2^57)"));
    }
    total += counts[symbol];
  }
  return total;
}

uint32_t ReverseBits(uint32_t value, int bits) {
  uint32_t reversed = 0;
  for (int i = 0; i < bits; ++i) {
    reversed = (reversed << 1) | (value & 1);
    value >>= 1;
  }
  return reversed;
}

// Optimal code lengths of at most `max_length` bits for `weights` (at least two, in
// ascending order), by package-merge. Depth d holds the merged, ascending list of every
// weight (a leaf) and of the packages of adjacent pairs of depth d + 1's list; leaves go
// before packages of equal weight. The code takes the first 2n - 2 items at depth 1; a
// package selected at depth d selects its pair at depth d + 1, and the length of a symbol
// is the number of depths at which its leaf is selected. Selections are prefixes, and the
// leaves of a prefix are the lightest ones, so only each list's leaf flags are kept.
std::vector<uint8_t> PackageMergeLengths(const std::vector<int64_t>& weights, int max_length) {
  const size_t n = weights.size();
  std::vector<std::vector<bool>> is_leaf(max_length + 1);
  std::vector<int64_t> deeper;  // the list at depth + 1
  std::vector<int64_t> list;
  for (int depth = max_length; depth >= 1; --depth) {
    const size_t packages = deeper.size() / 2;
    list.clear();
    std::vector<bool>& leaf_flags = is_leaf[depth];
    size_t leaf = 0;
    size_t package = 0;
    while (leaf < n || package < packages) {
      const bool take_leaf =
          package == packages ||
          (leaf < n && weights[leaf] <= deeper[2 * package] + deeper[2 * package + 1]);
      if (take_leaf) {
        list.push_back(weights[leaf++]);
      } else {
        list.push_back(deeper[2 * package] + deeper[2 * package + 1]);
        ++package;
      }
      leaf_flags.push_back(take_leaf);
    }
    deeper.swap(list);
  }
  std::vector<uint8_t> lengths(n, 0);
  size_t selected = 2 * n - 2;
  for (int depth = 1; depth <= max_length && selected > 0; ++depth) {
    const std::vector<bool>& leaf_flags = is_leaf[depth];
    size_t leaves = 0;
    for (size_t i = 0; i < selected; ++i) leaves += leaf_flags[i];
    for (size_t i = 0; i < leaves; ++i) ++lengths[i];
    selected = 2 * (selected - leaves);
  }
  return lengths;
}

// Reads an LSB-first bit stream. Peek() returns the next 57 or more bits, zero past the
// end of the stream.
class BitReader {
 public:
  explicit BitReader(absl::string_view stream)
      : data_(reinterpret_cast<const uint8_t*>(stream.data())), size_(stream.size()) {}

  uint64_t Peek() const {
    const size_t byte = position_ >> 3;
    uint64_t word = 0;
    std::memcpy(&word, data_ + byte, std::min<size_t>(8, size_ - byte));
    return word >> (position_ & 7);
  }

  // Advances by `bits`; false (and no move) if that passes the end of the stream.
  bool Skip(int bits) {
    if (position_ + bits > 8 * size_) return false;
    position_ += bits;
    return true;
  }

  uint64_t position() const { return position_; }

 private:
  const uint8_t* data_;
  size_t size_;
  uint64_t position_ = 0;
};

}  // namespace

HuffmanCode::HuffmanCode(std::vector<uint8_t> lengths, int32_t sole_symbol)
    : lengths_(std::move(lengths)), sole_symbol_(sole_symbol) {
  BuildCanonicalCode();
}

absl::StatusOr<HuffmanCode> HuffmanCode::FromCounts(absl::Span<const int64_t> counts) {
  MC_RETURN_IF_ERROR(CheckAlphabetSize(counts.size()));
  MC_RETURN_IF_ERROR(TotalCount(counts).status());
  std::vector<int32_t> used;
  for (size_t symbol = 0; symbol < counts.size(); ++symbol) {
    if (counts[symbol] > 0) used.push_back(static_cast<int32_t>(symbol));
  }
  std::vector<uint8_t> lengths(counts.size(), 0);
  if (used.size() == 1) return HuffmanCode(std::move(lengths), used[0]);
  if (used.size() >= 2) {
    // Lightest first; of equal counts the higher symbol first, so that it gets the longer
    // code if either does.
    std::sort(used.begin(), used.end(), [&counts](int32_t a, int32_t b) {
      return counts[a] != counts[b] ? counts[a] < counts[b] : a > b;
    });
    std::vector<int64_t> weights(used.size());
    for (size_t i = 0; i < used.size(); ++i) weights[i] = counts[used[i]];
    // An optimal code is never deeper than n - 1.
    const int max_length = static_cast<int>(std::min<size_t>(kMaxHuffmanCodeBits, used.size() - 1));
    const std::vector<uint8_t> by_weight = PackageMergeLengths(weights, max_length);
    for (size_t i = 0; i < used.size(); ++i) lengths[used[i]] = by_weight[i];
  }
  return HuffmanCode(std::move(lengths), -1);
}

absl::StatusOr<HuffmanCode> HuffmanCode::FromLengths(absl::Span<const uint8_t> lengths,
                                                     int32_t sole_symbol) {
  MC_RETURN_IF_ERROR(CheckAlphabetSize(lengths.size()));
  std::vector<uint8_t> stored(lengths.begin(), lengths.end());
  const bool any_code = std::any_of(stored.begin(), stored.end(), [](uint8_t l) { return l; });
  if (sole_symbol != -1) {
    if (sole_symbol < 0 || sole_symbol >= static_cast<int32_t>(stored.size())) {
      return absl::InvalidArgumentError(absl::StrCat(
          "sole symbol ", sole_symbol, " is outside the alphabet of ", stored.size(), " symbols"));
    }
    if (any_code) {
      return absl::InvalidArgumentError(
          absl::StrCat("a code with sole symbol ", sole_symbol, " must have every code length 0"));
    }
    return HuffmanCode(std::move(stored), sole_symbol);
  }
  // Kraft sum in units of 2^-32.
  uint64_t kraft = 0;
  for (size_t symbol = 0; symbol < stored.size(); ++symbol) {
    if (stored[symbol] > kMaxHuffmanCodeBits) {
      return absl::InvalidArgumentError(absl::StrCat("code length of symbol ", symbol, " is ",
                                                     stored[symbol], " bits; at most ",
                                                     kMaxHuffmanCodeBits, " are allowed"));
    }
    if (stored[symbol] > 0) kraft += uint64_t{1} << (kMaxHuffmanCodeBits - stored[symbol]);
  }
  constexpr uint64_t kKraftOne = uint64_t{1} << kMaxHuffmanCodeBits;
  if (any_code && kraft != kKraftOne) {
    return absl::InvalidArgumentError(
        absl::StrCat("code lengths are not a complete prefix code: their Kraft sum is ",
                     static_cast<double>(kraft) / static_cast<double>(kKraftOne), " instead of 1 (",
                     kraft > kKraftOne ? "more codes than fit" : "unused codes", ")"));
  }
  return HuffmanCode(std::move(stored), -1);
}

void HuffmanCode::BuildCanonicalCode() {
  max_length_ = lengths_.empty() ? 0 : *std::max_element(lengths_.begin(), lengths_.end());
  codes_of_length_.assign(max_length_ + 1, 0);
  for (uint8_t length : lengths_) {
    if (length > 0) ++codes_of_length_[length];
  }
  first_code_.assign(max_length_ + 1, 0);
  first_index_.assign(max_length_ + 1, 0);
  uint64_t code = 0;
  uint32_t index = 0;
  for (int length = 1; length <= max_length_; ++length) {
    code = (code + codes_of_length_[length - 1]) << 1;
    first_code_[length] = code;
    first_index_[length] = index;
    index += codes_of_length_[length];
  }
  symbols_by_code_.assign(index, 0);
  reversed_codes_.assign(lengths_.size(), 0);
  std::vector<uint32_t> next_rank(max_length_ + 1, 0);
  for (int32_t symbol = 0; symbol < num_symbols(); ++symbol) {
    const int length = lengths_[symbol];
    if (length == 0) continue;
    const uint32_t rank = next_rank[length]++;
    symbols_by_code_[first_index_[length] + rank] = symbol;
    reversed_codes_[symbol] =
        ReverseBits(static_cast<uint32_t>(first_code_[length] + rank), length);
  }

  table_bits_ = std::min(max_length_, kMaxTableBits);
  table_.assign(max_length_ > 0 ? size_t{1} << table_bits_ : 0, TableEntry());
  for (int32_t symbol = 0; symbol < num_symbols(); ++symbol) {
    const int length = lengths_[symbol];
    if (length == 0 || length > table_bits_) continue;
    // Every table index whose low `length` bits are this code.
    for (size_t index = reversed_codes_[symbol]; index < table_.size();
         index += size_t{1} << length) {
      table_[index] = {static_cast<uint16_t>(symbol), static_cast<uint8_t>(length)};
    }
  }
  for (size_t index = 0; index < table_.size(); ++index) {
    if (table_[index].length == 0) {
      table_[index].symbol_or_prefix =
          static_cast<uint16_t>(ReverseBits(static_cast<uint32_t>(index), table_bits_));
    }
  }
}

absl::StatusOr<int64_t> HuffmanCode::EncodedBits(absl::Span<const int64_t> counts) const {
  if (counts.size() != lengths_.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "counts of ", counts.size(), " symbols for a code over ", lengths_.size(), " symbols"));
  }
  MC_RETURN_IF_ERROR(TotalCount(counts).status());
  int64_t bits = 0;
  for (int32_t symbol = 0; symbol < num_symbols(); ++symbol) {
    if (counts[symbol] > 0 && lengths_[symbol] == 0 && symbol != sole_symbol_) {
      return absl::InvalidArgumentError(
          absl::StrCat("symbol ", symbol, " has count ", counts[symbol], " but no code"));
    }
    bits += counts[symbol] * lengths_[symbol];
  }
  return bits;
}

absl::StatusOr<double> HuffmanCode::MeanBits(absl::Span<const int64_t> counts) const {
  MC_ASSIGN_OR_RETURN(const int64_t bits, EncodedBits(counts));
  MC_ASSIGN_OR_RETURN(const int64_t total, TotalCount(counts));
  if (total == 0) return 0.0;
  return static_cast<double>(bits) / static_cast<double>(total);
}

absl::StatusOr<std::string> HuffmanCode::Encode(absl::Span<const int32_t> symbols) const {
  uint64_t total_bits = 0;
  for (size_t i = 0; i < symbols.size(); ++i) {
    const int32_t symbol = symbols[i];
    if (symbol < 0 || symbol >= num_symbols()) {
      return absl::InvalidArgumentError(absl::StrCat("symbol ", symbol, " at position ", i,
                                                     " is outside the alphabet of ", num_symbols(),
                                                     " symbols"));
    }
    if (lengths_[symbol] == 0 && symbol != sole_symbol_) {
      return absl::InvalidArgumentError(
          absl::StrCat("symbol ", symbol, " at position ", i, " has no code"));
    }
    total_bits += lengths_[symbol];
  }
  std::string stream((total_bits + 7) / 8, '\0');
  char* out = stream.data();
  // At most 31 pending bits plus one code of at most 32 fit in the 64-bit buffer.
  uint64_t buffer = 0;
  int pending = 0;
  for (const int32_t symbol : symbols) {
    buffer |= static_cast<uint64_t>(reversed_codes_[symbol]) << pending;
    pending += lengths_[symbol];
    if (pending >= 32) {
      const uint32_t word = static_cast<uint32_t>(buffer);
      std::memcpy(out, &word, 4);
      out += 4;
      buffer >>= 32;
      pending -= 32;
    }
  }
  for (; pending > 0; pending -= 8) {
    *out++ = static_cast<char>(buffer & 0xff);
    buffer >>= 8;
  }
  return stream;
}

absl::StatusOr<std::vector<int32_t>> HuffmanCode::Decode(absl::string_view stream,
                                                         int64_t count) const {
  if (count < 0) {
    return absl::InvalidArgumentError(absl::StrCat("cannot decode ", count, " symbols"));
  }
  if (max_length_ == 0) {
    if (!stream.empty()) {
      return absl::DataLossError(absl::StrCat("Huffman stream of ", stream.size(),
                                              " bytes for a code whose symbols take no bits"));
    }
    if (sole_symbol_ < 0 && count > 0) {
      return absl::DataLossError(
          absl::StrCat("cannot decode ", count, " symbols with a code that has no symbols"));
    }
    return std::vector<int32_t>(count, sole_symbol_);
  }
  // Every code has at least one bit: refuse impossible counts before allocating.
  if (static_cast<uint64_t>(count) > 8 * static_cast<uint64_t>(stream.size())) {
    return absl::DataLossError(absl::StrCat("Huffman stream of ", stream.size(),
                                            " bytes is too short for ", count, " symbols"));
  }
  std::vector<int32_t> symbols(count);
  BitReader reader(stream);
  const uint64_t table_mask = (uint64_t{1} << table_bits_) - 1;
  for (int64_t i = 0; i < count; ++i) {
    const uint64_t bits = reader.Peek();
    const TableEntry& entry = table_[bits & table_mask];
    int length = entry.length;
    int32_t symbol = entry.symbol_or_prefix;
    if (length == 0) {
      // Longer than the table: extend the prefix one bit at a time, canonically.
      uint64_t code = entry.symbol_or_prefix;
      symbol = -1;
      for (length = table_bits_ + 1; length <= max_length_; ++length) {
        code = (code << 1) | ((bits >> (length - 1)) & 1);
        if (code >= first_code_[length] && code - first_code_[length] < codes_of_length_[length]) {
          symbol = symbols_by_code_[first_index_[length] + (code - first_code_[length])];
          break;
        }
      }
      if (symbol < 0) {
        return absl::DataLossError(
            absl::StrCat("invalid Huffman code for symbol ", i, " at bit ", reader.position()));
      }
    }
    if (!reader.Skip(length)) {
      return absl::DataLossError(absl::StrCat("Huffman stream of ", stream.size(),
                                              " bytes ends inside symbol ", i, " of ", count));
    }
    symbols[i] = symbol;
  }
  const uint64_t used_bytes = (reader.position() + 7) / 8;
  if (used_bytes != stream.size()) {
    return absl::DataLossError(absl::StrCat("Huffman stream has ", stream.size() - used_bytes,
                                            " trailing bytes after ", count, " symbols"));
  }
  const int padding_start = static_cast<int>(reader.position() % 8);
  if (padding_start != 0 && (static_cast<uint8_t>(stream.back()) >> padding_start) != 0) {
    return absl::DataLossError("Huffman stream has non-zero padding bits");
  }
  return symbols;
}

double ReferenceQuantizedModelBytes(int64_t unquantized_params, int64_t quantized_params,
                                    double mean_bits, int64_t bucket_size) {
  const double quantized = static_cast<double>(quantized_params);
  double bytes = 4.0 * static_cast<double>(unquantized_params) + mean_bits * quantized / 8.0;
  if (bucket_size > 0) bytes += quantized / static_cast<double>(bucket_size) * 8.0;
  return bytes;
}

double ReferenceSizeReduction(double mean_bits, int64_t bucket_size) {
  if (bucket_size <= 0) return 32.0 / mean_bits;
  const double k = static_cast<double>(bucket_size);
  return k * 32.0 / (k * mean_bits + 64.0);
}

}  // namespace mc::quant
