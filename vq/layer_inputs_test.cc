#include "vq/layer_inputs.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/rnn.h>
#include <torch/utils.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/status_matchers.h"
#include "nn_models/scripted_model.h"

namespace mc::vq {
namespace {

using ::testing::HasSubstr;

// The layer's output at every position, as rows (B * out_h * out_w, out), bias removed.
at::Tensor OutputRows(torch::nn::Conv2d& conv, const at::Tensor& images) {
  const at::Tensor out = conv->forward(images) - conv->bias.view({1, -1, 1, 1});
  return out.permute({0, 2, 3, 1}).reshape({-1, out.size(1)});
}

// True when every row of `sample` is (to rounding) one of the rows of `all`.
bool RowsAreAmong(const at::Tensor& sample, const at::Tensor& all) {
  return (sample.unsqueeze(1) - all.unsqueeze(0)).abs().amax(2).amin(1).max().item<float>() < 1e-5;
}

class LayerInputsTest : public ::testing::Test {
 protected:
  void SetUp() override { at::manual_seed(0); }
  torch::NoGradGuard no_grad_;
};

// Tests that with enough rows every patch comes back in im2col order, so that patches times
// the flattened weight are the convolution's outputs (stride, padding and dilation).
TEST_F(LayerInputsTest, ConvolutionPatchesReproduceOutputs) {
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(3, 5, 3).stride(2).padding(2).dilation(2));
  const at::Tensor images = at::randn({2, 3, 9, 9});
  MC_ASSERT_OK_AND_ASSIGN(const at::Tensor rows,
                          SampleLayerInputs(conv->weight, [&] { conv->forward(images); }, 1000, 1));
  const at::Tensor expected = OutputRows(conv, images);
  ASSERT_EQ(rows.sizes(), (std::vector<int64_t>{expected.size(0), 27}));
  EXPECT_TRUE(at::allclose(rows.matmul(conv->weight.view({5, -1}).t()), expected, 1e-5, 1e-5));
}

// Tests that a draw takes max_rows distinct positions, each a real patch, and depends on the
// seed only.
TEST_F(LayerInputsTest, SampledPatchesAreDistinctRealPatches) {
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(4, 6, 3).padding(1));
  const at::Tensor images = at::randn({3, 4, 8, 8});
  const auto sample = [&](uint64_t seed) {
    return *SampleLayerInputs(conv->weight, [&] { conv->forward(images); }, 50, seed);
  };
  const at::Tensor rows = sample(7);
  ASSERT_EQ(rows.sizes(), (std::vector<int64_t>{50, 36}));
  const at::Tensor outputs = rows.matmul(conv->weight.view({6, -1}).t());
  EXPECT_TRUE(RowsAreAmong(outputs, OutputRows(conv, images)));
  EXPECT_EQ(std::get<0>(at::unique_dim(rows, 0)).size(0), 50);
  EXPECT_TRUE(sample(7).equal(rows));
  EXPECT_FALSE(sample(8).equal(rows));
}

// Tests that a grouped convolution gives one row per group and patch.
TEST_F(LayerInputsTest, GroupedConvolutionStacksGroups) {
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(4, 6, 3).padding(1).groups(2));
  const at::Tensor images = at::randn({1, 4, 5, 5});
  MC_ASSERT_OK_AND_ASSIGN(const at::Tensor rows,
                          SampleLayerInputs(conv->weight, [&] { conv->forward(images); }, 100, 1));
  ASSERT_EQ(rows.sizes(), (std::vector<int64_t>{50, 18}));
  // Group 0's output channels (0..2) from the even rows, group 1's (3..5) from the odd rows.
  const at::Tensor w = conv->weight.view({2, 3, 18});
  const at::Tensor group0 = rows.slice(0, 0, 50, 2).matmul(w[0].t());
  const at::Tensor group1 = rows.slice(0, 1, 50, 2).matmul(w[1].t());
  const at::Tensor expected = OutputRows(conv, images);
  EXPECT_TRUE(at::allclose(at::cat({group0, group1}, 1), expected, 1e-5, 1e-5));
}

// Tests that a linear layer's input rows come back as they are, and subsampled past max_rows.
TEST_F(LayerInputsTest, LinearInputs) {
  torch::nn::Linear first(6, 8), second(8, 3);
  const at::Tensor x = at::randn({10, 6});
  const auto run = [&] { second->forward(first->forward(x).relu()); };
  MC_ASSERT_OK_AND_ASSIGN(const at::Tensor all, SampleLayerInputs(second->weight, run, 100, 1));
  EXPECT_TRUE(all.equal(first->forward(x).relu()));
  MC_ASSERT_OK_AND_ASSIGN(const at::Tensor some, SampleLayerInputs(second->weight, run, 4, 1));
  ASSERT_EQ(some.sizes(), (std::vector<int64_t>{4, 8}));
  EXPECT_TRUE(RowsAreAmong(some, all));
}

// Tests that a linear layer without bias on a 3-D input (LibTorch's matmul path) gives the
// input's rows.
TEST_F(LayerInputsTest, LinearWithoutBiasOnSequences) {
  torch::nn::Linear layer(torch::nn::LinearOptions(8, 3).bias(false));
  const at::Tensor x = at::randn({2, 5, 8});
  MC_ASSERT_OK_AND_ASSIGN(const at::Tensor rows,
                          SampleLayerInputs(layer->weight, [&] { layer->forward(x); }, 100, 1));
  EXPECT_TRUE(rows.equal(x.reshape({10, 8})));
}

// Tests the rows of a two-layer LSTM's weights: weight_ih_l0 sees the input sequence,
// weight_ih_l1 the first layer's outputs, weight_hh_l1 the second layer's outputs one step
// behind, starting from the given h0.
TEST_F(LayerInputsTest, LstmWeightsSeeTheirLayersInputs) {
  torch::nn::LSTM lstm(torch::nn::LSTMOptions(3, 5).num_layers(2));
  lstm->eval();
  const at::Tensor x = at::randn({4, 2, 3});  // (T, B, in)
  const at::Tensor h0 = at::randn({2, 2, 5}), c0 = at::randn({2, 2, 5});
  const auto run = [&] { lstm->forward(x, std::make_tuple(h0, c0)); };
  torch::nn::LSTM lower(torch::nn::LSTMOptions(3, 5));
  torch::nn::LSTM upper(torch::nn::LSTMOptions(5, 5));
  {
    torch::NoGradGuard no_grad;
    for (const char* name : {"weight_ih", "weight_hh", "bias_ih", "bias_hh"}) {
      lower->named_parameters()[std::string(name) + "_l0"].copy_(
          lstm->named_parameters()[std::string(name) + "_l0"]);
      upper->named_parameters()[std::string(name) + "_l0"].copy_(
          lstm->named_parameters()[std::string(name) + "_l1"]);
    }
  }
  const at::Tensor first = std::get<0>(lower->forward(
      x, std::make_tuple(h0.slice(0, 0, 1), c0.slice(0, 0, 1))));
  const at::Tensor second = std::get<0>(upper->forward(
      first, std::make_tuple(h0.slice(0, 1, 2), c0.slice(0, 1, 2))));
  const auto rows = [&](const char* name) {
    absl::StatusOr<at::Tensor> sampled =
        SampleLayerInputs(lstm->named_parameters()[name], run, 100, 1);
    EXPECT_THAT(sampled, IsOk());
    return sampled.ok() ? *sampled : at::Tensor();
  };
  EXPECT_TRUE(rows("weight_ih_l0").equal(x.reshape({8, 3})));
  EXPECT_TRUE(rows("weight_ih_l1").allclose(first.reshape({8, 5}), 1e-5, 1e-6));
  const at::Tensor behind = at::cat({h0.slice(0, 1, 2), second.slice(0, 0, 3)});
  EXPECT_TRUE(rows("weight_hh_l1").allclose(behind.reshape({8, 5}), 1e-5, 1e-6));
}

// Tests that an embedding only looked up gets identity rows (unweighted k-means), and a tied
// one, also multiplied as the output layer, the output layer's inputs.
TEST_F(LayerInputsTest, EmbeddingLookupAndTiedDecoder) {
  torch::nn::Embedding embedding(10, 4);
  const at::Tensor tokens = at::randint(10, {6}, at::kLong);
  MC_ASSERT_OK_AND_ASSIGN(
      const at::Tensor lookup,
      SampleLayerInputs(embedding->weight, [&] { embedding->forward(tokens); }, 100, 1));
  EXPECT_TRUE(lookup.equal(at::eye(4)));
  const at::Tensor hidden = at::randn({6, 4});
  MC_ASSERT_OK_AND_ASSIGN(const at::Tensor tied,
                          SampleLayerInputs(
                              embedding->weight,
                              [&] {
                                embedding->forward(tokens);
                                at::linear(hidden, embedding->weight, at::zeros({10}));
                              },
                              100, 1));
  EXPECT_TRUE(tied.equal(hidden));
}

// Tests that a layer the forward never calls, and a bad row count, are errors.
// Tests that the layers of a model written in Python (TorchScript: a convolution, a
// depthwise convolution, a 1x1 convolution and a linear layer) are found among the calls its
// script makes, scripted (aten::conv2d) or traced (aten::_convolution).
class ScriptedLayerInputsTest : public LayerInputsTest,
                                public ::testing::WithParamInterface<std::string> {};

TEST_P(ScriptedLayerInputsTest, EveryLayerIsFound) {
  MC_ASSERT_OK_AND_ASSIGN(std::shared_ptr<nn_models::ScriptedModelImpl> model,
                          nn_models::ScriptedModelImpl::Load("nn_models/testdata/" + GetParam()));
  model->eval();
  const at::Tensor images = at::randn({2, 3, 32, 32});
  auto parameters = model->named_parameters();
  const std::vector<std::pair<std::string, std::vector<int64_t>>> expected = {
      {"stem.weight", {512, 27}},
      {"depthwise.weight", {512 * 8, 9}},
      {"pointwise.weight", {512, 8}},
      {"fc.weight", {2, 16}}};
  for (const auto& [name, sizes] : expected) {
    SCOPED_TRACE(name);
    MC_ASSERT_OK_AND_ASSIGN(
        const at::Tensor rows,
        SampleLayerInputs(parameters[name], [&] { model->forward(images); }, 100000, 1));
    EXPECT_EQ(rows.sizes(), at::IntArrayRef(sizes));
  }
}

INSTANTIATE_TEST_SUITE_P(ScriptedAndTraced, ScriptedLayerInputsTest,
                         ::testing::Values("scripted_residual_gelu.pt",
                                           "traced_residual_gelu.pt"));

TEST_F(LayerInputsTest, Errors) {
  torch::nn::Linear used(4, 2), unused(4, 2);
  const auto run = [&] { used->forward(at::randn({3, 4})); };
  EXPECT_THAT(SampleLayerInputs(unused->weight, run, 10, 1).status(),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("(2, 4)")));
  EXPECT_THAT(SampleLayerInputs(used->weight, run, 0, 1).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_rows")));
}

}  // namespace
}  // namespace mc::vq
