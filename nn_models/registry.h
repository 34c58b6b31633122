// File: registry.h
// Creates any model of the zoo by name, so that experiments and compression pipelines can pick
// their network from a configuration string. Names are those papers use: resnet20 ... resnet110
// (CIFAR ResNets), resnet18 ... resnet152 (torchvision's ImageNet ResNets), wrn<depth>_<k>
// (wide ResNets), mobilenetv2, lenet, and the quantized-distillation nets qd_teacher,
// qd_student1..3 (distilled students), qd_student1..3_dropout (normally trained baselines) and
// qd_deep_student; and the language models (nn_models/language_model.h) lstm_lm_small,
// lstm_lm_medium, transformer_lm_small and transformer_lm_16, whose vocabulary is
// ModelOptions.num_classes. Depend on //nn_models:registry (or its alias
// //nn_models:all_models), which links every model family, and include nn_models/classifier.h
// to use the models.
//
// Example:
//   MC_ASSIGN_OR_RETURN(std::shared_ptr<Classifier> model,
//                       CreateModel("resnet20", ModelOptions().in_channels(1)));
//   at::Tensor logits = model->forward(images);   // (B, 1, 28, 28) -> (B, 10)
#ifndef MC_NN_MODELS_REGISTRY_H_
#define MC_NN_MODELS_REGISTRY_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nn_models/model_options.h"

namespace mc::nn_models {

class Classifier;  // nn_models/classifier.h

/// Builds the model called `name` (by default for CIFAR-10: 3x32x32 images, 10 classes), freshly
/// initialised from the global torch RNG (so deterministic given torch::manual_seed), in training
/// mode. Besides RegisteredModelNames(), any "wrn<depth>_<k>" (e.g. wrn40_4) names a wide ResNet.
/// \error kNotFound if no model is called `name`; the message lists the registered names.
/// \error kInvalidArgument if `options` are invalid, if options.dropout() is set for a model
///   without a dropout option, or if the architecture cannot be built from them (e.g. a wide
///   ResNet depth other than 6n + 4, an image_size too small for lenet's or a qd net's pooling).
absl::StatusOr<std::shared_ptr<Classifier>> CreateModel(
    absl::string_view name, const ModelOptions& options = ModelOptions());

/// The names CreateModel accepts (wide ResNets: those of the papers the project reproduces),
/// sorted.
std::vector<std::string> RegisteredModelNames();

}  // namespace mc::nn_models

#endif  // MC_NN_MODELS_REGISTRY_H_
