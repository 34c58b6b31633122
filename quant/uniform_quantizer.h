// File: uniform_quantizer.h
// Uniform weight quantization at a fixed width, with optional quantization-aware training
// (QAT): the "QAT" baseline of DiffQ (Défossez et al. 2021). Each quantized tensor gets one
// (min, max) range and `bits` bits per weight, rounded to the nearest level (ties to even).
//
// Training: with qat, each training step runs the model on the quantized weights Q(w) and
// passes the gradient straight through to w (dQ(w)/dw taken as the identity); without qat,
// training is unchanged and only evaluation (quantize()) and the stored state are quantized.
// There are no learnable parameters, so no optimizer setup is needed.
//
// model_size() in MB (2^20 bytes): the unquantized parameters (16 or 32 bits each) plus, for
// each quantized tensor, bits * numel + 64 (two float32 scales), the reference's formula.
// true_model_size() is the same number. The state stores each quantized tensor as a
// UniformEncoding with a single width (quant/uniform_codec.h).
//
// Example:
//   mc::quant::UniformQuantizer quantizer(model, mc::quant::UniformQuantizerOptions()
//                                                    .bits(4).qat(true).exclude({"bias"}));
//   {
//     mc::quant::TrainingStep step = quantizer.training_step();  // weights now Q(w)
//     at::Tensor loss = cross_entropy(model->forward(x), y);
//     loss.backward();
//     step.backward();
//   }
//   optimizer.step();
#ifndef MC_QUANT_UNIFORM_QUANTIZER_H_
#define MC_QUANT_UNIFORM_QUANTIZER_H_

#include <torch/arg.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "quant/base_quantizer.h"

namespace mc::quant {

struct UniformQuantizerOptions {
  /// Bits per weight: an integer in [1, 15]; a fractional width is refused. Default 8
  /// (reference).
  TORCH_ARG(double, bits) = 8;
  /// Train on the quantized weights with a straight-through gradient. Default false
  /// (reference).
  TORCH_ARG(bool, qat) = false;
  /// Parameters with at most min_size MB of float32 stay unquantized. Default 0.01.
  TORCH_ARG(double, min_size) = 0.01;
  /// Store unquantized parameters as float16. Default false.
  TORCH_ARG(bool, float16) = false;
  /// fnmatch globs of parameters to leave unquantized, on full and local names.
  TORCH_ARG(std::vector<std::string>, exclude) = {};
  /// Quantize tied parameters once. Default true.
  TORCH_ARG(bool, detect_bound) = true;
};

class UniformQuantizer : public BaseQuantizer {
 public:
  /// Throws c10::Error if bits is not an integer in [1, 15], min_size is negative, or a
  /// quantizer is already attached to `model`.
  UniformQuantizer(std::shared_ptr<torch::nn::Module> model,
                   const UniformQuantizerOptions& options = UniformQuantizerOptions());

  /// The fixed width, as an integer.
  int64_t bits() const { return bits_; }

  /// bits * numel + 64 per quantized parameter (model_size() is true_model_size(): nothing
  /// is learned).
  std::vector<double> quantized_param_bits() const override;

  const UniformQuantizerOptions& options() const { return options_; }

 protected:
  at::Tensor TrainingWeight(size_t index, const at::Tensor& weight) override;
  serialization::CompressedTensor EncodeParam(size_t index,
                                              const at::Tensor& weight) const override;
  /// \error kInvalidArgument if the tensor was stored at another width.
  absl::StatusOr<at::Tensor> DecodeParam(
      size_t index, const serialization::CompressedTensor& stored) const override;
  std::map<std::string, std::string> MethodOptions() const override;

 private:
  UniformQuantizerOptions options_;
  int64_t bits_;
};

}  // namespace mc::quant

#endif  // MC_QUANT_UNIFORM_QUANTIZER_H_
