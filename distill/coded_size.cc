#include "distill/coded_size.h"

#include <ATen/ATen.h>

#include <map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "quant/huffman.h"
#include "quant/learned_points.h"
#include "quant/uniform.h"
#include "quant/uniform_codec.h"
#include "serialization/tensor_codec.h"

namespace mc::distill {
namespace {

// Symbol counts of one quantized tensor and its number of buckets.
struct TensorSymbols {
  at::Tensor counts;  ///< int64 (symbols)
  int64_t buckets = 0;
  int64_t bucket_size = 0;
};

absl::StatusOr<TensorSymbols> Symbols(const serialization::CompressedTensor& tensor) {
  MC_ASSIGN_OR_RETURN(const int64_t numel, serialization::NumElements(tensor));
  TensorSymbols symbols;
  if (tensor.has_uniform()) {
    MC_ASSIGN_OR_RETURN(const quant::DecodedUniform decoded, quant::DecodeUniformLevels(tensor));
    symbols.counts = at::bincount(decoded.quantized.levels.reshape({-1}).to(at::kLong));
    symbols.bucket_size = decoded.layout.scale_group_size;
    // The step form stores one float32 step; ranges store two float32 per group.
    symbols.buckets = decoded.step.defined() ? 0 : quant::NumGroups(numel, symbols.bucket_size);
  } else {
    MC_ASSIGN_OR_RETURN(const quant::DecodedLearnedPoints decoded,
                        quant::DecodeLearnedPointsIndices(tensor));
    symbols.counts = at::bincount(decoded.indices.reshape({-1}));
    symbols.bucket_size = decoded.scaling.bucket_size;
    symbols.buckets = quant::NumGroups(numel, symbols.bucket_size);
  }
  return symbols;
}

// The reference formula's scales: quantized / bucket_size buckets (a float division) of two
// float32 each, for each bucket size in use (one per model in the reference; one per
// tensor with per-channel buckets).
double ReferenceScaleBytes(const std::map<int64_t, int64_t>& quantized_by_bucket_size) {
  double bytes = 0;
  for (const auto& [bucket_size, quantized] : quantized_by_bucket_size) {
    if (bucket_size > 0) {
      bytes += static_cast<double>(quantized) / static_cast<double>(bucket_size) * 8.0;
    }
  }
  return bytes;
}

}  // namespace

absl::StatusOr<CodedSize> HuffmanCodedSize(const serialization::CompressedModel& state,
                                           const std::set<std::string>& parameter_names) {
  CodedSize size;
  std::vector<int64_t> pooled;
  std::vector<std::pair<std::string, std::vector<int64_t>>> per_tensor;
  int64_t scale_bytes = 0;
  std::map<int64_t, int64_t> quantized_by_bucket_size;
  for (const serialization::CompressedTensor& tensor : state.tensors()) {
    if (parameter_names.count(tensor.name()) == 0) continue;
    MC_ASSIGN_OR_RETURN(const int64_t numel, serialization::NumElements(tensor));
    if (!tensor.has_uniform() && !tensor.has_learned_points()) {
      size.unquantized_params += numel;
      size.tensor_bytes[tensor.name()] = 4.0 * numel;
      continue;
    }
    MC_ASSIGN_OR_RETURN(const TensorSymbols symbols, Symbols(tensor));
    quantized_by_bucket_size[symbols.bucket_size] += numel;
    const at::Tensor counts = symbols.counts.contiguous();
    std::vector<int64_t> tensor_counts(counts.data_ptr<int64_t>(),
                                       counts.data_ptr<int64_t>() + counts.numel());
    if (pooled.size() < tensor_counts.size()) pooled.resize(tensor_counts.size(), 0);
    for (size_t s = 0; s < tensor_counts.size(); ++s) pooled[s] += tensor_counts[s];
    size.quantized_params += numel;
    scale_bytes += 8 * symbols.buckets;
    size.tensor_bytes[tensor.name()] = 8.0 * symbols.buckets;
    per_tensor.emplace_back(tensor.name(), std::move(tensor_counts));
  }
  int64_t coded_bits = 0;
  int64_t table_bytes = 0;
  if (!pooled.empty()) {
    MC_ASSIGN_OR_RETURN(const quant::HuffmanCode code, quant::HuffmanCode::FromCounts(pooled));
    MC_ASSIGN_OR_RETURN(coded_bits, code.EncodedBits(pooled));
    MC_ASSIGN_OR_RETURN(size.mean_bits, code.MeanBits(pooled));
    table_bytes = code.num_symbols();
    for (auto& [name, counts] : per_tensor) {
      counts.resize(pooled.size(), 0);
      MC_ASSIGN_OR_RETURN(const int64_t tensor_bits, code.EncodedBits(counts));
      size.tensor_bytes[name] += tensor_bits / 8.0;
    }
  }
  size.bytes = (coded_bits + 7) / 8 + scale_bytes + 4 * size.unquantized_params + table_bytes;
  size.reference_bytes =
      quant::ReferenceQuantizedModelBytes(size.unquantized_params, size.quantized_params,
                                          size.mean_bits, /*bucket_size=*/0) +
      ReferenceScaleBytes(quantized_by_bucket_size);
  return size;
}

}  // namespace mc::distill
