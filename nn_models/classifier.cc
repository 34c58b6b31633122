#include "nn_models/classifier.h"

#include <c10/util/Exception.h>

namespace mc::nn_models {

std::shared_ptr<Classifier> Clone(const Classifier& model) {
  // The dynamic type of the copy is the model's own Impl class, which derives from Classifier.
  std::shared_ptr<Classifier> copy = std::dynamic_pointer_cast<Classifier>(model.clone());
  TORCH_INTERNAL_ASSERT(copy != nullptr, "the copy of ", model.name(), " is not a Classifier");
  return copy;
}

int64_t CountParameters(const torch::nn::Module& module) {
  int64_t count = 0;
  for (const at::Tensor& parameter : module.parameters()) count += parameter.numel();
  return count;
}

}  // namespace mc::nn_models
