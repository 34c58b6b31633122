#include "nn_models/model_config.h"

#include "nn_models/classifier.h"
#include "nn_models/registry.h"

namespace mc::nn_models {

ModelOptions ApplyModelConfig(const serialization::ModelConfig& config, ModelOptions defaults) {
  if (config.in_channels() > 0) defaults.in_channels(config.in_channels());
  if (config.num_classes() > 0) defaults.num_classes(config.num_classes());
  if (config.has_cifar_stem()) defaults.cifar_stem(config.cifar_stem());
  if (config.has_dropout()) defaults.dropout(config.dropout());
  return defaults;
}

absl::StatusOr<std::shared_ptr<Classifier>> CreateModelFromConfig(
    const serialization::ModelConfig& config, const ModelOptions& defaults) {
  return CreateModel(config.name(), ApplyModelConfig(config, defaults));
}

}  // namespace mc::nn_models
