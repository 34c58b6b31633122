#include "serialization/module_encoding.h"

#include <ATen/ATen.h>
#include <torch/nn/module.h>

#include <utility>

#include "serialization/tensor_codec.h"

namespace mc::serialization {

void AppendModuleTensors(const torch::nn::Module& module,
                         std::map<std::string, CompressedTensor> encoded, CompressedModel& model) {
  for (const auto& item : module.named_parameters()) {
    const auto found = encoded.find(item.key());
    if (found == encoded.end()) {
      *model.add_tensors() = EncodePassthrough(item.key(), item.value().detach(), FLOAT32);
      continue;
    }
    *model.add_tensors() = std::move(found->second);
    encoded.erase(found);
  }
  TORCH_CHECK(encoded.empty(), "AppendModuleTensors: \"", encoded.begin()->first,
              "\" is not a parameter of the module");
  for (const auto& item : module.named_buffers()) {
    const at::Tensor value = item.value().detach();
    *model.add_tensors() =
        EncodePassthrough(item.key(), value, value.is_floating_point() ? FLOAT32 : INT64);
  }
}

}  // namespace mc::serialization
