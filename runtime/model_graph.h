// File: model_graph.h
// The runtime Graph of a model with the weights of a model file. The model spells out its
// forward pass (nn_models/forward_graph.h: every model of the zoo does, and so can a user's
// own Classifier made of Conv2d, Linear and BatchNorm layers), its modules give each layer's
// options, and the file gives each weight in its stored encoding, kept as it is
// (runtime/weight_matrix.h). A BatchNorm right after a convolution or linear layer folds into
// that layer's output map, and an activation fuses into the layer producing its input, when
// nothing else reads the value in between.
//
// Example:
//   MC_ASSIGN_OR_RETURN(Graph graph, BuildGraph(*model, stored));  // model: structure only
//   at::Tensor logits = graph.Run(images, Activations::kFloat);
#ifndef MC_RUNTIME_MODEL_GRAPH_H_
#define MC_RUNTIME_MODEL_GRAPH_H_

#include "absl/status/statusor.h"
#include "nn_models/classifier.h"
#include "runtime/graph.h"
#include "serialization/compressed_model.pb.h"

namespace mc::runtime {

/// The Graph of `model`'s forward pass with `stored`'s tensors (named as the model's
/// parameters and buffers; the model's own values are not read).
/// \error kInvalidArgument naming the tensor when one is missing or its shape does not fit the
///   layer, kUnimplemented naming the layer for a module or option the runtime does not run
///   (e.g. asymmetric strides), kDataLoss naming the tensor when its encoding is corrupt.
absl::StatusOr<Graph> BuildGraph(const nn_models::Classifier& model,
                                 const serialization::CompressedModel& stored);

}  // namespace mc::runtime

#endif  // MC_RUNTIME_MODEL_GRAPH_H_
