#include "runtime/graph.h"

#include <c10/util/Exception.h>

#include <utility>

namespace mc::runtime {

Graph::Value Graph::Append(std::unique_ptr<Layer> layer, std::vector<Value> inputs) {
  const int step = static_cast<int>(steps_.size());
  if (last_use_.empty()) last_use_.push_back(-1);  // the input
  for (const Value input : inputs) {
    TORCH_CHECK(input >= 0 && input <= step, "Graph::Append: value ", input,
                " does not exist yet (", step + 1, " values)");
    last_use_[input] = step;
  }
  steps_.push_back({std::move(layer), std::move(inputs)});
  last_use_.push_back(-1);
  return step + 1;
}

at::Tensor Graph::Run(const at::Tensor& input, Activations activations) const {
  TORCH_CHECK(!steps_.empty(), "Graph::Run: the graph has no layers");
  std::vector<at::Tensor> values(steps_.size() + 1);
  values[kInput] = input;
  std::vector<at::Tensor> inputs;
  for (size_t step = 0; step < steps_.size(); ++step) {
    inputs.clear();
    for (const Value value : steps_[step].inputs) inputs.push_back(values[value]);
    for (const Value value : steps_[step].inputs) {
      if (last_use_[value] == static_cast<int>(step)) values[value] = at::Tensor();
    }
    values[step + 1] = steps_[step].layer->Forward(inputs, activations);
  }
  return values.back();
}

size_t Graph::WeightBytes() const {
  size_t bytes = 0;
  for (const Step& step : steps_) bytes += step.layer->WeightBytes();
  return bytes;
}

}  // namespace mc::runtime
