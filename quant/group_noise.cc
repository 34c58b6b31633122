#include "quant/group_noise.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/util/Exception.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <vector>

namespace mc::quant {
namespace {

// Elements per parallel task: small layers run on one thread.
constexpr int64_t kGrainElements = 4096;

// Calls body(run, begin, end) for every run [begin, end) of `run_length` consecutive elements
// of [0, n) (the last run may be shorter), runs in parallel.
template <typename Body>
void ParallelRuns(int64_t n, int64_t run_length, const Body& body) {
  const int64_t runs = (n + run_length - 1) / run_length;
  at::parallel_for(0, runs, std::max<int64_t>(1, kGrainElements / run_length),
                   [&](int64_t first, int64_t last) {
                     for (int64_t run = first; run < last; ++run) {
                       body(run, run * run_length, std::min(n, (run + 1) * run_length));
                     }
                   });
}

// Adds the gradient of the range (max - min) of `weight`, `grad_range`, to `grad`: autograd
// splits the gradient of max() evenly among the elements equal to the maximum, and likewise
// for min(), with the opposite sign.
void AddRangeGradient(const float* weight, int64_t n, float low, float high, float grad_range,
                      float* grad) {
  std::vector<int64_t> lows;
  std::vector<int64_t> highs;
  for (int64_t i = 0; i < n; ++i) {
    if (weight[i] == high) highs.push_back(i);
    if (weight[i] == low) lows.push_back(i);
  }
  const float high_share = grad_range / static_cast<float>(highs.size());
  for (int64_t i : highs) grad[i] += high_share;
  const float low_share = -grad_range / static_cast<float>(lows.size());
  for (int64_t i : lows) grad[i] += low_share;
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
    ParallelRuns(weight.numel(), shared ? kGrainElements : group_size,
                 [&](int64_t run, int64_t begin, int64_t end) {
                   const float scaled_step = scale * s[shared ? 0 : run];
                   for (int64_t i = begin; i < end; ++i) o[i] = w[i] + scaled_step * e[i];
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

    // Per group: the sum of grad * eps, from which both the step's and the range's follow;
    // the same pass copies the weight's gradient.
    at::Tensor grad_eps_sums = at::empty({groups}, at::kDouble);
    at::Tensor grad_weight = at::empty_like(grad);
    const float* g = grad.data_ptr<float>();
    const float* e = eps.data_ptr<float>();
    float* gw = grad_weight.data_ptr<float>();
    double* sums = grad_eps_sums.data_ptr<double>();
    ParallelRuns(n, per_group, [&](int64_t group, int64_t begin, int64_t end) {
      double sum = 0;
      for (int64_t i = begin; i < end; ++i) {
        sum += double{g[i]} * e[i];
        gw[i] = g[i];
      }
      sums[group] = sum;
    });
    const at::Tensor grad_step = (grad_eps_sums * static_cast<double>(high - low)).to(at::kFloat);
    const float grad_range = (grad_eps_sums * step.to(at::kDouble)).sum().item<float>();
    AddRangeGradient(weight.data_ptr<float>(), n, low, high, grad_range, gw);
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
