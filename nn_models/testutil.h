// File: testutil.h
// Helpers for tests of models built on the zoo: run models on a small random batch, and
// compare two modules' full state (parameters and buffers).
//
// Example:
//   EXPECT_EQ(LogitsShape(*model, {2, 1, 28, 28}), (std::vector<int64_t>{2, 10}));
//   EXPECT_TRUE(HaveSameState(*model, *Clone(*model)));
#ifndef MC_NN_MODELS_TESTUTIL_H_
#define MC_NN_MODELS_TESTUTIL_H_

#include <gtest/gtest.h>

#include <cstdint>
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

}  // namespace mc::nn_models

#endif  // MC_NN_MODELS_TESTUTIL_H_
