#include "nn_models/state_dict.h"

#include <ATen/core/Tensor.h>
#include <ATen/core/grad_mode.h>
#include <c10/util/Exception.h>
#include <torch/nn/module.h>

#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace mc::nn_models {
namespace {

std::string Shape(const at::Tensor& tensor) {
  if (!tensor.defined()) return "undefined";
  return absl::StrCat("[", absl::StrJoin(tensor.sizes(), ", "), "]");
}

}  // namespace

absl::Status LoadStateDict(torch::nn::Module& module, const serialization::StateDict& state_dict) {
  std::vector<std::pair<std::string, at::Tensor>> targets;  // in module order
  for (const auto& parameter : module.named_parameters()) {
    targets.emplace_back(parameter.key(), parameter.value());
  }
  for (const auto& buffer : module.named_buffers()) {
    targets.emplace_back(buffer.key(), buffer.value());
  }
  std::unordered_map<std::string, at::Tensor> target_by_name(targets.begin(), targets.end());

  std::vector<std::string> missing, unexpected, duplicated, wrong_shape;
  std::vector<std::pair<at::Tensor, const at::Tensor*>> copies;  // (target, source)
  std::unordered_set<std::string> seen;
  for (const auto& [name, tensor] : state_dict) {
    if (!seen.insert(name).second) {
      duplicated.push_back(name);
      continue;
    }
    auto target = target_by_name.find(name);
    if (target == target_by_name.end()) {
      unexpected.push_back(name);
    } else if (!tensor.defined() || tensor.sizes() != target->second.sizes()) {
      wrong_shape.push_back(absl::StrCat(name, " (module ", Shape(target->second), ", state dict ",
                                         Shape(tensor), ")"));
    } else {
      copies.emplace_back(target->second, &tensor);
    }
  }
  for (const auto& [name, tensor] : targets) {
    if (seen.count(name) == 0) missing.push_back(name);
  }

  std::vector<std::string> problems;
  if (!missing.empty()) problems.push_back(absl::StrCat("missing: ", absl::StrJoin(missing, ", ")));
  if (!unexpected.empty()) {
    problems.push_back(absl::StrCat("unexpected: ", absl::StrJoin(unexpected, ", ")));
  }
  if (!duplicated.empty()) {
    problems.push_back(absl::StrCat("duplicated: ", absl::StrJoin(duplicated, ", ")));
  }
  if (!wrong_shape.empty()) {
    problems.push_back(absl::StrCat("wrong shape: ", absl::StrJoin(wrong_shape, ", ")));
  }
  if (!problems.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("state dict does not match the module: ", absl::StrJoin(problems, "; ")));
  }

  try {
    // Convert everything before writing anything, so that a failure leaves the module as it
    // was; a copy between tensors of one shape, dtype and device then cannot fail.
    std::vector<at::Tensor> converted;
    converted.reserve(copies.size());
    for (const auto& [target, source] : copies) {
      converted.push_back(source->to(target.device(), target.scalar_type()));
    }
    at::NoGradGuard no_grad;
    for (size_t i = 0; i < copies.size(); ++i) copies[i].first.copy_(converted[i]);
  } catch (const c10::Error& error) {
    return absl::InternalError(
        absl::StrCat("cannot load state dict: ", error.what_without_backtrace()));
  }
  return absl::OkStatus();
}

}  // namespace mc::nn_models
