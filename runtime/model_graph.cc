#include "runtime/model_graph.h"

#include <ATen/ATen.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "model_io/decoder.h"
#include "runtime/layers.h"
#include "runtime/weight_loading.h"

namespace mc::runtime {
namespace {

using Value = nn_models::ForwardGraphBuilder::Value;

// One call of a model's description.
struct Node {
  enum class Kind { kInput, kLayer, kRelu, kRelu6, kAdd, kMaxPool, kAveragePool, kFlatten };
  Kind kind = Kind::kInput;
  std::vector<Value> inputs;
  std::string path;  // kLayer
  int64_t kernel_size = 0, stride = 0, padding = 0;  // kMaxPool
};

Node MakeNode(Node::Kind kind, std::vector<Value> inputs) {
  Node node;
  node.kind = kind;
  node.inputs = std::move(inputs);
  return node;
}

// Records a description as a list of nodes; node i is value i.
class Recorder : public nn_models::ForwardGraphBuilder {
 public:
  const std::vector<Node>& nodes() const { return nodes_; }

  Value Input() override { return Push(MakeNode(Node::Kind::kInput, {})); }
  Value Layer(const std::string& path, Value x) override {
    Node node = MakeNode(Node::Kind::kLayer, {x});
    node.path = path;
    return Push(std::move(node));
  }
  Value Relu(Value x) override { return Push(MakeNode(Node::Kind::kRelu, {x})); }
  Value Relu6(Value x) override { return Push(MakeNode(Node::Kind::kRelu6, {x})); }
  Value Add(Value a, Value b) override { return Push(MakeNode(Node::Kind::kAdd, {a, b})); }
  Value MaxPool2d(Value x, int64_t kernel_size, int64_t stride, int64_t padding) override {
    Node node = MakeNode(Node::Kind::kMaxPool, {x});
    node.kernel_size = kernel_size;
    node.stride = stride;
    node.padding = padding;
    return Push(std::move(node));
  }
  Value GlobalAveragePool(Value x) override { return Push(MakeNode(Node::Kind::kAveragePool, {x})); }
  Value Flatten(Value x) override { return Push(MakeNode(Node::Kind::kFlatten, {x})); }

 private:
  Value Push(Node node) {
    nodes_.push_back(std::move(node));
    return static_cast<Value>(nodes_.size() - 1);
  }
  std::vector<Node> nodes_;
};

// What a node became in the graph, and what a following node may still fuse into.
struct Emitted {
  Graph::Value value = Graph::kInput;
  ChannelEpilogue* epilogue = nullptr;  // open to a folded BatchNorm or an activation
  Activation* activation = nullptr;     // open to an activation
};

// Turns recorded nodes into a Graph, one node at a time.
class GraphCompiler {
 public:
  GraphCompiler(const nn_models::Classifier& model, const serialization::CompressedModel& stored,
                const std::vector<Node>& nodes)
      : modules_(model.named_modules()), nodes_(nodes), consumers_(nodes.size(), 0) {
    for (const serialization::CompressedTensor& tensor : stored.tensors()) {
      tensors_[tensor.name()] = &tensor;
    }
    for (const Node& node : nodes) {
      for (const Value input : node.inputs) ++consumers_[input];
    }
  }

  absl::StatusOr<Graph> Compile(Value output) && {
    emitted_.resize(nodes_.size());
    for (size_t i = 0; i < nodes_.size(); ++i) {
      MC_ASSIGN_OR_RETURN(emitted_[i], Emit(nodes_[i]));
    }
    if (graph_.size() == 0 || emitted_[output].value != static_cast<Graph::Value>(graph_.size())) {
      return absl::InvalidArgumentError("the model's description does not end with its logits");
    }
    return std::move(graph_);
  }

 private:
  absl::StatusOr<Emitted> Emit(const Node& node) {
    switch (node.kind) {
      case Node::Kind::kInput:
        return Emitted{Graph::kInput};
      case Node::Kind::kLayer:
        return EmitLayer(node);
      case Node::Kind::kRelu:
        return EmitActivation(node, Activation::kRelu);
      case Node::Kind::kRelu6:
        return EmitActivation(node, Activation::kRelu6);
      case Node::Kind::kAdd: {
        auto add = std::make_unique<AddLayer>();
        Activation* activation = &add->activation();
        return Emitted{Append(std::move(add), node.inputs), nullptr, activation};
      }
      case Node::Kind::kMaxPool:
        return Emitted{Append(std::make_unique<MaxPoolLayer>(node.kernel_size, node.stride,
                                                             node.padding),
                              node.inputs)};
      case Node::Kind::kAveragePool:
        return Emitted{Append(std::make_unique<GlobalAveragePoolLayer>(), node.inputs)};
      case Node::Kind::kFlatten:
        return Emitted{Append(std::make_unique<FlattenLayer>(), node.inputs)};
    }
    return absl::InternalError("unknown node");
  }

  Graph::Value Append(std::unique_ptr<Layer> layer, const std::vector<Value>& inputs) {
    std::vector<Graph::Value> values;
    for (const Value input : inputs) values.push_back(emitted_[input].value);
    return graph_.Append(std::move(layer), std::move(values));
  }

  // The producer of `node`'s single input, when `node` is its only reader.
  Emitted* FusableProducer(const Node& node) {
    const Value input = node.inputs[0];
    return consumers_[input] == 1 ? &emitted_[input] : nullptr;
  }

  absl::StatusOr<Emitted> EmitActivation(const Node& node, Activation activation) {
    if (Emitted* producer = FusableProducer(node)) {
      if (producer->epilogue != nullptr) {
        producer->epilogue->activation = activation;
        return Emitted{producer->value};
      }
      if (producer->activation != nullptr) {
        *producer->activation = activation;
        return Emitted{producer->value};
      }
    }
    ChannelEpilogue epilogue;
    epilogue.activation = activation;
    return Emitted{Append(std::make_unique<EpilogueLayer>(std::move(epilogue)), node.inputs)};
  }

  absl::StatusOr<Emitted> EmitLayer(const Node& node) {
    auto module = modules_.find(node.path);
    if (module == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("the model's description names layer ", node.path, ", which it does not have"));
    }
    if (const auto* conv = (*module)->as<torch::nn::Conv2dImpl>()) return EmitConv(node, *conv);
    if (const auto* linear = (*module)->as<torch::nn::LinearImpl>()) return EmitLinear(node, *linear);
    if (const auto* norm = (*module)->as<torch::nn::BatchNorm2dImpl>()) {
      return EmitBatchNorm(node, norm->options.eps());
    }
    if (const auto* norm = (*module)->as<torch::nn::BatchNorm1dImpl>()) {
      return EmitBatchNorm(node, norm->options.eps());
    }
    return absl::UnimplementedError(absl::StrCat("layer ", node.path, " (", (*module)->name(),
                                                 ") is not a Conv2d, Linear or BatchNorm"));
  }

  absl::StatusOr<const serialization::CompressedTensor*> Tensor(const std::string& name,
                                                                const std::vector<int64_t>& shape) {
    const auto found = tensors_.find(name);
    if (found == tensors_.end()) {
      return absl::InvalidArgumentError(absl::StrCat("the model file has no tensor ", name));
    }
    const auto& stored_shape = found->second->shape();
    if (!std::equal(stored_shape.begin(), stored_shape.end(), shape.begin(), shape.end())) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tensor ", name, " has shape [", absl::StrJoin(stored_shape, ", "),
          "], the model's layer needs [", absl::StrJoin(shape, ", "), "]"));
    }
    return found->second;
  }

  absl::StatusOr<at::Tensor> DecodedTensor(const std::string& name, int64_t size) {
    MC_ASSIGN_OR_RETURN(const serialization::CompressedTensor* tensor, Tensor(name, {size}));
    MC_ASSIGN_OR_RETURN(at::Tensor values, model_io::DecodeTensor(*tensor));
    return values.to(at::kFloat).contiguous();
  }

  absl::StatusOr<ChannelEpilogue> BiasEpilogue(const std::string& path, bool bias, int64_t size) {
    ChannelEpilogue epilogue;
    if (bias) {
      MC_ASSIGN_OR_RETURN(epilogue.shift, DecodedTensor(path + ".bias", size));
    }
    return epilogue;
  }

  absl::StatusOr<Emitted> EmitConv(const Node& node, const torch::nn::Conv2dImpl& conv) {
    const auto& options = conv.options;
    const auto* padding = c10::get_if<torch::ExpandingArray<2>>(&options.padding());
    const auto& kernel = options.kernel_size();
    if (padding == nullptr || (*padding)->at(0) != (*padding)->at(1) ||
        options.stride()->at(0) != options.stride()->at(1) ||
        options.dilation()->at(0) != options.dilation()->at(1) ||
        !c10::holds_alternative<torch::enumtype::kZeros>(options.padding_mode())) {
      return absl::UnimplementedError(absl::StrCat(
          "convolution ", node.path,
          ": the runtime runs equal numeric paddings, strides and dilations with zero padding"));
    }
    ConvGeometry geometry{options.in_channels(), options.out_channels(), kernel->at(0), kernel->at(1),
                          options.stride()->at(0), (*padding)->at(0), options.dilation()->at(0),
                          options.groups()};
    const std::vector<int64_t> shape{geometry.out_channels, geometry.in_channels / geometry.groups,
                                     geometry.kernel_h, geometry.kernel_w};
    MC_ASSIGN_OR_RETURN(const serialization::CompressedTensor* stored, Tensor(node.path + ".weight", shape));
    MC_ASSIGN_OR_RETURN(WeightMatrix weight, LoadWeightMatrix(*stored, WeightUse::kDecodedTiles));
    MC_ASSIGN_OR_RETURN(ChannelEpilogue epilogue,
                        BiasEpilogue(node.path, options.bias(), geometry.out_channels));
    auto layer = std::make_unique<ConvLayer>(std::move(weight), geometry, std::move(epilogue));
    ChannelEpilogue* open = &layer->epilogue();
    return Emitted{Append(std::move(layer), node.inputs), open};
  }

  absl::StatusOr<Emitted> EmitLinear(const Node& node, const torch::nn::LinearImpl& linear) {
    const torch::nn::LinearOptions& options = linear.options;
    MC_ASSIGN_OR_RETURN(const serialization::CompressedTensor* stored,
                        Tensor(node.path + ".weight", {options.out_features(), options.in_features()}));
    MC_ASSIGN_OR_RETURN(WeightMatrix weight, LoadWeightMatrix(*stored));
    MC_ASSIGN_OR_RETURN(ChannelEpilogue epilogue,
                        BiasEpilogue(node.path, options.bias(), options.out_features()));
    auto layer = std::make_unique<LinearLayer>(std::move(weight), std::move(epilogue));
    ChannelEpilogue* open = &layer->epilogue();
    return Emitted{Append(std::move(layer), node.inputs), open};
  }

  // y = (x - mean) / sqrt(var + eps) * weight + bias as scale * x + shift, folded into the
  // producing layer when possible.
  absl::StatusOr<Emitted> EmitBatchNorm(const Node& node, double eps) {
    const std::string& path = node.path;
    const auto* mean_tensor = tensors_.count(path + ".running_mean") ? tensors_[path + ".running_mean"] : nullptr;
    if (mean_tensor == nullptr || mean_tensor->shape_size() != 1) {
      return absl::InvalidArgumentError(absl::StrCat("the model file has no 1-D tensor ", path, ".running_mean"));
    }
    const int64_t channels = mean_tensor->shape(0);
    MC_ASSIGN_OR_RETURN(const at::Tensor mean, DecodedTensor(path + ".running_mean", channels));
    MC_ASSIGN_OR_RETURN(const at::Tensor var, DecodedTensor(path + ".running_var", channels));
    MC_ASSIGN_OR_RETURN(const at::Tensor weight, DecodedTensor(path + ".weight", channels));
    MC_ASSIGN_OR_RETURN(const at::Tensor bias, DecodedTensor(path + ".bias", channels));
    const at::Tensor scale = weight / at::sqrt(var + eps);
    const at::Tensor shift = bias - mean * scale;
    Emitted* producer = FusableProducer(node);
    if (producer != nullptr && producer->epilogue != nullptr &&
        producer->epilogue->activation == Activation::kNone) {
      producer->epilogue->Compose(scale, shift);
      return Emitted{producer->value, producer->epilogue};
    }
    ChannelEpilogue epilogue;
    epilogue.scale = scale;
    epilogue.shift = shift;
    auto layer = std::make_unique<EpilogueLayer>(std::move(epilogue));
    ChannelEpilogue* open = &layer->epilogue();
    return Emitted{Append(std::move(layer), node.inputs), open};
  }

  torch::OrderedDict<std::string, std::shared_ptr<torch::nn::Module>> modules_;
  std::map<std::string, const serialization::CompressedTensor*> tensors_;
  const std::vector<Node>& nodes_;
  std::vector<int> consumers_;
  std::vector<Emitted> emitted_;
  Graph graph_;
};

}  // namespace

absl::StatusOr<Graph> BuildGraph(const nn_models::Classifier& model,
                                 const serialization::CompressedModel& stored) {
  Recorder recorder;
  const Value output = model.DescribeForward(recorder);
  return GraphCompiler(model, stored, recorder.nodes()).Compile(output);
}

}  // namespace mc::runtime
