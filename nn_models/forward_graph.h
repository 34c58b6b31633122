// File: forward_graph.h
// A model's forward pass (in eval mode) spelled out as calls on its named layers, for engines
// that run a model with other weights than its torch modules hold: the compressed runtime
// (runtime/) runs every model of the zoo from its stored encodings this way. Each model
// describes its own forward next to forward() itself; nn_models' tests check that replaying a
// description with the model's own modules gives forward()'s logits.
//
// Example (a model's description):
//   Value x = builder.Input();
//   x = builder.Relu(builder.Layer("bn1", builder.Layer("conv1", x)));
//   return builder.Layer("fc", builder.GlobalAveragePool(x));
#ifndef MC_NN_MODELS_FORWARD_GRAPH_H_
#define MC_NN_MODELS_FORWARD_GRAPH_H_

#include <cstdint>
#include <string>

namespace mc::nn_models {

/// Receives a forward pass. Values are the builder's handles for intermediate tensors.
class ForwardGraphBuilder {
 public:
  using Value = int;

  virtual ~ForwardGraphBuilder() = default;

  /// The images, (B, C, H, W).
  virtual Value Input() = 0;
  /// The module at dotted `path` in the model (Conv2d, Linear, BatchNorm1d or BatchNorm2d,
  /// with the options and parameter names it was built with) applied to x.
  virtual Value Layer(const std::string& path, Value x) = 0;
  virtual Value Relu(Value x) = 0;
  /// min(max(x, 0), 6).
  virtual Value Relu6(Value x) = 0;
  virtual Value Add(Value a, Value b) = 0;
  /// Max-pooling with square windows, as at::max_pool2d (floor mode).
  virtual Value MaxPool2d(Value x, int64_t kernel_size, int64_t stride, int64_t padding) = 0;
  /// Mean over H and W: (B, C, H, W) -> (B, C).
  virtual Value GlobalAveragePool(Value x) = 0;
  /// (B, ...) -> (B, product of the rest).
  virtual Value Flatten(Value x) = 0;
};

}  // namespace mc::nn_models

#endif  // MC_NN_MODELS_FORWARD_GRAPH_H_
