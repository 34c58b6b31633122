// File: layer_selection.h
// Which parameters belong to a model's first and last layers, the layers that quantized
// distillation can keep in full precision. Decided by the real layers: the first and last
// convolution or linear modules in registration order, which is forward order for every
// model of the zoo. (The reference uses the first and last tensors of parameters(), which in
// its own networks are the classifier's weight and the last BatchNorm's bias.)
//
// Example:
//   std::vector<std::string> keep = FirstAndLastLayerParameters(*model);  // {"conv1.weight", "fc.weight", "fc.bias"}
#ifndef MC_DISTILL_LAYER_SELECTION_H_
#define MC_DISTILL_LAYER_SELECTION_H_

#include <string>
#include <vector>

namespace torch::nn {
class Module;
}

namespace mc::distill {

/// Full names of the parameters (weight and bias) of the first and last Conv1d/2d/3d or
/// Linear modules of `model`; empty if it has none.
std::vector<std::string> FirstAndLastLayerParameters(const torch::nn::Module& model);

/// Full names of the parameters of `model` with fewer than two dimensions: biases and the
/// affine parameters of normalization layers.
std::vector<std::string> VectorParameters(const torch::nn::Module& model);

}  // namespace mc::distill

#endif  // MC_DISTILL_LAYER_SELECTION_H_
