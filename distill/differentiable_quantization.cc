#include "distill/differentiable_quantization.h"

#include <ATen/ATen.h>
#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>
#include <torch/utils.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <set>

#include "distill/layer_selection.h"
#include "quant/uniform.h"
#include "serialization/module_encoding.h"

namespace mc::distill {

/// A quantized parameter: the model's tensor, its frozen scaling and scaled float values,
/// and the current assignment.
struct DifferentiableQuantization::Quantized {
  at::Tensor param;
  quant::BucketScaling scaling;
  at::Tensor scaled;  ///< float32, the parameter's shape
  at::Tensor index;   ///< int64, the parameter's shape
};

namespace {

std::vector<std::string> QuantizedNames(const torch::nn::Module& model,
                                        const DifferentiableQuantizationOptions& options) {
  std::set<std::string> keep_float;
  if (!options.quantize_first_last_layer()) {
    for (const std::string& name : FirstAndLastLayerParameters(model)) keep_float.insert(name);
  }
  std::vector<std::string> names;
  for (const auto& item : model.named_parameters()) {
    if (keep_float.count(item.key()) == 0) names.push_back(item.key());
  }
  return names;
}

at::Tensor InitialPoints(const at::Tensor& scaled, int64_t n, PointsInit init) {
  const at::Tensor grid = at::linspace(0, 1, n, at::kFloat);
  if (init == PointsInit::kUniform) return grid;
  // Linear interpolation between order statistics, as numpy.percentile.
  return at::quantile(scaled.reshape({-1}).to(at::kDouble), grid.to(at::kDouble)).to(at::kFloat);
}

}  // namespace

std::vector<int64_t> RedistributePoints(const std::vector<double>& norms,
                                        const std::vector<int64_t>& initial) {
  TORCH_CHECK(norms.size() == initial.size(), "RedistributePoints: ", norms.size(),
              " norms for ", initial.size(), " tensors");
  const double norm_sum = std::accumulate(norms.begin(), norms.end(), 0.0);
  for (const double norm : norms) {
    TORCH_CHECK(norm >= 0 && std::isfinite(norm), "RedistributePoints: invalid norm ", norm);
  }
  if (initial.empty() || !(norm_sum > 0)) return initial;
  const int64_t total = std::accumulate(initial.begin(), initial.end(), int64_t{0});
  std::vector<int64_t> points(initial.size());
  int64_t kept = 0;
  for (size_t i = 0; i < initial.size(); ++i) {
    points[i] = initial[i] / 2;
    kept += points[i];
  }
  const int64_t rest = total - kept;
  for (size_t i = 0; i < initial.size(); ++i) {
    points[i] += static_cast<int64_t>(std::nearbyint(norms[i] / norm_sum * rest));  // half to even
  }
  const int64_t difference = std::accumulate(points.begin(), points.end(), int64_t{0}) - total;
  if (difference > 0) {
    *std::max_element(points.begin(), points.end()) -= difference;
  } else if (difference < 0) {
    *std::min_element(points.begin(), points.end()) -= difference;
  }
  for (const int64_t count : points) {
    TORCH_CHECK(count >= 1, "RedistributePoints: a tensor would get ", count, " points");
  }
  return points;
}

std::vector<double> MeanGradientNorms(nn_models::Classifier& model,
                                      const std::vector<std::string>& names,
                                      const std::vector<Batch>& batches) {
  TORCH_CHECK(!batches.empty(), "MeanGradientNorms: no batches");
  const bool was_training = model.is_training();
  model.eval();
  auto parameters = model.named_parameters();
  std::vector<at::Tensor> sums;
  for (const std::string& name : names) {
    TORCH_CHECK(parameters.contains(name), "MeanGradientNorms: no parameter ", name);
    sums.push_back(at::zeros_like(parameters[name]));
  }
  for (const Batch& batch : batches) {
    model.zero_grad();
    at::cross_entropy_loss(model.forward(batch.first), batch.second).backward();
    for (size_t i = 0; i < names.size(); ++i) {
      const at::Tensor grad = parameters[names[i]].grad();
      if (grad.defined()) sums[i] += grad;
    }
  }
  model.zero_grad();
  model.train(was_training);
  std::vector<double> norms;
  for (const at::Tensor& sum : sums) {
    norms.push_back((sum / static_cast<double>(batches.size())).norm().item<double>());
  }
  return norms;
}

DifferentiableQuantization::DifferentiableQuantization(
    const nn_models::Classifier& float_model, std::shared_ptr<nn_models::Classifier> teacher,
    const DifferentiableQuantizationOptions& options, const std::vector<Batch>& calibration)
    : model_(nn_models::Clone(float_model)),
      loss_(std::move(teacher), options.kd()),
      names_(QuantizedNames(float_model, options)) {
  const int64_t bits = quant::IntegerBits(options.bits(), 1, 15, "DifferentiableQuantization");
  TORCH_CHECK(options.bucket_size() >= 0, "DifferentiableQuantization: bucket_size must be >= 0");
  std::vector<int64_t> counts(names_.size(), int64_t{1} << bits);
  if (options.redistribute_points()) {
    TORCH_CHECK(!calibration.empty(),
                "DifferentiableQuantization: redistribute_points needs calibration batches");
    counts = RedistributePoints(MeanGradientNorms(*model_, names_, calibration), counts);
  }
  auto parameters = model_->named_parameters();
  for (auto& item : parameters) item.value().set_requires_grad(false);
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < names_.size(); ++i) {
    Quantized q;
    q.param = parameters[names_[i]];
    q.param.set_requires_grad(true);
    q.scaling = quant::LinearBucketScaling(q.param, options.bucket_size());
    q.scaled = quant::ScaleDown(q.param, q.scaling);
    TORCH_CHECK(counts[i] <= 65536, "DifferentiableQuantization: ", counts[i], " points for ",
                names_[i], " exceed 65536");
    points_.push_back(InitialPoints(q.scaled, counts[i], options.init()).requires_grad_());
    quantized_.push_back(std::move(q));
  }
  WriteQuantizedWeights();
}

DifferentiableQuantization::~DifferentiableQuantization() = default;

void DifferentiableQuantization::WriteQuantizedWeights() {
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < quantized_.size(); ++i) {
    Quantized& q = quantized_[i];
    q.index = quant::NearestPoint(q.scaled, points_[i]);
    const at::Tensor values =
        points_[i].detach().index_select(0, q.index.reshape({-1})).view(q.index.sizes());
    q.param.copy_(quant::ScaleUp(values, q.scaling));
  }
}

DifferentiableQuantization::StepOutput DifferentiableQuantization::Step(
    const at::Tensor& images, const at::Tensor& labels, torch::optim::Optimizer& points_optimizer,
    const distributed::GradientSync& sync_gradients) {
  model_->train();
  model_->zero_grad();
  points_optimizer.zero_grad();
  StepOutput output;
  output.logits = model_->forward(images);
  output.loss = loss_(output.logits, images, labels);
  output.loss.backward();
  {
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < quantized_.size(); ++i) {
      const Quantized& q = quantized_[i];
      const at::Tensor grad = q.param.grad();
      if (!grad.defined()) continue;
      // w = offset + scale * p[index]: dL/dp_j sums scale * dL/dw over the elements on p_j.
      const at::Tensor scaled_grad =
          quant::ExpandGroups(q.scaling.scale, grad.numel(), q.scaling.bucket_size) *
          grad.reshape({-1});
      points_[i].mutable_grad() =
          at::zeros_like(points_[i]).index_add_(0, q.index.reshape({-1}), scaled_grad);
    }
  }
  distributed::SyncGradients(sync_gradients, points_);
  points_optimizer.step();
  {
    torch::NoGradGuard no_grad;
    for (at::Tensor& points : points_) points.copy_(std::get<0>(points.sort()));
  }
  WriteQuantizedWeights();
  output.loss = output.loss.detach();
  output.logits = output.logits.detach();
  return output;
}

serialization::CompressedModel DifferentiableQuantization::GetQuantizedState() const {
  serialization::CompressedModel state;
  state.set_method("learned_points");
  std::map<std::string, serialization::CompressedTensor> encoded;
  for (size_t i = 0; i < names_.size(); ++i) {
    const Quantized& q = quantized_[i];
    serialization::CompressedTensor& tensor = encoded[names_[i]];
    tensor.set_name(names_[i]);
    for (const int64_t d : q.param.sizes()) tensor.add_shape(d);
    *tensor.mutable_learned_points() =
        quant::EncodeLearnedPoints(q.index, points_[i].detach(), q.scaling);
  }
  serialization::AppendModuleTensors(*model_, std::move(encoded), state);
  return state;
}

}  // namespace mc::distill
