// Tests of ScriptedModelImpl. testdata/ comes from tools/make_scripted_testdata.py (Debian's
// torch 1.13): a scripted and a traced ResidualGeluNet, its eval-mode logits on a fixed batch,
// and files that are not a classifier's TorchScript.
#include "nn_models/scripted_model.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "common/status_matchers.h"
#include "serialization/atomic_file.h"
#include "serialization/pytorch_state_dict.h"

namespace mc::nn_models {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::string kTestdata = "nn_models/testdata/";

std::shared_ptr<ScriptedModelImpl> LoadTestModel(const std::string& name) {
  absl::StatusOr<std::shared_ptr<ScriptedModelImpl>> model =
      ScriptedModelImpl::Load(kTestdata + name);
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? *model : nullptr;
}

// {"input": (2, 3, 32, 32), "output": (2, 10)}: Python's eval-mode logits.
std::pair<at::Tensor, at::Tensor> PythonForward() {
  absl::StatusOr<serialization::StateDict> saved =
      serialization::ReadPyTorchStateDict(kTestdata + "residual_gelu_forward.pt");
  EXPECT_TRUE(saved.ok()) << saved.status();
  at::Tensor input, output;
  for (const auto& [name, tensor] : *saved) (name == "input" ? input : output) = tensor;
  return {input, output};
}

std::vector<std::string> Names(const torch::OrderedDict<std::string, at::Tensor>& tensors) {
  return tensors.keys();
}

TEST(ScriptedModelTest, ScriptedAndTracedForwardsGivePythonsLogits) {
  const auto [input, expected] = PythonForward();
  for (const std::string name : {"scripted_residual_gelu.pt", "traced_residual_gelu.pt"}) {
    SCOPED_TRACE(name);
    std::shared_ptr<ScriptedModelImpl> model = LoadTestModel(name);
    ASSERT_NE(model, nullptr);
    model->eval();
    c10::NoGradGuard no_grad;
    EXPECT_TRUE(at::allclose(model->forward(input), expected, 1e-5, 1e-5));
  }
}

TEST(ScriptedModelTest, ParametersAndBuffersHaveTheirPythonNames) {
  std::shared_ptr<ScriptedModelImpl> model = LoadTestModel("scripted_residual_gelu.pt");
  ASSERT_NE(model, nullptr);
  EXPECT_THAT(Names(model->named_parameters()),
              ElementsAre("stem.weight", "stem.bias", "bn.weight", "bn.bias", "depthwise.weight",
                          "depthwise.bias", "pointwise.weight", "pointwise.bias", "norm.weight",
                          "norm.bias", "fc.weight", "fc.bias"));
  EXPECT_THAT(Names(model->named_buffers()),
              ElementsAre("bn.running_mean", "bn.running_var", "bn.num_batches_tracked"));
  EXPECT_EQ(model->named_parameters()["stem.weight"].sizes(), at::IntArrayRef({8, 3, 3, 3}));
  EXPECT_EQ(model->ScriptClassName(), "__torch__.ResidualGeluNet");
}

TEST(ScriptedModelTest, InPlaceWritesToParametersReachTheScript) {
  const auto [input, expected] = PythonForward();
  std::shared_ptr<ScriptedModelImpl> model = LoadTestModel("scripted_residual_gelu.pt");
  ASSERT_NE(model, nullptr);
  model->eval();
  c10::NoGradGuard no_grad;
  model->named_parameters()["fc.weight"].zero_();
  model->named_parameters()["fc.bias"].fill_(0.5);
  EXPECT_TRUE(at::equal(model->forward(input), at::full({2, 10}, 0.5)));
}

TEST(ScriptedModelTest, TrainingModeReachesTheScriptsBatchNorm) {
  const auto [input, expected] = PythonForward();
  std::shared_ptr<ScriptedModelImpl> model = LoadTestModel("scripted_residual_gelu.pt");
  ASSERT_NE(model, nullptr);
  const at::Tensor running_mean = model->named_buffers()["bn.running_mean"].clone();

  model->eval();
  EXPECT_FALSE(model->is_training());
  model->forward(input);
  EXPECT_TRUE(at::equal(model->named_buffers()["bn.running_mean"], running_mean));

  model->train();
  EXPECT_TRUE(model->is_training());
  const at::Tensor logits = model->forward(input);
  EXPECT_FALSE(at::equal(model->named_buffers()["bn.running_mean"], running_mean));
  EXPECT_FALSE(at::allclose(logits, expected, 1e-3, 1e-3));  // batch statistics
}

TEST(ScriptedModelTest, GradientsReachEveryParameter) {
  const auto [input, expected] = PythonForward();
  std::shared_ptr<ScriptedModelImpl> model = LoadTestModel("scripted_residual_gelu.pt");
  ASSERT_NE(model, nullptr);
  model->train();
  model->forward(input).pow(2).sum().backward();
  for (const auto& parameter : model->named_parameters()) {
    SCOPED_TRACE(parameter.key());
    ASSERT_TRUE(parameter.value().grad().defined());
    EXPECT_GT(parameter.value().grad().abs().sum().item<double>(), 0.0);
  }
}

TEST(ScriptedModelTest, CloneSharesNoTensorWithTheOriginal) {
  const auto [input, expected] = PythonForward();
  std::shared_ptr<ScriptedModelImpl> model = LoadTestModel("scripted_residual_gelu.pt");
  ASSERT_NE(model, nullptr);
  model->eval();
  std::shared_ptr<Classifier> copy = Clone(*model);
  EXPECT_FALSE(copy->is_training());
  c10::NoGradGuard no_grad;
  for (const at::Tensor& parameter : model->parameters()) parameter.zero_();
  EXPECT_TRUE(at::allclose(copy->forward(input), expected, 1e-5, 1e-5));
  EXPECT_EQ(copy->named_parameters().size(), model->named_parameters().size());
}

// Tests that a copy's parameters are leaves of their own: a backward pass through the copy
// gives each of them a gradient.
TEST(ScriptedModelTest, CloneParametersGetGradients) {
  const auto [input, expected] = PythonForward();
  std::shared_ptr<ScriptedModelImpl> model = LoadTestModel("scripted_residual_gelu.pt");
  ASSERT_NE(model, nullptr);
  std::shared_ptr<Classifier> copy = Clone(*model);
  copy->forward(input).sum().backward();
  for (const auto& parameter : copy->named_parameters()) {
    SCOPED_TRACE(parameter.key());
    EXPECT_TRUE(parameter.value().is_leaf());
    ASSERT_TRUE(parameter.value().grad().defined());
    EXPECT_GT(parameter.value().grad().abs().sum().item<double>(), 0.0);
  }
}

TEST(ScriptedModelTest, SavedArchiveKeepsTheCurrentWeights) {
  const auto [input, expected] = PythonForward();
  std::shared_ptr<ScriptedModelImpl> model = LoadTestModel("scripted_residual_gelu.pt");
  ASSERT_NE(model, nullptr);
  model->eval();
  c10::NoGradGuard no_grad;
  model->named_parameters()["stem.weight"].mul_(0.5);
  const at::Tensor changed = model->forward(input);
  ASSERT_FALSE(at::allclose(changed, expected, 1e-3, 1e-3));

  MC_ASSERT_OK_AND_ASSIGN(std::shared_ptr<ScriptedModelImpl> reloaded,
                       ScriptedModelImpl::FromArchive(model->SaveArchive(), "saved"));
  reloaded->eval();
  EXPECT_TRUE(at::allclose(reloaded->forward(input), changed, 1e-6, 1e-6));
}

TEST(ScriptedModelTest, CodeArchiveRebuildsTheModelWithZeroTensorsToFill) {
  const auto [input, expected] = PythonForward();
  std::shared_ptr<ScriptedModelImpl> model = LoadTestModel("scripted_residual_gelu.pt");
  ASSERT_NE(model, nullptr);
  const std::string code = model->SaveCodeArchive();
  EXPECT_LT(code.size(), model->SaveArchive().size());

  MC_ASSERT_OK_AND_ASSIGN(std::shared_ptr<ScriptedModelImpl> rebuilt,
                          ScriptedModelImpl::FromArchive(code, "code"));
  c10::NoGradGuard no_grad;
  auto originals = model->named_parameters();
  for (const auto& parameter : rebuilt->named_parameters()) {
    SCOPED_TRACE(parameter.key());
    EXPECT_TRUE(parameter.value().requires_grad());
    EXPECT_TRUE(at::equal(parameter.value(), at::zeros_like(originals[parameter.key()])));
    parameter.value().copy_(originals[parameter.key()]);
  }
  auto buffers = model->named_buffers();
  for (const auto& buffer : rebuilt->named_buffers()) buffer.value().copy_(buffers[buffer.key()]);
  rebuilt->eval();
  EXPECT_TRUE(at::allclose(rebuilt->forward(input), expected, 1e-5, 1e-5));
}

TEST(ScriptedModelTest, FilesWrittenByTorchSaveAreRefusedNamingTorchJitSave) {
  for (const std::string name : {"pickled_module.pt", "state_dict.pt"}) {
    SCOPED_TRACE(name);
    EXPECT_THAT(ScriptedModelImpl::Load(kTestdata + name),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         AllOf(HasSubstr(name), HasSubstr("torch.save"),
                               HasSubstr("torch.jit.save"))));
  }
}

TEST(ScriptedModelTest, TruncatedArchiveIsRefused) {
  MC_ASSERT_OK_AND_ASSIGN(const std::string archive,
                       serialization::ReadFileToString(kTestdata + "scripted_residual_gelu.pt"));
  for (const size_t length : {size_t{0}, size_t{100}, archive.size() / 2, archive.size() - 1}) {
    SCOPED_TRACE(length);
    EXPECT_THAT(ScriptedModelImpl::FromArchive(archive.substr(0, length), "cut.pt"),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         AllOf(HasSubstr("cut.pt"), HasSubstr("not a TorchScript archive"))));
  }
}

TEST(ScriptedModelTest, ForwardReturningATupleIsRefusedWithItsSignature) {
  EXPECT_THAT(ScriptedModelImpl::Load(kTestdata + "tuple_forward.pt"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("tuple_forward.pt"),
                             HasSubstr("take one tensor and return one tensor"),
                             HasSubstr("(Tensor, Tensor)"))));
}

TEST(ScriptedModelTest, MissingFileIsNotFound) {
  EXPECT_THAT(ScriptedModelImpl::Load(kTestdata + "no_such_model.pt"),
              StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace mc::nn_models
