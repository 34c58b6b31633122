// File: coded_size.h
// The size of a quantized model when its level or point indices are Huffman-coded, as
// quantized distillation reports it (Polino et al. 2018): one canonical Huffman code over
// the indices of every quantized tensor pooled together (uniform levels or learned-point
// indices), plus two float32 scales per bucket, plus 32 bits per unquantized parameter.
// Only parameters count (BatchNorm statistics and other buffers do not), as the reference.
//
// Example:
//   MC_ASSIGN_OR_RETURN(CodedSize size, HuffmanCodedSize(state, parameter_names));
//   std::cout << size.mean_bits << " bits per weight, " << size.bytes << " bytes\n";
#ifndef MC_DISTILL_CODED_SIZE_H_
#define MC_DISTILL_CODED_SIZE_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "serialization/compressed_model.pb.h"

namespace mc::distill {

struct CodedSize {
  /// Mean Huffman code length per quantized weight.
  double mean_bits = 0;
  int64_t quantized_params = 0;
  int64_t unquantized_params = 0;
  /// Exact size: coded indices (bits rounded up to bytes) + 8 bytes per bucket + 4 bytes per
  /// unquantized parameter + the code's length table (one byte per symbol).
  int64_t bytes = 0;
  /// The reference's formula (quant/huffman.h ReferenceQuantizedModelBytes), which counts
  /// quantized_params / bucket_size buckets and no code table (summed over the bucket sizes
  /// in use when tensors differ, as with per-channel buckets).
  double reference_bytes = 0;
  /// Bytes of each parameter in the exact size (its coded indices and scales, or float32).
  std::map<std::string, double> tensor_bytes;
};

/// The coded size of the parameters of `state` named in `parameter_names` (other tensors,
/// the buffers, are skipped). Quantized tensors are the uniform and learned-points ones.
/// \error kDataLoss for a corrupt tensor.
absl::StatusOr<CodedSize> HuffmanCodedSize(const serialization::CompressedModel& state,
                                           const std::set<std::string>& parameter_names);

}  // namespace mc::distill

#endif  // MC_DISTILL_CODED_SIZE_H_
