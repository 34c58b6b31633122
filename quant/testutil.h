// File: testutil.h
// Fixtures and contract checks every weight quantizer's tests share: the small, big and
// mixed models, and the save/restore, size and exclusion checks, run against any
// quantizer through a factory.
#ifndef MC_QUANT_TESTUTIL_H_
#define MC_QUANT_TESTUTIL_H_

#include <torch/nn/module.h>

#include <functional>
#include <memory>

#include "quant/base_quantizer.h"

namespace mc::quant::testing {

using QuantizerFactory = std::function<std::unique_ptr<BaseQuantizer>(
    std::shared_ptr<torch::nn::Module> model, double min_size, bool float16)>;

/// Sequential(Conv1d(4, 4, 8, bias=false), ReLU, Conv1d(4, 4, 1, bias=false)).
std::shared_ptr<torch::nn::Module> SmallModel();
/// LSTM(256, 256, num_layers=2).
std::shared_ptr<torch::nn::Module> BigModel();
/// ModuleList(SmallModel, BigModel).
std::shared_ptr<torch::nn::Module> SmallBigModel();

/// A deep copy of `model` with every parameter set to zero.
std::shared_ptr<torch::nn::Module> ZeroedCopy(const std::shared_ptr<torch::nn::Module>& model);

/// Quantizes each fixture model, saves the state, restores it into a zeroed copy through
/// a new quantizer, and expects the copy to hold exactly the quantized weights.
void ExpectSaveRestore(const QuantizerFactory& factory, double min_size, bool float16);

/// Expects estimate, true, packed and zlib-compressed sizes to agree as in the reference:
/// compressed <= 1.5 true and <= 1.5 estimate; estimate and true within 1.5x of each other;
/// true and the serialized state within 10%.
void ExpectConsistentSizes(const QuantizerFactory& factory, double min_size, bool float16);

/// Conv1d(3, 64, 4): excluding "bias" leaves 1 quantized tensor, "bias" and "weight" none;
/// six Conv1d(32, 32, 4) in a Sequential with "[024].*" excluded leave 6.
void ExpectExclusion(const std::function<std::unique_ptr<BaseQuantizer>(
                         std::shared_ptr<torch::nn::Module>, std::vector<std::string>)>& factory);

}  // namespace mc::quant::testing

#endif  // MC_QUANT_TESTUTIL_H_
