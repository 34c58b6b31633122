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
  DistillationConfig& d = *config.mutable_distillation();
  if (const auto v = absl::GetFlag(FLAGS_method)) d.set_method(*v);
  if (const auto v = absl::GetFlag(FLAGS_teacher)) d.set_teacher(*v);
  if (const auto v = absl::GetFlag(FLAGS_teacher_model)) d.set_teacher_model(*v);
  if (const auto v = absl::GetFlag(FLAGS_student)) config.mutable_model()->set_name(*v);
  if (const auto v = absl::GetFlag(FLAGS_init_from)) d.set_init_from(UserPath(*v));
  if (const auto v = absl::GetFlag(FLAGS_bits)) d.set_bits(*v);
  if (const auto v = absl::GetFlag(FLAGS_bucket_size)) d.set_bucket_size(*v);
  if (const auto v = absl::GetFlag(FLAGS_temperature)) d.set_temperature(*v);
  if (const auto v = absl::GetFlag(FLAGS_distill_weight)) d.set_distill_weight(*v);
  if (const auto v = absl::GetFlag(FLAGS_kl_reduction)) d.set_kl_reduction(*v);
  if (const auto v = absl::GetFlag(FLAGS_anneal_distill_weight)) d.set_anneal_distill_weight(*v);
  if (const auto v = absl::GetFlag(FLAGS_stochastic_rounding)) d.set_stochastic_rounding(*v);
  if (const auto v = absl::GetFlag(FLAGS_quantize_first_last_layer)) d.set_quantize_first_last_layer(*v);
  if (const auto v = absl::GetFlag(FLAGS_points_lr)) d.set_points_lr(*v);
  if (const auto v = absl::GetFlag(FLAGS_points_init)) d.set_points_init(*v);
  if (const auto v = absl::GetFlag(FLAGS_redistribute_points)) d.set_redistribute_points(*v);
  if (const auto v = absl::GetFlag(FLAGS_registry)) d.set_registry(UserPath(*v));
  if (const auto v = absl::GetFlag(FLAGS_name)) d.set_name(*v);

  return FinishDistillationConfig(config);
}

int Main(int argc, char** argv) {
  ExperimentSpec spec{"cifar_distill", "Quantized distillation and differentiable quantization.",
                      "cifar10", &DistillationDefaults, &MakeDistillationTraining};
  spec.configure = &Configure;
  spec.run = &RunDistillationExperiment;
  return ExperimentMain(argc, argv, spec);
}

}  // namespace
}  // namespace mc::experiments

int main(int argc, char** argv) { return mc::experiments::Main(argc, argv); }
