#include "nn_models/model_options.h"

#include <c10/util/Exception.h>

#include <ostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace mc::nn_models {
namespace {

absl::Status CheckPositive(const char* field, int64_t value) {
  if (value >= 1) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("ModelOptions.", field, " must be >= 1, got ", value));
}

}  // namespace

absl::Status Validate(const ModelOptions& options) {
  MC_RETURN_IF_ERROR(CheckPositive("in_channels", options.in_channels()));
  MC_RETURN_IF_ERROR(CheckPositive("num_classes", options.num_classes()));
  MC_RETURN_IF_ERROR(CheckPositive("image_size", options.image_size()));
  if (options.dropout().has_value()) {
    const double dropout = *options.dropout();
    if (!(dropout >= 0.0 && dropout < 1.0)) {
      return absl::InvalidArgumentError(
          absl::StrCat("ModelOptions.dropout must be in [0, 1), got ", dropout));
    }
  }
  return absl::OkStatus();
}

std::ostream& operator<<(std::ostream& stream, const ModelOptions& options) {
  stream << "in_channels=" << options.in_channels() << ", num_classes=" << options.num_classes()
         << ", image_size=" << options.image_size()
         << ", cifar_stem=" << (options.cifar_stem() ? "true" : "false") << ", dropout=";
  if (options.dropout().has_value()) {
    stream << *options.dropout();
  } else {
    stream << "unset";
  }
  return stream;
}

void CheckValid(const ModelOptions& options) {
  const absl::Status status = Validate(options);
  TORCH_CHECK(status.ok(), std::string(status.message()));
}

}  // namespace mc::nn_models
