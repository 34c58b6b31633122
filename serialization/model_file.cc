#include "serialization/model_file.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "serialization/atomic_file.h"
#include "serialization/container.h"
#include "serialization/deterministic_bytes.h"

namespace mc::serialization {
namespace {

constexpr ContainerFormat kFormat{"MCMODEL\x1a", 1, kModelFileVersion, "model file"};

}  // namespace

std::string EncodeModelFile(const CompressedModel& model) {
  CompressedModel versioned = model;
  versioned.set_format_version(kModelFileVersion);
  return EncodeContainer(kFormat, DeterministicBytes(versioned));
}

absl::StatusOr<CompressedModel> DecodeModelFile(absl::string_view bytes,
                                                absl::string_view source) {
  MC_ASSIGN_OR_RETURN(const ContainerPayload contained, DecodeContainer(kFormat, bytes, source));
  const absl::string_view payload = contained.payload;
  const uint32_t version = contained.version;
  CompressedModel model;
  if (!model.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return absl::DataLossError(absl::StrCat(source, ": corrupt model file (payload does not parse)"));
  }
  if (model.format_version() != version) {
    return absl::DataLossError(absl::StrCat(source, ": payload version ", model.format_version(),
                                            " disagrees with container version ", version));
  }
  return model;
}

absl::Status WriteModelFile(const std::string& path, const CompressedModel& model) {
  return WriteFileAtomically(path, EncodeModelFile(model));
}

absl::StatusOr<CompressedModel> ReadModelFile(const std::string& path) {
  MC_ASSIGN_OR_RETURN(const std::string bytes, ReadFileToString(path));
  return DecodeModelFile(bytes, path);
}

}  // namespace mc::serialization
