// File: module_encoding.h
// The tensors of a whole module in the shared format: every method stores the parameters it
// compresses its own way, and everything else (the other parameters, the buffers) the same
// way, in the module's own order. This is that common part.
//
// Example:
//   std::map<std::string, CompressedTensor> encoded;
//   encoded["conv1.weight"] = EncodeCodebook(...);
//   AppendModuleTensors(model, std::move(encoded), compressed);
#ifndef MC_SERIALIZATION_MODULE_ENCODING_H_
#define MC_SERIALIZATION_MODULE_ENCODING_H_

#include <map>
#include <string>

#include "serialization/compressed_model.pb.h"

namespace torch::nn {
class Module;
}

namespace mc::serialization {

/// Appends to `model` every parameter of `module` in named_parameters() order, taken from
/// `encoded` when it holds the parameter's name and stored as float32 otherwise, then every
/// buffer, as float32 or, for integer buffers, int64.
/// Every name in `encoded` must be a parameter of `module` (checked: a broken contract).
void AppendModuleTensors(const torch::nn::Module& module,
                         std::map<std::string, CompressedTensor> encoded, CompressedModel& model);

}  // namespace mc::serialization

#endif  // MC_SERIALIZATION_MODULE_ENCODING_H_
