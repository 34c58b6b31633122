// File: runtime_model.h
// A model file run with its weights kept in their stored encodings: the architecture the file
// records, built as a runtime Graph (runtime/model_graph.h). Nothing of the model is held as
// float32 beyond one decoded tile per layer at a time.
//
// Example:
//   MC_ASSIGN_OR_RETURN(RuntimeModel model, RuntimeModel::Load("run/model.mcm"));
//   at::Tensor logits = model.Forward(images, Activations::kInt8);  // (B, C, H, W) normalized
#ifndef MC_RUNTIME_RUNTIME_MODEL_H_
#define MC_RUNTIME_RUNTIME_MODEL_H_

#include <ATen/core/Tensor.h>

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "runtime/graph.h"
#include "serialization/compressed_model.pb.h"

namespace mc::runtime {

class RuntimeModel {
 public:
  /// Reads a model file of any method and builds its graph.
  /// \error naming the file: unreadable or corrupt files, an unknown data set or architecture,
  ///   tensors that do not fit the architecture (naming the tensor), layers the runtime does
  ///   not run (naming the layer).
  static absl::StatusOr<RuntimeModel> Load(const std::string& path);

  /// images: (B, C, H, W) float32, normalized as for training. Returns logits (B, classes).
  at::Tensor Forward(const at::Tensor& images, Activations activations) const;

  /// Bytes the weights (and folded BatchNorms and biases) occupy in memory.
  size_t WeightBytes() const { return graph_->WeightBytes(); }

  /// The data set the model was trained on, as the file records it.
  const std::string& dataset() const { return dataset_; }
  /// The file's evaluation results, e.g. "test_accuracy".
  const google::protobuf::Map<std::string, double>& metrics() const { return metrics_; }

 private:
  RuntimeModel(std::unique_ptr<Graph> graph, std::string dataset,
               google::protobuf::Map<std::string, double> metrics);

  std::unique_ptr<Graph> graph_;
  std::string dataset_;
  google::protobuf::Map<std::string, double> metrics_;
};

}  // namespace mc::runtime

#endif  // MC_RUNTIME_RUNTIME_MODEL_H_
