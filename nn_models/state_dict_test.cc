// Tests of LoadStateDict. testdata/ comes from tools/make_pytorch_testdata.py (Debian's torch
// 1.13): the state dict of a Python TinyNet with random weights and batch-norm statistics, and
// that network's eval-mode output for a random input.
#include "nn_models/state_dict.h"

#include <ATen/core/Tensor.h>
#include <ATen/ops/allclose.h>
#include <ATen/ops/equal.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include <map>
#include <memory>
#include <string>

#include "common/status_matchers.h"
#include "serialization/pytorch_state_dict.h"

namespace mc::nn_models {
namespace {

// The C++ twin of the Python TinyNet: conv -> batch norm -> relu -> flatten -> linear.
struct TinyNet : torch::nn::Module {
  TinyNet()
      : conv(register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 2, 3)))),
        bn(register_module("bn", torch::nn::BatchNorm2d(2))),
        fc(register_module("fc", torch::nn::Linear(8, 3))) {}

  at::Tensor forward(const at::Tensor& x) { return fc(bn(conv(x)).relu().flatten(1)); }

  torch::nn::Conv2d conv;
  torch::nn::BatchNorm2d bn;
  torch::nn::Linear fc;
};

// TinyNet's names with a wrong fc shape, an extra `head` layer and no `bn`.
struct MismatchedNet : torch::nn::Module {
  MismatchedNet()
      : conv(register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 2, 3)))),
        fc(register_module("fc", torch::nn::Linear(4, 3))),
        head(register_module("head", torch::nn::Linear(3, 2))) {}

  torch::nn::Conv2d conv;
  torch::nn::Linear fc;
  torch::nn::Linear head;
};

serialization::StateDict ReadTestData(const std::string& name) {
  absl::StatusOr<serialization::StateDict> state_dict =
      serialization::ReadPyTorchStateDict("nn_models/testdata/" + name);
  EXPECT_THAT(state_dict, IsOk());
  return state_dict.ok() ? *state_dict : serialization::StateDict();
}

// Every parameter and buffer of `module`, cloned, by name.
std::map<std::string, at::Tensor> Snapshot(const torch::nn::Module& module) {
  std::map<std::string, at::Tensor> tensors;
  for (const auto& item : module.named_parameters()) tensors[item.key()] = item.value().clone();
  for (const auto& item : module.named_buffers()) tensors[item.key()] = item.value().clone();
  return tensors;
}

// Tests that weights saved by Python load by name and reproduce Python's output.
TEST(LoadStateDictTest, ReproducesPythonOutput) {
  const serialization::StateDict state_dict = ReadTestData("tiny_net_state_dict.pt");
  const serialization::StateDict forward = ReadTestData("tiny_net_forward.pt");
  ASSERT_EQ(state_dict.size(), 9u);
  ASSERT_EQ(forward.size(), 2u);
  TinyNet net;
  ASSERT_THAT(LoadStateDict(net, state_dict), IsOk());

  std::map<std::string, at::Tensor> loaded = Snapshot(net);
  for (const auto& [name, tensor] : state_dict) {
    EXPECT_TRUE(at::equal(loaded.at(name), tensor)) << name;
  }
  EXPECT_EQ(loaded.at("bn.num_batches_tracked").item<int64_t>(), 10);

  net.eval();
  const at::Tensor output = net.forward(forward[0].second);
  EXPECT_TRUE(at::allclose(output, forward[1].second, /*rtol=*/1e-5, /*atol=*/1e-6))
      << output << "\n"
      << forward[1].second;
}

// Tests that entries are converted to the dtype of the module's tensors.
TEST(LoadStateDictTest, ConvertsDtype) {
  serialization::StateDict state_dict = ReadTestData("tiny_net_state_dict.pt");
  serialization::StateDict as_double;
  for (const auto& [name, tensor] : state_dict)
    as_double.emplace_back(name, tensor.to(at::kDouble));
  TinyNet net;
  ASSERT_THAT(LoadStateDict(net, as_double), IsOk());
  std::map<std::string, at::Tensor> loaded = Snapshot(net);
  for (const auto& [name, tensor] : state_dict) {
    EXPECT_EQ(loaded.at(name).scalar_type(), tensor.scalar_type()) << name;
    EXPECT_TRUE(at::equal(loaded.at(name), tensor)) << name;
  }
}

// Tests that missing, unexpected, duplicated and mis-shaped names are all reported in one
// error, and that the module is left unchanged, even the entries that matched.
TEST(LoadStateDictTest, ReportsAllMismatchesAndLeavesModuleUnchanged) {
  serialization::StateDict state_dict = ReadTestData("tiny_net_state_dict.pt");
  state_dict.push_back(state_dict[1]);  // conv.bias again
  MismatchedNet net;
  const std::map<std::string, at::Tensor> before = Snapshot(net);

  EXPECT_THAT(LoadStateDict(net, state_dict),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "state dict does not match the module: "
                       "missing: head.weight, head.bias; "
                       "unexpected: bn.weight, bn.bias, bn.running_mean, bn.running_var, "
                       "bn.num_batches_tracked; "
                       "duplicated: conv.bias; "
                       "wrong shape: fc.weight (module [3, 4], state dict [3, 8])"));

  const std::map<std::string, at::Tensor> after = Snapshot(net);
  ASSERT_EQ(after.size(), before.size());
  for (const auto& [name, tensor] : before) {
    EXPECT_TRUE(at::equal(after.at(name), tensor)) << name;
  }
}

}  // namespace
}  // namespace mc::nn_models
