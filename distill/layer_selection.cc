#include "distill/layer_selection.h"

#include <torch/nn/module.h>

#include "nn_models/layers.h"

namespace mc::distill {

std::vector<std::string> FirstAndLastLayerParameters(const torch::nn::Module& model) {
  std::vector<std::pair<std::string, std::shared_ptr<torch::nn::Module>>> layers;
  for (const auto& item : model.named_modules("", /*include_self=*/true)) {
    if (nn_models::IsConvolutionOrLinear(*item.value())) {
      layers.emplace_back(item.key(), item.value());
    }
  }
  std::vector<std::string> names;
  if (layers.empty()) return names;
  const auto add_parameters = [&](const std::string& prefix, const torch::nn::Module& layer) {
    for (const auto& parameter : layer.named_parameters(/*recurse=*/false)) {
      names.push_back(prefix.empty() ? parameter.key() : prefix + "." + parameter.key());
    }
  };
  add_parameters(layers.front().first, *layers.front().second);
  if (layers.size() > 1) add_parameters(layers.back().first, *layers.back().second);
  return names;
}

std::vector<std::string> VectorParameters(const torch::nn::Module& model) {
  std::vector<std::string> names;
  for (const auto& parameter : model.named_parameters(/*recurse=*/true)) {
    if (parameter.value().dim() < 2) names.push_back(parameter.key());
  }
  return names;
}

}  // namespace mc::distill
