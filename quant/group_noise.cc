#include "quant/group_noise.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/util/Exception.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>

namespace mc::quant {
namespace {

// Elements per parallel task: small layers run on one thread.
constexpr int64_t kGrainElements = 4096;

// Adds `share` to every element of `grad` whose weight equals `extreme`, `share` being
// `total` over their count: the gradient autograd gives max() and min() of a tensor.
void DistributeToExtremes(const float* weight, float extreme, float total, int64_t n, float* grad) {
  int64_t count = 0;
  for (int64_t i = 0; i < n; ++i) count += weight[i] == extreme;
  if (count == 0) return;
  const float share = total / static_cast<float>(count);
  for (int64_t i = 0; i < n; ++i) {
    if (weight[i] == extreme) grad[i] += share;
  }
}

class GroupNoise : public torch::autograd::Function<GroupNoise> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* context, const at::Tensor& weight,
                            const at::Tensor& step, const at::Tensor& eps, int64_t group_size) {
    const auto [min, max] = at::aminmax(weight);
    const float low = min.item<float>();
    const float high = max.item<float>();
    context->save_for_backward({weight, step, eps});
    context->saved_data["group_size"] = group_size;
    context->saved_data["low"] = static_cast<double>(low);
    context->saved_data["high"] = static_cast<double>(high);
    at::Tensor out = at::empty_like(weight);
    const float* w = weight.data_ptr<float>();
    const float* s = step.data_ptr<float>();
    const float* e = eps.data_ptr<float>();
    float* o = out.data_ptr<float>();
    const float scale = high - low;
    const bool shared = step.numel() == 1;
    at::parallel_for(0, weight.numel(), kGrainElements, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        o[i] = w[i] + (scale * s[shared ? 0 : i / group_size]) * e[i];
      }
    });
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* context,
                                                 torch::autograd::variable_list grads) {
    const torch::autograd::variable_list saved = context->get_saved_variables();
    const at::Tensor& weight = saved[0];
    const at::Tensor& step = saved[1];
    const at::Tensor& eps = saved[2];
    const int64_t group_size = context->saved_data["group_size"].toInt();
    const auto low = static_cast<float>(context->saved_data["low"].toDouble());
    const auto high = static_cast<float>(context->saved_data["high"].toDouble());
    const at::Tensor grad = grads[0].contiguous();
    const int64_t n = grad.numel();
    const int64_t groups = step.numel();
    const int64_t per_group = groups == 1 ? n : group_size;

    // Per group: the sum of grad * eps, from which both the step's and the range's follow.
    at::Tensor grad_eps_sums = at::empty({groups}, at::kDouble);
    const float* g = grad.data_ptr<float>();
    const float* e = eps.data_ptr<float>();
    double* sums = grad_eps_sums.data_ptr<double>();
    at::parallel_for(0, groups, std::max<int64_t>(1, kGrainElements / per_group),
                     [&](int64_t begin, int64_t end) {
                       for (int64_t k = begin; k < end; ++k) {
                         double sum = 0;
                         const int64_t last = std::min(n, (k + 1) * per_group);
                         for (int64_t i = k * per_group; i < last; ++i) sum += double{g[i]} * e[i];
                         sums[k] = sum;
                       }
                     });
    const at::Tensor grad_step = (grad_eps_sums * static_cast<double>(high - low)).to(at::kFloat);
    const float grad_range = (grad_eps_sums * step.to(at::kDouble)).sum().item<float>();

    at::Tensor grad_weight = grad.clone();
    const float* w = weight.data_ptr<float>();
    float* gw = grad_weight.data_ptr<float>();
    DistributeToExtremes(w, high, grad_range, n, gw);
    DistributeToExtremes(w, low, -grad_range, n, gw);
    return {grad_weight, grad_step, at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor AddGroupNoise(const at::Tensor& weight, const at::Tensor& step, const at::Tensor& eps,
                         int64_t group_size) {
  TORCH_CHECK(weight.dim() == 1 && eps.dim() == 1 && step.dim() == 1,
              "AddGroupNoise: expected 1-D weight, step and eps, got ", weight.sizes(), ", ",
              step.sizes(), " and ", eps.sizes());
  TORCH_CHECK(weight.scalar_type() == at::kFloat && eps.scalar_type() == at::kFloat &&
                  step.scalar_type() == at::kFloat,
              "AddGroupNoise: expected float32 tensors");
  TORCH_CHECK(group_size >= 1, "AddGroupNoise: group_size must be >= 1, got ", group_size);
  const int64_t n = weight.numel();
  TORCH_CHECK(n >= 1, "AddGroupNoise: the weight is empty");
  TORCH_CHECK(eps.numel() == n, "AddGroupNoise: ", n, " weights but ", eps.numel(), " noise values");
  TORCH_CHECK(step.numel() == 1 || step.numel() == (n + group_size - 1) / group_size,
              "AddGroupNoise: ", step.numel(), " steps for ", n, " weights in groups of ",
              group_size);
  return GroupNoise::apply(weight.contiguous(), step.contiguous(), eps.contiguous(), group_size);
}

}  // namespace mc::quant
