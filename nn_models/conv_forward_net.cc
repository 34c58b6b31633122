#include "nn_models/conv_forward_net.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>

#include <algorithm>
#include <utility>

#include "nn_models/weight_init.h"

namespace mc::nn_models {
namespace {

bool Contains(const std::vector<int64_t>& layers, int64_t layer) {
  return std::find(layers.begin(), layers.end(), layer) != layers.end();
}

void CheckSpec(const ConvForwardNetSpec& spec) {
  TORCH_CHECK(!spec.conv_channels.empty(), "ConvForwardNetSpec needs at least one convolution");
  for (int64_t channels : spec.conv_channels) {
    TORCH_CHECK(channels >= 1, "ConvForwardNetSpec.conv_channels must be >= 1, got ", channels);
  }
  TORCH_CHECK(spec.kernel_size >= 1 && spec.kernel_size % 2 == 1,
              "ConvForwardNetSpec.kernel_size must be odd and >= 1, got ", spec.kernel_size);
  const int64_t num_convs = static_cast<int64_t>(spec.conv_channels.size());
  for (int64_t layer : spec.max_pool_after) {
    TORCH_CHECK(layer >= 0 && layer < num_convs, "ConvForwardNetSpec.max_pool_after: layer ", layer,
                " is not one of the ", num_convs, " convolutions");
  }
  for (int64_t width : spec.hidden_widths) {
    TORCH_CHECK(width >= 1, "ConvForwardNetSpec.hidden_widths must be >= 1, got ", width);
  }
  const int64_t num_layers = num_convs + static_cast<int64_t>(spec.hidden_widths.size());
  for (const auto& [layer, probability] : spec.dropout_after) {
    TORCH_CHECK(layer >= 0 && layer < num_layers, "ConvForwardNetSpec.dropout_after: layer ", layer,
                " is not one of the ", num_layers, " convolutions and hidden layers");
    TORCH_CHECK(probability >= 0.0 && probability < 1.0,
                "ConvForwardNetSpec.dropout_after: probability must be in [0, 1), got ",
                probability, " for layer ", layer);
  }
}

// Side of the last feature map: "same" convolutions keep it, each max-pool halves it.
int64_t FinalFeatureMapSize(const ConvForwardNetSpec& spec, int64_t image_size) {
  int64_t size = image_size;
  for (size_t pool = 0; pool < spec.max_pool_after.size(); ++pool) size /= 2;
  TORCH_CHECK(size >= 1, "image_size ", image_size, " is too small for ",
              spec.max_pool_after.size(), " 2x2 max-pools");
  return size;
}

}  // namespace

ConvForwardNetSpec QdTeacherSpec() {
  ConvForwardNetSpec spec;
  spec.conv_channels = {76, 76, 126, 126, 148, 148, 148, 148};
  spec.kernel_size = 3;
  spec.max_pool_after = {1, 3, 7};
  spec.hidden_widths = {1200, 1200};
  spec.dropout_after = {{1, 0.2}, {3, 0.3}, {7, 0.35}, {8, 0.4}, {9, 0.4}};
  return spec;
}

ConvForwardNetSpec QdStudentSpec(int student, bool with_dropout) {
  TORCH_CHECK(student >= 1 && student <= 3,
              "quantized-distillation student must be 1, 2 or 3, got ", student);
  ConvForwardNetSpec spec;
  switch (student) {
    case 1:
      spec.conv_channels = {75, 50, 50, 25};
      spec.hidden_widths = {500};
      break;
    case 2:
      spec.conv_channels = {50, 25, 25, 10};
      spec.hidden_widths = {400};
      break;
    default:
      spec.conv_channels = {25, 10, 10, 5};
      spec.hidden_widths = {300};
      break;
  }
  spec.kernel_size = 5;
  spec.max_pool_after = {1, 3};
  if (with_dropout) spec.dropout_after = {{1, 0.2}, {3, 0.3}, {4, 0.4}};
  return spec;
}

ConvForwardNetSpec QdDeepStudentSpec() {
  ConvForwardNetSpec spec;
  spec.conv_channels = {76, 76, 76, 126, 126, 126, 148, 148, 148, 148, 148};
  spec.kernel_size = 3;
  spec.max_pool_after = {2, 5, 10};
  spec.hidden_widths = {1000, 1000, 1000};
  spec.dropout_after = {{2, 0.2}, {5, 0.3}, {10, 0.35}, {11, 0.4}, {12, 0.4}};
  return spec;
}

ConvForwardNetImpl::ConvForwardNetImpl(ConvForwardNetSpec spec, const ModelOptions& options)
    : spec_(std::move(spec)), options_(options) {
  reset();
}

void ConvForwardNetImpl::reset() {
  CheckValid(options_);
  CheckSpec(spec_);
  const int64_t feature_map_size = FinalFeatureMapSize(spec_, options_.image_size());

  torch::nn::ModuleList convs;
  torch::nn::ModuleList conv_norms;
  int64_t in_channels = options_.in_channels();
  for (int64_t channels : spec_.conv_channels) {
    convs->push_back(
        torch::nn::Conv2d(torch::nn::Conv2dOptions(in_channels, channels, spec_.kernel_size)
                              .padding(spec_.kernel_size / 2)));
    conv_norms->push_back(torch::nn::BatchNorm2d(channels));
    in_channels = channels;
  }
  torch::nn::ModuleList linears;
  torch::nn::ModuleList linear_norms;
  int64_t in_features = in_channels * feature_map_size * feature_map_size;
  for (int64_t width : spec_.hidden_widths) {
    linears->push_back(torch::nn::Linear(in_features, width));
    linear_norms->push_back(torch::nn::BatchNorm1d(width));
    in_features = width;
  }
  convs_ = register_module("convs", convs);
  conv_norms_ = register_module("conv_norms", conv_norms);
  linears_ = register_module("linears", linears);
  linear_norms_ = register_module("linear_norms", linear_norms);
  output_ = register_module("output", torch::nn::Linear(in_features, options_.num_classes()));
  internal::InitConvolutionsXavierUniform(*this);
}

void ConvForwardNetImpl::pretty_print(std::ostream& stream) const {
  stream << "mc::nn_models::ConvForwardNet(convolutions=" << spec_.conv_channels.size()
         << ", kernel_size=" << spec_.kernel_size
         << ", hidden_layers=" << spec_.hidden_widths.size() << ", " << options_ << ")";
}

at::Tensor ConvForwardNetImpl::forward(const at::Tensor& images) {
  const int64_t size = options_.image_size();
  TORCH_CHECK(images.dim() == 4 && images.size(2) == size && images.size(3) == size,
              "ConvForwardNet expects (B, C, ", size, ", ", size, ") images, got ", images.sizes());
  // Layers are registered as ModuleList entries and fetched from the lists at every call: a
  // clone replaces the lists' entries, so holders kept on the side would go stale.
  at::Tensor x = images;
  int64_t layer = 0;
  for (size_t i = 0; i < convs_->size(); ++i, ++layer) {
    x = at::relu(convs_->at<torch::nn::Conv2dImpl>(i).forward(x));
    x = conv_norms_->at<torch::nn::BatchNorm2dImpl>(i).forward(x);
    if (Contains(spec_.max_pool_after, layer)) x = at::max_pool2d(x, /*kernel_size=*/2);
    if (auto dropout = spec_.dropout_after.find(layer); dropout != spec_.dropout_after.end()) {
      x = at::feature_dropout(x, dropout->second, is_training());
    }
  }
  x = x.flatten(1);
  for (size_t i = 0; i < linears_->size(); ++i, ++layer) {
    x = at::relu(linears_->at<torch::nn::LinearImpl>(i).forward(x));
    x = linear_norms_->at<torch::nn::BatchNorm1dImpl>(i).forward(x);
    if (auto dropout = spec_.dropout_after.find(layer); dropout != spec_.dropout_after.end()) {
      x = at::dropout(x, dropout->second, is_training());
    }
  }
  return at::relu(output_->forward(x));
}

ForwardGraphBuilder::Value ConvForwardNetImpl::DescribeForward(ForwardGraphBuilder& builder) const {
  ForwardGraphBuilder::Value x = builder.Input();
  for (size_t i = 0; i < convs_->size(); ++i) {
    x = builder.Relu(builder.Layer("convs." + std::to_string(i), x));
    x = builder.Layer("conv_norms." + std::to_string(i), x);
    if (Contains(spec_.max_pool_after, static_cast<int64_t>(i))) x = builder.MaxPool2d(x, 2, 2, 0);
  }
  x = builder.Flatten(x);
  for (size_t i = 0; i < linears_->size(); ++i) {
    x = builder.Relu(builder.Layer("linears." + std::to_string(i), x));
    x = builder.Layer("linear_norms." + std::to_string(i), x);
  }
  return builder.Relu(builder.Layer("output", x));
}

}  // namespace mc::nn_models
