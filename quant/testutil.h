// File: testutil.h
// Fixtures and contract checks every weight quantizer's tests share: the small, big and
// mixed models, a seeded test fixture, and the save/restore, size and exclusion checks, run
// against any quantizer through a factory.
#ifndef MC_QUANT_TESTUTIL_H_
#define MC_QUANT_TESTUTIL_H_

#include <gtest/gtest.h>
#include <torch/nn/module.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "quant/base_quantizer.h"

namespace mc::quant::testing {

using QuantizerFactory = std::function<std::unique_ptr<BaseQuantizer>(
    std::shared_ptr<torch::nn::Module> model, double min_size, bool float16)>;

/// A QuantizerFactory that also takes the bits per weight of a fixed-width quantizer.
using FixedWidthQuantizerFactory = std::function<std::unique_ptr<BaseQuantizer>(
    std::shared_ptr<torch::nn::Module> model, double bits, double min_size, bool float16)>;

/// A fixture that seeds LibTorch's generator with 1234 before each test, as the reference's
/// tests do: `using MyQuantizerTest = testing::SeededQuantizerTest;`.
class SeededQuantizerTest : public ::testing::Test {
 protected:
  void SetUp() override;
};

/// Sequential(Conv1d(4, 4, 8, bias=false), ReLU, Conv1d(4, 4, 1, bias=false)).
std::shared_ptr<torch::nn::Module> SmallModel();
/// LSTM(256, 256, num_layers=2).
std::shared_ptr<torch::nn::Module> BigModel();
/// ModuleList(SmallModel, BigModel).
std::shared_ptr<torch::nn::Module> SmallBigModel();

/// Linear(16, 16) as "first", and the same weight and bias tensors registered again in
/// "second": two tied parameters.
std::shared_ptr<torch::nn::Module> TiedLinears();
/// Parameters with the shapes of the CIFAR ResNet-20 the reference's tables use (3x3 convs
/// 16-32-64, BatchNorm weight and bias, Linear(64, classes); 269,722 parameters for 10
/// classes), in a flat module without a forward: for size regression tests.
std::shared_ptr<torch::nn::Module> ResNet20Shapes(int64_t classes);

/// Forward of SmallModel() (or any Sequential) on x: (N, 4, L) float32.
at::Tensor SmallModelForward(const std::shared_ptr<torch::nn::Module>& model, const at::Tensor& x);

/// A deep copy of `model` with every parameter set to zero.
std::shared_ptr<torch::nn::Module> ZeroedCopy(const std::shared_ptr<torch::nn::Module>& model);
/// Detached copies of the parameters of `model`, in order.
std::vector<at::Tensor> ParameterCopies(const std::shared_ptr<torch::nn::Module>& model);
/// Whether the parameters of `model` equal `values` exactly.
bool ParametersEqual(const std::shared_ptr<torch::nn::Module>& model,
                     const std::vector<at::Tensor>& values);

/// Quantizes each fixture model, saves the state, restores it into a zeroed copy through
/// a new quantizer, and expects the copy to hold exactly the quantized weights.
void ExpectSaveRestore(const QuantizerFactory& factory, double min_size, bool float16);

/// ExpectSaveRestore in the reference's cases: min_size 0 and 0.1, and 0.1 with float16.
void ExpectSaveRestoreReferenceCases(const QuantizerFactory& factory);

/// Expects estimate, true, packed and zlib-compressed sizes to agree as in the reference:
/// compressed <= 1.5 true and <= 1.5 estimate; estimate and true within 1.5x of each other;
/// true and the serialized state within 10%.
void ExpectConsistentSizes(const QuantizerFactory& factory, double min_size, bool float16);

/// ExpectConsistentSizes at the reference's widths (15, 8 and 5 bits), each with min_size 0
/// and 0.5, with and without float16.
void ExpectConsistentSizesAtReferenceWidths(const FixedWidthQuantizerFactory& factory);

/// With min_size 100000 (nothing quantized) and float16, expects quantize() to round every
/// parameter of SmallBigModel to float16.
void ExpectFloat16Rounding(const QuantizerFactory& factory);

/// Expects TiedLinears to be counted (sizes) and quantized once with detect_bound, twice
/// without. `factory` builds a quantizer with min_size 0 and the given detect_bound.
void ExpectTiedCountedOnce(const std::function<std::unique_ptr<BaseQuantizer>(
                               std::shared_ptr<torch::nn::Module>, bool detect_bound)>& factory);

/// Conv1d(3, 64, 4): excluding "bias" leaves 1 quantized tensor, "bias" and "weight" none;
/// six Conv1d(32, 32, 4) in a Sequential with "[024].*" excluded leave 6.
void ExpectExclusion(const std::function<std::unique_ptr<BaseQuantizer>(
                         std::shared_ptr<torch::nn::Module>, std::vector<std::string>)>& factory);

}  // namespace mc::quant::testing

#endif  // MC_QUANT_TESTUTIL_H_
