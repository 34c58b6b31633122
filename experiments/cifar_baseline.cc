// cifar_baseline: trains a float model, the reference accuracy of every compression result
// and the teacher that distillation and product quantization start from. Writes the model
// in the compressed-model format (float32 passthrough) and as a LibTorch archive (model.pt).
//
//   bazel run //experiments:cifar_baseline -- --dataset=fashion_mnist --model=resnet20
#include <torch/serialize.h>

#include <sstream>

#include "absl/strings/str_cat.h"
#include "experiments/experiment_main.h"
#include "experiments/float_training.h"
#include "serialization/atomic_file.h"

namespace {

using mc::experiments::MethodContext;

std::shared_ptr<mc::nn_models::Classifier> trained_model;

absl::StatusOr<std::unique_ptr<mc::experiments::TrainingMethod>> MakeMethod(
    const MethodContext& context) {
  trained_model = context.model;
  return std::make_unique<mc::experiments::FloatTraining>(context.model,
                                                          context.config.training());
}

absl::Status SaveLibTorchModel(const mc::serialization::ExperimentSummary& summary) {
  std::ostringstream bytes;
  torch::save(trained_model, bytes);
  return mc::serialization::WriteFileAtomically(
      absl::StrCat(summary.config().output().dir(), "/model.pt"), bytes.str());
}

}  // namespace

int main(int argc, char** argv) {
  mc::experiments::ExperimentSpec spec;
  spec.name = "cifar_baseline";
  spec.description = "Trains a float model (the baseline and teacher of every method).";
  spec.default_dataset = "cifar10";
  spec.defaults = &mc::experiments::BaselineRecipe;
  spec.factory = &MakeMethod;
  spec.on_success = &SaveLibTorchModel;
  return mc::experiments::ExperimentMain(argc, argv, spec);
}
