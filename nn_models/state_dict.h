// File: state_dict.h
// Loads a state dict (tensors by dotted name) into a torch::nn::Module, the C++ counterpart of
// Python's strict `module.load_state_dict(state_dict)`. Together with
// serialization/pytorch_state_dict.h it brings weights trained in Python into our models.
//
// Example:
//   MC_ASSIGN_OR_RETURN(mc::serialization::StateDict weights,
//                       mc::serialization::ReadPyTorchStateDict("resnet18.pth"));
//   MC_RETURN_IF_ERROR(mc::nn_models::LoadStateDict(*model, weights));
#ifndef MC_NN_MODELS_STATE_DICT_H_
#define MC_NN_MODELS_STATE_DICT_H_

#include "absl/status/status.h"
#include "serialization/pytorch_state_dict.h"

namespace torch::nn {
class Module;
}  // namespace torch::nn

namespace mc::nn_models {

/// Copies tensors into module's parameters and buffers by dotted name, as
/// `module.named_parameters()` and `module.named_buffers()` list them ("bn.running_mean").
///
/// Every parameter and buffer must have exactly one entry of the same shape, and every entry a
/// parameter or buffer. Values are converted to the dtype and device of the module's tensor
/// (a float16 state dict loads into a float32 model). The copy does not record autograd
/// history; parameters keep their requires_grad.
///
/// \error kInvalidArgument, listing all of them in one message, if names are missing (in the
///   module, not in the state dict), unexpected (in the state dict, not in the module),
///   duplicated, or if shapes differ. On any error the module is left unchanged.
absl::Status LoadStateDict(torch::nn::Module& module, const serialization::StateDict& state_dict);

}  // namespace mc::nn_models

#endif  // MC_NN_MODELS_STATE_DICT_H_
