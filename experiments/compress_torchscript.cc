// compress_torchscript: a model written in Python, given as its TorchScript file, trained in
// float and then compressed by one method, with the flags of the per-paper binaries:
//   --method=ptq    uniform quantization at --bits in buckets of --bucket_size weights, no
//                   training (cifar_distill's "quantized" method over zero epochs); one
//                   bucket per output channel unless --per_channel=false; biases and
//                   normalization parameters stay float unless --quantize_vectors;
//   --method=dq     post-training quantization on learned points: cifar_distill's
//                   differentiable quantization of the float model (2^--bits points per
//                   tensor in buckets of --bucket_size, moved by --epochs of gradient steps
//                   on the distillation loss from the float model);
//   --method=diffq | qat | lsq   cifar_diffq's methods, trained from the float weights;
//   --method=vq     product quantization (cifar_vq) of the float model.
//
//   bazel run //experiments:compress_torchscript -- --model=$PWD/mobilenet_v2.pt
//       --dataset=fashion_mnist --method=diffq --epochs=1
// The float model is --teacher (a model file of the same script) or trained first, for
// --epochs, in float/ under the output directory. The compressed model's file holds the
// script (model_io's inspect --export_torchscript gives it back to Python).
#include <cstdint>
#include <optional>
#include <string>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/status_macros.h"
#include "common/user_path.h"
#include "experiments/config_flags.h"
#include "experiments/diffq_flags.h"
#include "experiments/diffq_method.h"
#include "experiments/distillation_method.h"
#include "experiments/experiment_main.h"
#include "experiments/vq_flags.h"
#include "experiments/vq_method.h"
#include "serialization/experiment_config.h"

ABSL_DECLARE_FLAG(std::optional<std::string>, method);   // experiments/diffq_flags.cc
ABSL_DECLARE_FLAG(std::optional<std::string>, teacher);  // experiments/vq_flags.cc
ABSL_FLAG(std::optional<int32_t>, bucket_size, std::nullopt,
          "ptq with --per_channel=false, dq: weights sharing one scale (0: one per tensor; "
          "default 256).");
ABSL_FLAG(std::optional<bool>, quantize_vectors, std::nullopt,
          "ptq: quantize biases and normalization parameters too (default false).");
ABSL_FLAG(std::optional<double>, points_lr, std::nullopt,
          "dq: SGD learning rate of the points (default 1e-4, the reference's).");
ABSL_FLAG(std::optional<bool>, per_channel, std::nullopt,
          "ptq: one bucket per output channel of each weight (default true); false: "
          "--bucket_size elements.");

namespace mc::experiments {
namespace {

using serialization::ExperimentConfig;

std::string Method() { return absl::GetFlag(FLAGS_method).value_or("diffq"); }

// cifar_distill's methods: "ptq" is its "quantized" method over zero epochs, "dq" its
// differentiable quantization.
bool IsDistillationMethod(const std::string& method) { return method == "ptq" || method == "dq"; }

ExperimentConfig Defaults(absl::string_view dataset) {
  const std::string method = Method();
  if (method == "vq") return VqDefaults(dataset);
  if (!IsDistillationMethod(method)) return DiffqDefaults(dataset);
  ExperimentConfig config = DistillationDefaults(dataset);
  if (method == "dq") {
    // Learned points quantize every tensor, in buckets (the reference's choices).
    config.mutable_distillation()->set_method("differentiable_quantization");
    return config;
  }
  config.mutable_distillation()->set_method("quantized");
  // Weights only, one scale per output channel, the usual choices for post-training
  // quantization: on a scripted MobileNetV2 (float 0.8315), 4-bit BatchNorm scales and
  // shifts and buckets of 256 gave 0.7413; weights only 0.7868; buckets of 9 (one per
  // depthwise channel) 0.8240.
  config.mutable_distillation()->set_quantize_vectors(false);
  config.mutable_distillation()->set_per_channel(true);
  return config;
}

// The field naming the float model the method starts from.
std::string* FloatModelField(ExperimentConfig& config) {
  const std::string method = Method();
  if (method == "vq") return config.mutable_vq()->mutable_teacher();
  if (IsDistillationMethod(method)) return config.mutable_distillation()->mutable_init_from();
  return config.mutable_quantization()->mutable_start_from();
}

absl::Status Configure(ExperimentConfig& config) {
  const std::string method = Method();
  MC_RETURN_IF_ERROR(serialization::CheckChoice("--method", method,
                                                {"ptq", "dq", "diffq", "qat", "lsq", "vq"}));
  if (!config.model().has_torchscript_file()) {
    return absl::InvalidArgumentError(
        "give the model as --model=<TorchScript file>, e.g. --model=$PWD/mobilenet_v2.pt "
        "(torch.jit.save of torch.jit.script(model) or torch.jit.trace(model, example))");
  }
  if (method == "vq") return ApplyVqFlags(config);
  if (const std::optional<std::string> teacher = absl::GetFlag(FLAGS_teacher)) {
    *FloatModelField(config) = UserPath(*teacher);
  }
  if (method == "ptq") {
    MC_RETURN_IF_ERROR(ApplyFlags(
        {{"bits", "distillation.bits"},
         {"bucket_size", "distillation.bucket_size"},
         {"quantize_vectors", "distillation.quantize_vectors"},
         {"per_channel", "distillation.per_channel"}},
        config));
    return FinishDistillationConfig(config);
  }
  if (method == "dq") {
    MC_RETURN_IF_ERROR(ApplyFlags({{"bits", "distillation.bits"},
                                   {"bucket_size", "distillation.bucket_size"},
                                   {"points_lr", "distillation.points_lr"}},
                                  config));
    return FinishDistillationConfig(config);
  }
  return ApplyDiffqFlags(config);
}

MethodFactory Factory() {
  const std::string method = Method();
  if (method == "vq") return &MakeVqTraining;
  if (IsDistillationMethod(method)) return &MakeDistillationTraining;
  return &MakeQuantizationTraining;
}

}  // namespace
}  // namespace mc::experiments

int main(int argc, char** argv) {
  namespace experiments = mc::experiments;
  experiments::ExperimentSpec spec;
  spec.name = "compress_torchscript";
  spec.description =
      "Compresses a model written in Python (its TorchScript file): --method=ptq|dq|diffq|qat|lsq|vq.";
  spec.default_dataset = "fashion_mnist";
  spec.defaults = &experiments::Defaults;
  spec.configure = &experiments::Configure;
  // The method is known once the flags are parsed, before the factory is called.
  spec.factory = [](const experiments::MethodContext& context) {
    return experiments::Factory()(context);
  };
  experiments::FloatStartingPoint start;
  start.model_file = &experiments::FloatModelField;
  start.subdirectory = "float";
  start.role = "the float model to compress";
  start.adjust_run = [](mc::serialization::ExperimentConfig& config) {
    const std::string method = experiments::Method();
    if (method == "ptq") config.mutable_training()->set_epochs(0);
    if (method == "vq") experiments::LimitGlobalFinetuneSteps(config);
  };
  spec.float_start = start;
  return experiments::ExperimentMain(argc, argv, spec);
}
