// cifar_distill: quantized distillation and differentiable quantization (Polino et al. 2018)
// on the image classification data sets.
//
//   bazel run //experiments:cifar_distill -- --dataset=fashion_mnist --teacher=<model.mcm>
//       trains a 4-bit ResNet-20 student by quantized distillation from the teacher;
//   --method=quantized trains the same student quantized without a teacher (with
//   --init_from=<float model> --epochs=0 this is post-training quantization);
//   --method=differentiable_quantization --init_from=<float model> learns the quantization
//   points of a trained float student.
// Without --teacher, the teacher (--teacher_model, ResNet-56) is trained first with the
// baseline recipe. Every run is recorded in the model registry (--registry).
#include <optional>
#include <string>

#include "absl/flags/flag.h"
#include "experiments/distillation_method.h"
#include "common/status_macros.h"
#include "experiments/config_flags.h"
#include "experiments/experiment_main.h"

ABSL_FLAG(std::optional<std::string>, method, std::nullopt,
          "quantized_distillation | differentiable_quantization | quantized.");
ABSL_FLAG(std::optional<std::string>, teacher, std::nullopt,
          "Teacher: a compressed-model file or a registry name (trained first when absent).");
ABSL_FLAG(std::optional<std::string>, teacher_model, std::nullopt,
          "Architecture of the teacher trained when --teacher is absent.");
ABSL_FLAG(std::optional<std::string>, student, std::nullopt,
          "Student architecture, e.g. resnet20 or qd_student1 (same as --model).");
ABSL_FLAG(std::optional<std::string>, init_from, std::nullopt,
          "Float model file the student starts from.");
ABSL_FLAG(std::optional<int32_t>, bits, std::nullopt, "Bits per weight (2^bits points).");
ABSL_FLAG(std::optional<int32_t>, bucket_size, std::nullopt, "Weights per scaling bucket (0: per tensor).");
ABSL_FLAG(std::optional<double>, temperature, std::nullopt, "Distillation temperature.");
ABSL_FLAG(std::optional<std::string>, kl_reduction, std::nullopt,
          "Distillation KL reduction: mean (over N * C, the reference's) | batchmean (over N).");
ABSL_FLAG(std::optional<double>, distill_weight, std::nullopt, "Weight of the teacher's term, in [0, 1].");
ABSL_FLAG(std::optional<bool>, anneal_distill_weight, std::nullopt,
          "Teacher annealing: the teacher's weight falls linearly to 0 over training.");
ABSL_FLAG(std::optional<bool>, stochastic_rounding, std::nullopt, "Round stochastically while training.");
ABSL_FLAG(std::optional<bool>, quantize_first_last_layer, std::nullopt,
          "Quantize the first and last layers too.");
ABSL_FLAG(std::optional<bool>, quantize_vectors, std::nullopt,
          "Quantize biases and normalization parameters too (default true, as the reference).");
ABSL_FLAG(std::optional<bool>, per_channel, std::nullopt,
          "One bucket per output channel of each weight instead of --bucket_size elements.");
ABSL_FLAG(std::optional<double>, points_lr, std::nullopt, "Differentiable quantization: SGD rate of the points.");
ABSL_FLAG(std::optional<std::string>, points_init, std::nullopt, "quantiles | uniform.");
ABSL_FLAG(std::optional<bool>, redistribute_points, std::nullopt,
          "Share the points out again by gradient norm.");
ABSL_FLAG(std::optional<std::string>, registry, std::nullopt, "Model registry file.");
ABSL_FLAG(std::optional<std::string>, name, std::nullopt, "Name of the run in the registry.");

namespace mc::experiments {
namespace {

using serialization::DistillationConfig;
using serialization::ExperimentConfig;

absl::Status Configure(ExperimentConfig& config) {
  MC_RETURN_IF_ERROR(ApplyFlags({{"method", "distillation.method"},
                                  {"teacher", "distillation.teacher"},
                                  {"teacher_model", "distillation.teacher_model"},
                                  {"student", "model.name"},
                                  {"init_from", "distillation.init_from", /*path=*/true},
                                  {"bits", "distillation.bits"},
                                  {"bucket_size", "distillation.bucket_size"},
                                  {"temperature", "distillation.temperature"},
                                  {"distill_weight", "distillation.distill_weight"},
                                  {"kl_reduction", "distillation.kl_reduction"},
                                  {"anneal_distill_weight", "distillation.anneal_distill_weight"},
                                  {"stochastic_rounding", "distillation.stochastic_rounding"},
                                  {"quantize_first_last_layer", "distillation.quantize_first_last_layer"},
                                  {"quantize_vectors", "distillation.quantize_vectors"},
                                  {"per_channel", "distillation.per_channel"},
                                  {"points_lr", "distillation.points_lr"},
                                  {"points_init", "distillation.points_init"},
                                  {"redistribute_points", "distillation.redistribute_points"},
                                  {"registry", "distillation.registry", /*path=*/true},
                                  {"name", "distillation.name"}},
                                 config));
  const DistillationConfig& d = config.distillation();
  if (d.method() == "differentiable_quantization" && d.init_from().empty()) {
    return absl::InvalidArgumentError(
        "differentiable_quantization learns the points of a trained float model: give "
        "--init_from=<float model file>");
  }
  return FinishDistillationConfig(config);
}

int Main(int argc, char** argv) {
  ExperimentSpec spec;
  spec.name = "cifar_distill";
  spec.description = "Quantized distillation and differentiable quantization.";
  spec.default_dataset = "cifar10";
  spec.defaults = &DistillationDefaults;
  spec.factory = &MakeDistillationTraining;
  spec.configure = &Configure;
  spec.run = &RunDistillationExperiment;
  return ExperimentMain(argc, argv, spec);
}

}  // namespace
}  // namespace mc::experiments

int main(int argc, char** argv) { return mc::experiments::Main(argc, argv); }
