#include "model_io/inspection.h"

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "model_io/decoder.h"
#include "nn_models/scripted_model.h"
#include "nn_models/state_dict.h"
#include "quant/uniform_codec.h"
#include "serialization/atomic_file.h"
#include "serialization/model_file.h"
#include "serialization/pytorch_state_dict.h"
#include "serialization/tensor_codec.h"

namespace mc::model_io {
namespace {

using serialization::CompressedTensor;

// The recorded architecture; a model written in Python by its label and the size of its code.
std::string DescribeArchitecture(const serialization::CompressedModel& model) {
  if (!model.has_model()) return "not recorded";
  serialization::ModelConfig config = model.model();
  if (!config.has_torchscript_code()) return config.ShortDebugString();
  config.clear_torchscript_code();
  return absl::StrCat(config.ShortDebugString(), ", written in Python (TorchScript code, ",
                      model.model().torchscript_code().size(), " bytes)");
}

// The model's TorchScript code with the decoded tensors, written to `export_path`.
absl::Status ExportTorchScript(const serialization::CompressedModel& model,
                               const serialization::StateDict& decoded, const std::string& path,
                               const std::string& export_path) {
  if (!model.model().has_torchscript_code()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " holds a model of the zoo (", model.model().name(),
                     "), not TorchScript code: --export_torchscript needs a model written in "
                     "Python; --export_pytorch writes its state dict"));
  }
  MC_ASSIGN_OR_RETURN(
      std::shared_ptr<nn_models::ScriptedModelImpl> script,
      nn_models::ScriptedModelImpl::FromArchive(model.model().torchscript_code(), path));
  const absl::Status loaded = nn_models::LoadStateDict(*script, decoded);
  if (!loaded.ok()) return absl::Status(loaded.code(), absl::StrCat(path, ": ", loaded.message()));
  return serialization::WriteFileAtomically(export_path, script->SaveArchive());
}

absl::Status DescribePassthrough(const CompressedTensor& tensor, TensorInspection& row) {
  switch (tensor.passthrough().dtype()) {
    case serialization::FLOAT32:
      row.encoding = "passthrough_float32";
      row.bits = 32;
      return absl::OkStatus();
    case serialization::FLOAT16:
      row.encoding = "passthrough_float16";
      row.bits = 16;
      return absl::OkStatus();
    case serialization::INT64:
      row.encoding = "passthrough_int64";
      row.bits = 64;
      return absl::OkStatus();
    default:
      return absl::DataLossError(absl::StrCat("tensor ", tensor.name(), ": passthrough dtype ",
                                              tensor.passthrough().dtype(), " is not defined"));
  }
}

absl::StatusOr<TensorInspection> InspectTensor(const CompressedTensor& tensor) {
  TensorInspection row;
  row.name = tensor.name();
  row.shape.assign(tensor.shape().begin(), tensor.shape().end());
  MC_ASSIGN_OR_RETURN(row.values, serialization::NumElements(tensor));
  row.bytes = static_cast<int64_t>(tensor.ByteSizeLong());
  switch (tensor.encoding_case()) {
    case CompressedTensor::kPassthrough:
      MC_RETURN_IF_ERROR(DescribePassthrough(tensor, row));
      break;
    case CompressedTensor::kUniform: {
      row.encoding = tensor.uniform().step().empty() ? "uniform" : "uniform_step";
      MC_ASSIGN_OR_RETURN(const at::Tensor widths, quant::DecodeUniformWidths(tensor));
      row.bits = static_cast<double>(quant::UniformLevelBits(row.values, widths,
                                                             tensor.uniform().group_size())) /
                 static_cast<double>(row.values);
      break;
    }
    case CompressedTensor::kLearnedPoints:
      row.encoding = "learned_points";
      row.bits = tensor.learned_points().index_bits();
      row.codebook_size = static_cast<int64_t>(tensor.learned_points().points().size() / 4);
      break;
    case CompressedTensor::kCodebook: {
      const serialization::CodebookEncoding& codebook = tensor.codebook();
      if (codebook.block_size() < 1) {
        return absl::DataLossError(absl::StrCat("tensor ", tensor.name(), ": codebook block size ",
                                                codebook.block_size(), " is below 1"));
      }
      row.encoding = "codebook";
      row.bits = static_cast<double>(codebook.assignment_bits()) /
                 static_cast<double>(codebook.block_size());
      row.codebook_size = codebook.num_centroids();
      row.block_size = codebook.block_size();
      break;
    }
    case CompressedTensor::ENCODING_NOT_SET:
      return absl::DataLossError(absl::StrCat("tensor ", tensor.name(), " has no encoding"));
  }
  return row;
}

std::string ShapeText(const std::vector<int64_t>& shape) {
  return shape.empty() ? "scalar" : absl::StrJoin(shape, "x");
}

std::string CodebookText(const TensorInspection& row) {
  if (row.block_size > 0) return absl::StrCat(row.codebook_size, "x", row.block_size);
  if (row.codebook_size > 0) return absl::StrCat(row.codebook_size);
  return "-";
}

template <typename Map, typename Format>
std::string SortedEntries(const Map& map, Format format) {
  if (map.empty()) return "none";
  std::map<std::string, typename Map::mapped_type> sorted(map.begin(), map.end());
  return absl::StrJoin(sorted, ", ", [&](std::string* out, const auto& entry) {
    absl::StrAppend(out, entry.first, "=", format(entry.second));
  });
}

double BitsPerValue(int64_t bytes, int64_t values) {
  return values > 0 ? 8.0 * static_cast<double>(bytes) / static_cast<double>(values) : 0;
}

}  // namespace

absl::StatusOr<ModelInspection> InspectModel(const serialization::CompressedModel& model) {
  ModelInspection inspection;
  for (const CompressedTensor& tensor : model.tensors()) {
    MC_ASSIGN_OR_RETURN(TensorInspection row, InspectTensor(tensor));
    inspection.values += row.values;
    inspection.tensor_bytes += row.bytes;
    inspection.tensors.push_back(std::move(row));
  }
  return inspection;
}

std::string FormatInspection(const serialization::CompressedModel& model,
                             const ModelInspection& inspection, int64_t file_bytes) {
  std::string out;
  absl::StrAppend(&out, "format version: ", model.format_version(), "\n");
  absl::StrAppend(&out, "method: ", model.method().empty() ? "not recorded" : model.method(),
                  "\n");
  absl::StrAppend(&out, "method options: ",
                  SortedEntries(model.method_options(), [](const std::string& v) { return v; }),
                  "\n");
  absl::StrAppend(&out, "architecture: ", DescribeArchitecture(model), "\n");
  absl::StrAppend(&out, "dataset: ", model.dataset().empty() ? "not recorded" : model.dataset(),
                  "\n");
  absl::StrAppend(&out, "metrics: ",
                  SortedEntries(model.metrics(), [](double v) { return absl::StrCat(v); }),
                  "\n\n");

  size_t name_width = 4;
  size_t shape_width = 5;
  size_t encoding_width = 8;
  for (const TensorInspection& row : inspection.tensors) {
    name_width = std::max(name_width, row.name.size());
    shape_width = std::max(shape_width, ShapeText(row.shape).size());
    encoding_width = std::max(encoding_width, row.encoding.size());
  }
  const auto line = [&](absl::string_view name, absl::string_view shape,
                        absl::string_view encoding, absl::string_view bits,
                        absl::string_view codebook, absl::string_view bytes) {
    absl::StrAppend(&out, absl::StrFormat("%-*s  %-*s  %-*s  %6s  %8s  %9s\n", name_width, name,
                                          shape_width, shape, encoding_width, encoding, bits,
                                          codebook, bytes));
  };
  line("name", "shape", "encoding", "bits", "codebook", "bytes");
  // Totals per encoding, in the order encodings first appear.
  struct Total {
    int64_t tensors = 0;
    int64_t values = 0;
    int64_t bytes = 0;
  };
  std::vector<std::pair<std::string, Total>> totals;
  for (const TensorInspection& row : inspection.tensors) {
    line(row.name, ShapeText(row.shape), row.encoding, absl::StrFormat("%.4g", row.bits),
         CodebookText(row), absl::StrCat(row.bytes));
    auto total = std::find_if(totals.begin(), totals.end(),
                              [&](const auto& entry) { return entry.first == row.encoding; });
    if (total == totals.end()) total = totals.insert(totals.end(), {row.encoding, Total()});
    total->second.tensors += 1;
    total->second.values += row.values;
    total->second.bytes += row.bytes;
  }

  absl::StrAppend(&out, totals.empty() ? "\nby encoding: none\n" : "\nby encoding:\n");
  for (const auto& [encoding, total] : totals) {
    absl::StrAppend(&out, absl::StrFormat("  %-*s  %4d tensors  %9d values  %9d bytes  %.2f bits "
                                          "per value\n",
                                          encoding_width, encoding, total.tensors, total.values,
                                          total.bytes, BitsPerValue(total.bytes, total.values)));
  }
  absl::StrAppend(&out, absl::StrFormat(
                            "total: %d tensors, %d values, %d bytes of tensor records, %d bytes "
                            "of file\n",
                            inspection.tensors.size(), inspection.values, inspection.tensor_bytes,
                            file_bytes));
  absl::StrAppend(
      &out, absl::StrFormat("float32 size: %d bytes; compression ratio (float32 / file): %.3f; "
                            "%.3f bits per value in the file\n",
                            inspection.float32_bytes(),
                            file_bytes > 0 ? static_cast<double>(inspection.float32_bytes()) /
                                                 static_cast<double>(file_bytes)
                                           : 0.0,
                            BitsPerValue(file_bytes, inspection.values)));
  return out;
}

absl::Status InspectModelFile(const std::string& path, const InspectionExports& exports,
                              std::ostream& out) {
  MC_ASSIGN_OR_RETURN(const std::string bytes, serialization::ReadFileToString(path));
  MC_ASSIGN_OR_RETURN(const serialization::CompressedModel model,
                      serialization::DecodeModelFile(bytes, path));
  MC_ASSIGN_OR_RETURN(const ModelInspection inspection, InspectModel(model));
  MC_ASSIGN_OR_RETURN(const serialization::StateDict decoded, model_io::DecodeCompressedModel(model));
  // Written before anything is printed, so that a failure is the only output.
  if (!exports.pytorch.empty()) {
    MC_RETURN_IF_ERROR(serialization::WritePyTorchStateDict(exports.pytorch, decoded));
  }
  if (!exports.torchscript.empty()) {
    MC_RETURN_IF_ERROR(ExportTorchScript(model, decoded, path, exports.torchscript));
  }
  const int64_t file_bytes = static_cast<int64_t>(bytes.size());
  out << "file: " << path << " (" << file_bytes << " bytes)\n"
      << "checksum: OK (CRC-32 of the " << file_bytes - serialization::kModelFileHeaderBytes
      << " payload bytes matches the header)\n"
      << "decoding: OK (all " << decoded.size() << " tensors)\n"
      << FormatInspection(model, inspection, file_bytes);
  if (!exports.torchscript.empty()) out << "exported: " << exports.torchscript << " (TorchScript)\n";
  if (!exports.pytorch.empty()) {
    int64_t floating = 0;
    for (const auto& [name, tensor] : decoded) floating += at::isFloatingType(tensor.scalar_type());
    out << "exported: " << exports.pytorch << " (" << decoded.size() << " tensors: " << floating
        << " float32, " << static_cast<int64_t>(decoded.size()) - floating << " int64)\n";
  }
  out << std::flush;
  return absl::OkStatus();
}

}  // namespace mc::model_io
