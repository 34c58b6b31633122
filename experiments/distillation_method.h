// File: distillation_method.h
// Quantized distillation and differentiable quantization (Polino et al. 2018, package
// distill) as methods of the experiment runner, with their model registry:
//   quantized_distillation       a bucketed-uniform student trained against a teacher;
//   quantized                    the same student trained without a teacher (with a float
//                                starting point and 0 epochs: post-training quantization);
//   differentiable_quantization  the learned quantization points of a trained float student.
// Sizes are the Huffman-coded sizes of the students' indices. cifar_distill is this method
// behind flags.
//
// Example:
//   ExperimentConfig config = DistillationDefaults("fashion_mnist");
//   config.mutable_distillation()->set_teacher("runs/teacher/model.mcm");
//   MC_RETURN_IF_ERROR(FinishDistillationConfig(config));
//   MC_RETURN_IF_ERROR(RunDistillationExperiment(config));
#ifndef MC_EXPERIMENTS_DISTILLATION_METHOD_H_
#define MC_EXPERIMENTS_DISTILLATION_METHOD_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "experiments/runner.h"
#include "experiments/training_method.h"
#include "serialization/experiment_config.pb.h"
#include "serialization/summary.pb.h"

namespace mc::experiments {

/// The baseline recipe (3 epochs on (Fashion-)MNIST) for a 4-bit ResNet-20 student of a
/// ResNet-56 teacher, with the reference's distillation settings.
serialization::ExperimentConfig DistillationDefaults(absl::string_view dataset);

/// Checks the distillation section, then fills the fields that default to others: the
/// registry beside the output directory, the run's name from model, method, bits and data set.
/// \error kInvalidArgument naming the field.
absl::Status FinishDistillationConfig(serialization::ExperimentConfig& config);

/// The student method of distillation.method on context.model (first loaded from
/// distillation.init_from when given), with the teacher of distillation.teacher (a model file)
/// unless the method is "quantized". \error when a model file cannot be loaded.
absl::StatusOr<std::unique_ptr<TrainingMethod>> MakeDistillationTraining(const MethodContext& context);

/// Runs `config` and records it in the registry (rank 0 of a data-parallel run): running,
/// then completed or failed.
absl::StatusOr<serialization::ExperimentSummary> RunAndRegister(
    const serialization::ExperimentConfig& config, const MethodFactory& factory,
    const std::string& name, const std::string& method);

/// The whole experiment: resolves the teacher (distillation.teacher as a model file, else the
/// registry's latest completed run of that name, else a teacher of distillation.teacher_model
/// trained now with the baseline recipe and registered), runs and registers the student, and
/// prints its accuracy and sizes.
absl::Status RunDistillationExperiment(serialization::ExperimentConfig config);

}  // namespace mc::experiments

#endif  // MC_EXPERIMENTS_DISTILLATION_METHOD_H_
