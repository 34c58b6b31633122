// File: compressed_classifier.h
// Runs a compressed model file of the shared format (serialization/model_file.h), such as one
// written by the vq compressor: the architecture recorded in the file is built from the zoo,
// every weight is rebuilt once at load time from its codebook or other encoding
// (model_io/decoder.h), and the model is left in eval mode. Like the reference's
// inference.py, the forward pass uses dense weights; BatchNorm statistics come from the file.
//
// Example:
//   MC_ASSIGN_OR_RETURN(CompressedClassifier model, CompressedClassifier::Load("run/model.mcm"));
//   at::Tensor logits = model.Forward(images);   // (B, C, H, W) -> (B, num_classes)
#ifndef MC_MODEL_IO_COMPRESSED_CLASSIFIER_H_
#define MC_MODEL_IO_COMPRESSED_CLASSIFIER_H_

#include <ATen/core/Tensor.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "serialization/experiment_config.pb.h"

namespace mc::nn_models {
class Classifier;
}  // namespace mc::nn_models

namespace mc::model_io {

class CompressedClassifier {
 public:
  /// Reads `path` and builds its model: the recorded ModelConfig (name, in_channels,
  /// num_classes, cifar_stem), with the image size of the recorded data set when there is one.
  /// \error naming the file: unreadable or corrupt files (kNotFound, kDataLoss), an unknown
  ///   architecture (kNotFound), tensors that do not fit it (kInvalidArgument).
  static absl::StatusOr<CompressedClassifier> Load(const std::string& path);

  /// Logits of `images` (B, C, H, W) float32: (B, num_classes), without gradient.
  at::Tensor Forward(const at::Tensor& images) const;

  /// The model with its decoded weights, in eval mode.
  const std::shared_ptr<nn_models::Classifier>& model() const { return model_; }

  /// The architecture recorded in the file.
  const serialization::ModelConfig& config() const { return config_; }

 private:
  CompressedClassifier(std::shared_ptr<nn_models::Classifier> model,
                       serialization::ModelConfig config);
  std::shared_ptr<nn_models::Classifier> model_;
  serialization::ModelConfig config_;
};

}  // namespace mc::model_io

#endif  // MC_MODEL_IO_COMPRESSED_CLASSIFIER_H_
