// File: model_config.h
// Builds a zoo model from the ModelConfig section of an experiment configuration or a
// compressed-model file (serialization/experiment_config.proto), over defaults that usually
// come from the data set (channels, classes, image size). Shared by the experiment runner and
// the loaders of compressed models, so that both build the same architecture.
//
// Example:
//   MC_ASSIGN_OR_RETURN(std::shared_ptr<Classifier> model, CreateModelFromConfig(
//       stored.model(), ModelOptions().in_channels(1).image_size(28)));
#ifndef MC_NN_MODELS_MODEL_CONFIG_H_
#define MC_NN_MODELS_MODEL_CONFIG_H_

#include <memory>

#include "absl/status/statusor.h"
#include "nn_models/model_options.h"
#include "serialization/experiment_config.pb.h"

namespace mc::nn_models {

class Classifier;  // nn_models/classifier.h

/// `defaults` overridden by `config`: in_channels and num_classes when positive, cifar_stem
/// and dropout when present.
ModelOptions ApplyModelConfig(const serialization::ModelConfig& config, ModelOptions defaults);

/// CreateModel(config.name(), ApplyModelConfig(config, defaults)) (nn_models/registry.h).
/// \error as CreateModel: kNotFound for an unknown name, kInvalidArgument for bad options.
absl::StatusOr<std::shared_ptr<Classifier>> CreateModelFromConfig(
    const serialization::ModelConfig& config, const ModelOptions& defaults = ModelOptions());

}  // namespace mc::nn_models

#endif  // MC_NN_MODELS_MODEL_CONFIG_H_
