// File: size.h
// The model size "And the bit goes down" (Stock et al. 2020) reports, computed from the
// architecture alone: which layers the reference quantizes, with which block size and number
// of centroids, and the bytes its formula counts. Kept apart from the k-means and the
// layout's tensors so that configuration code can price a recipe cheaply; the header needs
// no LibTorch.
//
// Formula (the reference's quantize.py, also fairseq's SizeTracker), in MB of 2^20 bytes:
//   index     = sum over quantized layers of n_subvectors * log2(k) / 8 bytes
//   centroids = sum over quantized layers of k * block_size * 2 bytes (float16)
//   other     = 4 bytes for every parameter that is not quantized (the first convolution,
//               biases, BatchNorm weights and biases); buffers (running statistics) are free.
// Quantized layers: every convolution and linear weight (4-D and 2-D parameter) in
// registration order except the first one, and every embedding table. An embedding is cut
// into blocks along its width, as fairseq's iPQ does, and is quantized even when it is the
// first layer: in a language model it holds most of the weights. The 2-D weights of
// recurrent layers (an LSTM's weight_ih / weight_hh) are linear maps of the layer's input and
// of its previous hidden state, and are quantized as linear layers.
//
// Example (ResNet-18, the reference's "small blocks" recipe; 1.54 MB):
//   MC_ASSIGN_OR_RETURN(VqSize size, ReferenceVqSize(*resnet18, VqSizeOptions()));
//   std::cout << size.total_megabytes();
#ifndef MC_VQ_SIZE_H_
#define MC_VQ_SIZE_H_

#include <torch/arg.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/units.h"

namespace torch::nn {
class Module;  // torch/nn/module.h
}  // namespace torch::nn

namespace mc::vq {

/// Block sizes and numbers of centroids per kind of layer. The defaults are the reference's
/// "small blocks" ResNet-18 recipe (quantize.py's defaults); its "large blocks" recipe is
/// block_size_conv(18), and for ResNet-50 also block_size_pointwise(8), with
/// centroids_linear(1024) for ResNet-50 in both.
struct VqSizeOptions {
  /// Subvector length for convolutions with a kernel larger than 1x1 (--block-size-cv).
  /// A convolution whose in_channels / groups * kh * kw values per output channel it does
  /// not divide takes the largest divisor of them below it instead (7 for a 7x7 depthwise
  /// convolution, 6 for a 5x5 one of 6 input channels). Default: 9.
  TORCH_ARG(int64_t, block_size_conv) = 9;
  /// Subvector length for 1x1 convolutions (--block-size-pw). Default: 4.
  TORCH_ARG(int64_t, block_size_pointwise) = 4;
  /// Subvector length for linear layers (--block-size-fc). Default: 4.
  TORCH_ARG(int64_t, block_size_linear) = 4;
  /// Centroids requested for convolutions larger than 1x1 (--n-centroids-cv). Default: 256.
  TORCH_ARG(int64_t, centroids_conv) = 256;
  /// Centroids requested for 1x1 convolutions (--n-centroids-pw). Default: 256.
  TORCH_ARG(int64_t, centroids_pointwise) = 256;
  /// Centroids requested for linear layers (--n-centroids-fc). Default: 2048.
  TORCH_ARG(int64_t, centroids_linear) = 2048;
  /// Subvector length and centroids of embedding tables (fairseq iPQ's defaults). A width the
  /// length does not divide takes its largest divisor below it (4 for a width of 128 and
  /// blocks of 5). Default: 8 and 256.
  TORCH_ARG(int64_t, block_size_embedding) = 8;
  TORCH_ARG(int64_t, centroids_embedding) = 256;
  /// Each layer gets fewer centroids than n_subvectors / threshold (ClampNumCentroids in
  /// vq/layout.h; --n-centroids-threshold). Default: 4.
  TORCH_ARG(int64_t, centroids_threshold) = 4;
  /// Layers whose capped number of centroids is below this stay float32: a handful of
  /// centroids for a small layer (a depthwise convolution of 32 channels gets 4 with the
  /// threshold above) costs accuracy out of proportion to the bytes it saves. Default: 1
  /// (the reference: every layer is quantized).
  TORCH_ARG(int64_t, min_centroids) = 1;
};

/// A parameter of a model: its name and shape, and whether it is an embedding table
/// (the weight of a torch::nn::Embedding, (vocabulary, width)).
struct ParameterShape {
  std::string name;
  std::vector<int64_t> shape;
  bool embedding = false;
};

/// How one layer is quantized.
struct LayerQuantization {
  std::string name;            ///< the weight parameter's name
  std::vector<int64_t> shape;  ///< the weight's shape
  int64_t block_size = 0;
  int64_t num_subvectors = 0;
  int64_t num_centroids = 0;   ///< after ClampNumCentroids
};

/// The reference's size of a compressed model, in bytes, and of the float32 model.
struct VqSize {
  double index_bytes = 0;         ///< log2(k) bits per subvector
  double centroid_bytes = 0;      ///< float16 centroids
  double other_bytes = 0;         ///< float32 parameters that are not quantized
  double uncompressed_bytes = 0;  ///< every parameter in float32
  double total_bytes() const { return index_bytes + centroid_bytes + other_bytes; }
  /// total_bytes() in MB of 2^20 bytes, the unit of the reference's tables.
  double total_megabytes() const { return total_bytes() / kBytesPerMb; }
  /// uncompressed_bytes / total_bytes().
  double compression_ratio() const { return uncompressed_bytes / total_bytes(); }
};

/// The layers the reference quantizes among `parameters` (in registration order): every 4-D
/// (convolution) and 2-D (linear) parameter but the first, and every embedding table, with
/// their block sizes and clamped numbers of centroids; less those left with fewer than
/// options.min_centroids().
/// \error kInvalidArgument if an option is not positive, a block size does not divide a
///   layer's row length, or a layer has too few subvectors for the threshold; the message
///   names the layer.
absl::StatusOr<std::vector<LayerQuantization>> PlanLayers(
    const std::vector<ParameterShape>& parameters, const VqSizeOptions& options);

/// The reference's size of `parameters` quantized with `options` (formula in the file
/// comment). \error as PlanLayers.
absl::StatusOr<VqSize> ReferenceVqSize(const std::vector<ParameterShape>& parameters,
                                       const VqSizeOptions& options);

/// The same for a module's named_parameters(). \error as PlanLayers.
absl::StatusOr<VqSize> ReferenceVqSize(const torch::nn::Module& model,
                                       const VqSizeOptions& options);

/// The names and shapes of a module's parameters, in registration order; the weights of its
/// torch::nn::Embedding submodules are marked as embeddings.
std::vector<ParameterShape> ParameterShapes(const torch::nn::Module& model);

}  // namespace mc::vq

#endif  // MC_VQ_SIZE_H_
