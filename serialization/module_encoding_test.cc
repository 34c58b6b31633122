#include "serialization/module_encoding.h"

#include <gtest/gtest.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>

#include <vector>

#include "serialization/tensor_codec.h"

namespace mc::serialization {
namespace {

torch::nn::Sequential SmallModule() {
  return torch::nn::Sequential(torch::nn::Linear(3, 2), torch::nn::BatchNorm1d(2));
}

std::vector<std::string> Names(const CompressedModel& model) {
  std::vector<std::string> names;
  for (const CompressedTensor& tensor : model.tensors()) names.push_back(tensor.name());
  return names;
}

// Tests that parameters come in module order, the encoded one as given and the others as
// float32 values, then the buffers with the integer step counter as int64.
TEST(ModuleEncodingTest, ParametersInOrderThenBuffers) {
  torch::nn::Sequential module = SmallModule();
  CompressedTensor codebook;
  codebook.set_name("0.weight");
  codebook.mutable_codebook()->set_block_size(3);
  CompressedModel model;
  AppendModuleTensors(*module, {{"0.weight", codebook}}, model);

  EXPECT_EQ(Names(model), (std::vector<std::string>{"0.weight", "0.bias", "1.weight", "1.bias",
                                                    "1.running_mean", "1.running_var",
                                                    "1.num_batches_tracked"}));
  EXPECT_EQ(model.tensors(0).SerializeAsString(), codebook.SerializeAsString());
  EXPECT_EQ(model.tensors(1).passthrough().dtype(), FLOAT32);
  EXPECT_EQ(model.tensors(6).passthrough().dtype(), INT64);
  const at::Tensor bias = DecodePassthrough(model.tensors(1)).value();
  EXPECT_TRUE(at::equal(bias, module[0]->named_parameters()["bias"]));
}

// Tests that an encoded tensor for a name the module lacks is refused.
TEST(ModuleEncodingTest, RefusesUnknownName) {
  torch::nn::Sequential module = SmallModule();
  CompressedModel model;
  EXPECT_THROW(AppendModuleTensors(*module, {{"2.weight", CompressedTensor()}}, model), c10::Error);
}

}  // namespace
}  // namespace mc::serialization
