#include "distill/quantized_distillation.h"

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include "distill/layer_selection.h"

namespace mc::distill {
namespace {

std::shared_ptr<nn_models::Classifier> RequireTeacher(std::shared_ptr<nn_models::Classifier> teacher,
                                                      const QuantizedDistillationOptions& options) {
  TORCH_CHECK(teacher != nullptr || !options.distillation(),
              "QuantizedDistillation: distillation needs a teacher");
  return options.distillation() ? std::move(teacher) : nullptr;
}

}  // namespace

std::unique_ptr<quant::BucketedUniformQuantizer> AttachStudentQuantizer(
    std::shared_ptr<torch::nn::Module> student, const QuantizedDistillationOptions& options) {
  std::vector<std::string> keep_float;
  if (!options.quantize_first_last_layer()) keep_float = FirstAndLastLayerParameters(*student);
  if (!options.quantize_vectors()) {
    for (std::string& name : VectorParameters(*student)) keep_float.push_back(std::move(name));
  }
  return std::make_unique<quant::BucketedUniformQuantizer>(
      std::move(student), quant::BucketedUniformOptions()
                              .bits(options.bits())
                              .bucket_size(options.bucket_size())
                              .per_channel(options.per_channel())
                              .stochastic_rounding(options.stochastic_rounding())
                              .exclude(keep_float));
}

QuantizedDistillation::QuantizedDistillation(std::shared_ptr<nn_models::Classifier> student,
                                             std::shared_ptr<nn_models::Classifier> teacher,
                                             const QuantizedDistillationOptions& options)
    : student_(std::move(student)),
      quantizer_(AttachStudentQuantizer(student_, options)),
      loss_(RequireTeacher(std::move(teacher), options), options.kd()) {}

QuantizedDistillation::StepOutput QuantizedDistillation::Step(const at::Tensor& images,
                                                              const at::Tensor& labels) {
  student_->train();
  student_->zero_grad();
  StepOutput output;
  quant::TrainingStep step = quantizer_->training_step();
  output.logits = student_->forward(images);
  output.loss = loss_(output.logits, images, labels);
  output.loss.backward();
  step.backward();
  output.loss = output.loss.detach();
  output.logits = output.logits.detach();
  return output;
}

}  // namespace mc::distill
