#include "quant/huffman.h"

#include <algorithm>
#include <functional>
#include <queue>
#include <tuple>

#include "absl/strings/str_cat.h"

namespace mc::quant {
namespace {

constexpr int64_t kMaxSymbols = 65536;

}  // namespace

absl::StatusOr<HuffmanCode> HuffmanCode::FromCounts(absl::Span<const int64_t> counts) {
  const int64_t n = static_cast<int64_t>(counts.size());
  if (n == 0 || n > kMaxSymbols) {
    return absl::InvalidArgumentError(
        absl::StrCat("Huffman code: need 1 to ", kMaxSymbols, " symbols, got ", n));
  }
  // Nodes 0..n-1 are the symbols, then the merged nodes in creation order; the heap pops the
  // lowest weight, then the lowest node number, which makes the code deterministic.
  std::vector<int64_t> parent(n, -1);
  using Entry = std::pair<int64_t, int64_t>;  // (weight, node)
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> heap;
  for (int64_t s = 0; s < n; ++s) {
    if (counts[s] < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("Huffman code: symbol ", s, " has a negative count ", counts[s]));
    }
    if (counts[s] > 0) heap.emplace(counts[s], s);
  }
  std::vector<uint8_t> lengths(n, 0);
  const size_t used = heap.size();
  if (used >= 2) {
    while (heap.size() > 1) {
      const Entry a = heap.top();
      heap.pop();
      const Entry b = heap.top();
      heap.pop();
      const int64_t node = static_cast<int64_t>(parent.size());
      parent.push_back(-1);
      parent[a.second] = node;
      parent[b.second] = node;
      heap.emplace(a.first + b.first, node);
    }
    // Depth of each node, from the root (the last node) down: parents come after children.
    std::vector<int32_t> depth(parent.size(), 0);
    for (int64_t node = static_cast<int64_t>(parent.size()) - 2; node >= 0; --node) {
      if (parent[node] >= 0) depth[node] = depth[parent[node]] + 1;
    }
    for (int64_t s = 0; s < n; ++s) {
      if (counts[s] == 0) continue;
      if (depth[s] > kMaxLength) {
        return absl::InvalidArgumentError(absl::StrCat(
            "Huffman code: these counts need a ", depth[s], "-bit code, over ", kMaxLength));
      }
      lengths[s] = static_cast<uint8_t>(depth[s]);
    }
  }
  HuffmanCode code(std::move(lengths));
  if (used == 1) {
    for (int64_t s = 0; s < n; ++s) {
      if (counts[s] > 0) code.lone_symbol_ = static_cast<int32_t>(s);
    }
  }
  return code;
}

HuffmanCode::HuffmanCode(std::vector<uint8_t> lengths)
    : lengths_(std::move(lengths)),
      codes_(lengths_.size(), 0),
      first_code_(kMaxLength + 2, 0),
      length_count_(kMaxLength + 2, 0),
      first_index_(kMaxLength + 2, 0) {
  for (int32_t s = 0; s < num_symbols(); ++s) {
    if (lengths_[s] > 0) sorted_symbols_.push_back(s);
  }
  std::stable_sort(sorted_symbols_.begin(), sorted_symbols_.end(),
                   [&](int32_t a, int32_t b) { return lengths_[a] < lengths_[b]; });
  for (const int32_t s : sorted_symbols_) ++length_count_[lengths_[s]];
  // Canonical codes: consecutive within a length; each length starts at (previous end) << 1.
  uint64_t next = 0;
  int64_t index = 0;
  for (int length = 1; length <= kMaxLength; ++length) {
    next <<= 1;
    first_code_[length] = next;
    first_index_[length] = index;
    next += static_cast<uint64_t>(length_count_[length]);
    index += length_count_[length];
  }
  for (int64_t i = 0; i < static_cast<int64_t>(sorted_symbols_.size()); ++i) {
    const int32_t s = sorted_symbols_[i];
    codes_[s] = first_code_[lengths_[s]] + static_cast<uint64_t>(i - first_index_[lengths_[s]]);
  }
}

absl::StatusOr<int64_t> HuffmanCode::EncodedBits(absl::Span<const int64_t> counts) const {
  int64_t bits = 0;
  for (size_t s = 0; s < counts.size(); ++s) {
    if (counts[s] == 0) continue;
    if (s >= lengths_.size() || counts[s] < 0 ||
        (lengths_[s] == 0 && static_cast<int32_t>(s) != lone_symbol_)) {
      return absl::InvalidArgumentError(
          absl::StrCat("Huffman code: symbol ", s, " (count ", counts[s], ") has no code"));
    }
    bits += counts[s] * lengths_[s];
  }
  return bits;
}

double HuffmanCode::MeanBits(absl::Span<const int64_t> counts) const {
  int64_t total = 0;
  for (const int64_t count : counts) total += count;
  const absl::StatusOr<int64_t> bits = EncodedBits(counts);
  if (!bits.ok() || total <= 0) return 0;
  return static_cast<double>(*bits) / static_cast<double>(total);
}

absl::StatusOr<std::string> HuffmanCode::Encode(absl::Span<const int32_t> symbols) const {
  std::string out;
  uint64_t buffer = 0;  // pending bits, the oldest in the low positions
  int pending = 0;
  for (size_t i = 0; i < symbols.size(); ++i) {
    const int32_t s = symbols[i];
    if (s < 0 || s >= num_symbols() || (lengths_[s] == 0 && s != lone_symbol_)) {
      return absl::InvalidArgumentError(
          absl::StrCat("Huffman code: symbol ", s, " at position ", i, " has no code"));
    }
    const int length = lengths_[s];
    for (int bit = length - 1; bit >= 0; --bit) {
      buffer |= ((codes_[s] >> bit) & 1u) << pending;
      if (++pending == 8) {
        out.push_back(static_cast<char>(buffer));
        buffer = 0;
        pending = 0;
      }
    }
  }
  if (pending > 0) out.push_back(static_cast<char>(buffer));
  return out;
}

absl::StatusOr<std::vector<int32_t>> HuffmanCode::Decode(absl::string_view bits,
                                                         int64_t count) const {
  std::vector<int32_t> symbols;
  if (count <= 0) return symbols;
  if (lone_symbol_ >= 0) return std::vector<int32_t>(static_cast<size_t>(count), lone_symbol_);
  if (sorted_symbols_.empty()) {
    return absl::DataLossError("Huffman code: no symbol has a code, cannot decode");
  }
  symbols.reserve(static_cast<size_t>(count));
  const uint64_t total_bits = static_cast<uint64_t>(bits.size()) * 8;
  uint64_t position = 0;
  while (static_cast<int64_t>(symbols.size()) < count) {
    uint64_t code = 0;
    int length = 0;
    while (true) {
      if (position >= total_bits) {
        return absl::DataLossError(absl::StrCat("Huffman stream ends after ", symbols.size(),
                                                " of ", count, " symbols"));
      }
      code = (code << 1) | ((static_cast<uint8_t>(bits[position >> 3]) >> (position & 7)) & 1u);
      ++position;
      ++length;
      if (length > kMaxLength) {
        return absl::DataLossError(
            absl::StrCat("Huffman stream holds no valid code at symbol ", symbols.size()));
      }
      const uint64_t offset = code - first_code_[length];
      if (code >= first_code_[length] && offset < static_cast<uint64_t>(length_count_[length])) {
        symbols.push_back(sorted_symbols_[first_index_[length] + static_cast<int64_t>(offset)]);
        break;
      }
    }
  }
  return symbols;
}

double ReferenceQuantizedModelBytes(int64_t unquantized_params, int64_t quantized_params,
                                    double mean_bits, int64_t bucket_size) {
  const double scales =
      bucket_size > 0 ? static_cast<double>(quantized_params) / static_cast<double>(bucket_size) * 8 : 0;
  return 4.0 * static_cast<double>(unquantized_params) +
         mean_bits * static_cast<double>(quantized_params) / 8 + scales;
}

double ReferenceSizeReduction(double mean_bits, int64_t bucket_size) {
  if (bucket_size <= 0) return 32 / mean_bits;
  const double k = static_cast<double>(bucket_size);
  return k * 32 / (k * mean_bits + 64);
}

}  // namespace mc::quant
