#include "model_io/model_loading.h"

#include <ATen/core/Tensor.h>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/units.h"
#include "model_io/decoder.h"
#include "nn_models/classifier.h"
#include "nn_models/model_config.h"
#include "nn_models/scripted_model.h"
#include "serialization/model_file.h"

namespace mc::model_io {

absl::Status NamingFile(const absl::Status& status, const std::string& path) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat(path, ": ", status.message()));
}

absl::StatusOr<std::shared_ptr<nn_models::Classifier>> BuildModel(
    const serialization::ModelConfig& model, const data::DatasetInfo& dataset) {
  if (model.has_torchscript_code()) {
    return nn_models::ScriptedModelImpl::FromArchive(model.torchscript_code(), model.name());
  }
  if (model.has_torchscript_file()) return nn_models::ScriptedModelImpl::Load(model.torchscript_file());
  nn_models::ModelOptions options = nn_models::ModelOptions().num_classes(dataset.num_classes);
  if (!dataset.corpus_layout) options.in_channels(dataset.channels).image_size(dataset.height);
  return nn_models::CreateModelFromConfig(model, options);
}

absl::Status LoadModelFileInto(const std::string& path, nn_models::Classifier& model) {
  MC_ASSIGN_OR_RETURN(const serialization::CompressedModel stored, serialization::ReadModelFile(path));
  return NamingFile(LoadCompressedModel(stored, model), path);
}

absl::StatusOr<std::shared_ptr<nn_models::Classifier>> LoadModelFile(
    const std::string& path, const data::DatasetInfo& dataset) {
  MC_ASSIGN_OR_RETURN(const serialization::CompressedModel stored, serialization::ReadModelFile(path));
  MC_ASSIGN_OR_RETURN(std::shared_ptr<nn_models::Classifier> model, BuildModel(stored.model(), dataset));
  MC_RETURN_IF_ERROR(NamingFile(LoadCompressedModel(stored, *model), path));
  return model;
}

double FloatModelSizeMb(const nn_models::Classifier& model) {
  int64_t count = 0;
  for (const at::Tensor& parameter : model.parameters()) count += parameter.numel();
  return static_cast<double>(count) * 4 / kBytesPerMb;
}

}  // namespace mc::model_io
