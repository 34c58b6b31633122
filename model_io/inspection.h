// File: inspection.h
// What a compressed-model file (serialization/model_file.h) holds, whatever method wrote it:
// each tensor's shape, encoding, stored bits per value, codebook and bytes in the file, the
// totals against float32, the method and its options, and the recorded architecture. This is
// the library behind `bazel run //model_io:inspect` (model_io/inspect.cc), which also
// exports the decoded weights for Python.
//
// Example:
//   MC_RETURN_IF_ERROR(InspectModelFile("model.mcm", /*export_path=*/"model.pt", std::cout));
#ifndef MC_MODEL_IO_INSPECTION_H_
#define MC_MODEL_IO_INSPECTION_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "serialization/compressed_model.pb.h"

namespace mc::model_io {

/// One stored tensor.
struct TensorInspection {
  std::string name;
  std::vector<int64_t> shape;
  int64_t values = 0;
  /// passthrough_float32 | passthrough_float16 | passthrough_int64 | uniform | uniform_step
  /// (the step form, LSQ) | learned_points | codebook
  std::string encoding;
  /// Stored bits per value, without scales, points or centroids (those are in `bytes`): the
  /// passthrough width, the level width of uniform encodings (the mean when groups have
  /// different widths, as in DiffQ), index_bits of learned points, and assignment_bits /
  /// block_size of codebooks (one index per block of values).
  double bits = 0;
  /// Learned points or centroids; 0 for the other encodings.
  int64_t codebook_size = 0;
  /// Values per centroid of a codebook; 0 for the other encodings.
  int64_t block_size = 0;
  /// Bytes of the tensor's record in the file: name, shape and every field of its encoding.
  int64_t bytes = 0;
};

/// Every stored tensor, in file order, and their totals.
struct ModelInspection {
  std::vector<TensorInspection> tensors;
  int64_t values = 0;        ///< of every tensor, buffers included
  int64_t tensor_bytes = 0;  ///< sum of the tensors' bytes
  /// The same values stored as float32, 4 bytes each: the baseline of the compression ratio.
  int64_t float32_bytes() const { return 4 * values; }
};

/// Describes the tensors of `model` from their encodings (nothing is decoded but the
/// per-group widths of uniform tensors).
/// \error kDataLoss naming the tensor if it has no encoding, a negative dimension, a
///   passthrough dtype this format does not define, a codebook block size below 1, or
///   uniform widths that do not decode.
absl::StatusOr<ModelInspection> InspectModel(const serialization::CompressedModel& model);

/// The printed report of `model`: format version, method and options, architecture, data
/// set, metrics, one table row per tensor, totals per encoding and overall, and the
/// compression ratio of the float32 size to `file_bytes` (the whole file: header and model
/// description included).
std::string FormatInspection(const serialization::CompressedModel& model,
                             const ModelInspection& inspection, int64_t file_bytes);

/// Where InspectModelFile writes the decoded model (empty: nowhere).
struct InspectionExports {
  /// The decoded tensors (floating tensors as float32, integer buffers as int64) as a state
  /// dict for Python's `torch.load` (serialization::WritePyTorchStateDict).
  std::string pytorch;
  /// A model written in Python (its file holds TorchScript code): the script with the
  /// decoded tensors, for Python's `torch.jit.load`.
  std::string torchscript;
};

/// Reads the model file at `path` and prints to `out` its name, size and checksum status,
/// then FormatInspection. A file whose CRC-32 does not match is refused, not reported:
/// nothing in it can be trusted. Every tensor is then decoded with model_io/decoder.h, so
/// that a report is only given for a file that loads; then `exports` are written
/// (atomically). Nothing is printed unless all of this succeeds.
/// \error kNotFound for a missing file; kDataLoss for a truncated, corrupt (CRC mismatch) or
///   foreign file or a tensor that does not decode; kFailedPrecondition for a newer format
///   version; kInvalidArgument for a TorchScript export of a model without TorchScript code
///   or whose tensors do not fit its script; errors of writing the files.
absl::Status InspectModelFile(const std::string& path, const InspectionExports& exports,
                              std::ostream& out);

}  // namespace mc::model_io

#endif  // MC_MODEL_IO_INSPECTION_H_
