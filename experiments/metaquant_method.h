// File: metaquant_method.h
// MetaQuant (Chen et al. 2019, metaquant/trainer.h) and its straight-through baseline as a
// method of the experiment runner: every convolution and linear weight quantized (1 bit by
// default), starting from a trained float model (metaquant.start_from). cifar_metaquant is
// this method behind flags.
//
// Example:
//   ExperimentConfig config = MetaQuantDefaults("fashion_mnist");
//   config.mutable_metaquant()->set_start_from("runs/float/model.mcm");
//   MC_RETURN_IF_ERROR(ValidateMetaQuantConfig(config));
//   MC_ASSIGN_OR_RETURN(ExperimentSummary summary, RunConfig(config, &MakeMetaQuantTraining));
#ifndef MC_EXPERIMENTS_METAQUANT_METHOD_H_
#define MC_EXPERIMENTS_METAQUANT_METHOD_H_

#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "experiments/experiment_main.h"
#include "experiments/runner.h"
#include "experiments/training_method.h"
#include "serialization/experiment_config.pb.h"

namespace mc::experiments {

/// The reference's CIFAR recipe: SGD at 1e-3 divided by 10 every 30 epochs, 100 epochs; a
/// short run of 2 epochs on (Fashion-)MNIST; DoReFa at 1 bit with the MultiFC meta network.
serialization::ExperimentConfig MetaQuantDefaults(absl::string_view dataset);

/// Checks the metaquant section. \error kInvalidArgument naming the field and its range.
absl::Status ValidateMetaQuantConfig(const serialization::ExperimentConfig& config);

/// MetaQuant (or straight-through training, meta "ste") of context.model, loaded first from
/// the float model file metaquant.start_from. \error when that file cannot be loaded into it.
absl::StatusOr<std::unique_ptr<TrainingMethod>> MakeMetaQuantTraining(const MethodContext& context);

/// metaquant.start_from, trained with the baseline recipe in float/ when empty.
FloatStartingPoint MetaQuantStartingPoint();

}  // namespace mc::experiments

#endif  // MC_EXPERIMENTS_METAQUANT_METHOD_H_
