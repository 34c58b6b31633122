#include "model_io/compressed_classifier.h"

#include <torch/utils.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "data/dataset_info.h"
#include "nn_models/classifier.h"
#include "model_io/decoder.h"
#include "model_io/model_loading.h"
#include "nn_models/model_config.h"
#include "serialization/model_file.h"

namespace mc::model_io {

CompressedClassifier::CompressedClassifier(std::shared_ptr<nn_models::Classifier> model,
                                           serialization::ModelConfig config)
    : model_(std::move(model)), config_(std::move(config)) {}

absl::StatusOr<CompressedClassifier> CompressedClassifier::Load(const std::string& path) {
  MC_ASSIGN_OR_RETURN(const serialization::CompressedModel stored, serialization::ReadModelFile(path));
  nn_models::ModelOptions defaults;
  if (!stored.dataset().empty()) {
    const absl::StatusOr<data::DatasetInfo> dataset = data::GetDatasetInfo(stored.dataset());
    MC_RETURN_IF_ERROR(NamingFile(dataset.status(), path));
    defaults.in_channels(dataset->channels).num_classes(dataset->num_classes).image_size(dataset->height);
  }
  absl::StatusOr<std::shared_ptr<nn_models::Classifier>> model =
      nn_models::CreateModelFromConfig(stored.model(), defaults);
  MC_RETURN_IF_ERROR(NamingFile(model.status(), path));
  MC_RETURN_IF_ERROR(NamingFile(model_io::LoadCompressedModel(stored, **model), path));
  (*model)->eval();
  return CompressedClassifier(*std::move(model), stored.model());
}

at::Tensor CompressedClassifier::Forward(const at::Tensor& images) const {
  torch::NoGradGuard no_grad;
  return model_->forward(images);
}

}  // namespace mc::model_io
