// File: graph.h
// A model's forward pass as the runtime runs it: layers applied in order to numbered values
// (value 0 is the input), each value released after its last use. Layers hold their weights
// in their stored encodings (runtime/weight_matrix.h); runtime/model_graph.h builds a Graph
// from a model's own description of its forward pass (nn_models/forward_graph.h).
#ifndef MC_RUNTIME_GRAPH_H_
#define MC_RUNTIME_GRAPH_H_

#include <ATen/core/Tensor.h>

#include <cstddef>
#include <memory>
#include <vector>

#include "runtime/weight_matrix.h"

namespace mc::runtime {

/// One step of a Graph.
class Layer {
 public:
  virtual ~Layer() = default;
  /// The layer's output for `inputs` (in the order the graph lists them).
  virtual at::Tensor Forward(const std::vector<at::Tensor>& inputs,
                             Activations activations) const = 0;
  /// Bytes of the weights the layer keeps in memory.
  virtual size_t WeightBytes() const { return 0; }
};

class Graph {
 public:
  using Value = int;
  static constexpr Value kInput = 0;

  /// Adds `layer` applied to `inputs` (earlier values); returns its output's value.
  Value Append(std::unique_ptr<Layer> layer, std::vector<Value> inputs);

  /// Runs the layers on `input` and returns the last layer's output.
  at::Tensor Run(const at::Tensor& input, Activations activations) const;

  /// Bytes of all layers' weights.
  size_t WeightBytes() const;

  size_t size() const { return steps_.size(); }

 private:
  struct Step {
    std::unique_ptr<Layer> layer;
    std::vector<Value> inputs;
  };
  std::vector<Step> steps_;  // step i produces value i + 1
  std::vector<int> last_use_;  // per value: the last step that reads it
};

}  // namespace mc::runtime

#endif  // MC_RUNTIME_GRAPH_H_
