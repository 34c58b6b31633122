// File: testutil.h
// Helpers for tests of models built on the zoo: run models on a small random batch, compare
// two modules' full state (parameters and buffers), and check that a model builds
// deterministically and clones.
//
// Example:
//   EXPECT_EQ(LogitsShape(*model, {2, 1, 28, 28}), (std::vector<int64_t>{2, 10}));
//   EXPECT_TRUE(HaveSameState(*model, *Clone(*model)));
//   EXPECT_TRUE(BuildsDeterministicallyAndClones([] { return LeNet(ModelOptions()).ptr(); },
//                                                {2, 3, 32, 32}));
#ifndef MC_NN_MODELS_TESTUTIL_H_
#define MC_NN_MODELS_TESTUTIL_H_

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "nn_models/classifier.h"

namespace mc::nn_models {

/// Runs `model` in eval mode, without gradients, on standard-normal float32 images of shape
/// `image_batch_shape` (B, C, H, W) and returns the shape of the logits. Leaves the model in
/// eval mode.
std::vector<int64_t> LogitsShape(Classifier& model, const std::vector<int64_t>& image_batch_shape);

/// Succeeds if `a` and `b`, in eval mode and without gradients, compute equal logits for the
/// same standard-normal images of shape `image_batch_shape`. Leaves both in eval mode.
::testing::AssertionResult ComputeSameLogits(Classifier& a, Classifier& b,
                                             const std::vector<int64_t>& image_batch_shape);

/// Succeeds if `a` and `b` have the same parameter and buffer names, in the same order, with
/// equal shapes, dtypes and values; otherwise the failure names the first difference.
::testing::AssertionResult HaveSameState(const torch::nn::Module& a, const torch::nn::Module& b);

/// Succeeds if two models built by `make_model` after torch::manual_seed(0) have the same
/// state, and if a Clone() of the first has its state and computes its logits for images of
/// shape `image_batch_shape`. Leaves the global seed as the builds left it.
::testing::AssertionResult BuildsDeterministicallyAndClones(
    const std::function<std::shared_ptr<Classifier>()>& make_model,
    const std::vector<int64_t>& image_batch_shape);

}  // namespace mc::nn_models

#endif  // MC_NN_MODELS_TESTUTIL_H_
