#include "vq/size.h"

#include <torch/nn/module.h>
#include <torch/nn/modules/embedding.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <set>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "vq/layout.h"

namespace mc::vq {
namespace {

int64_t NumElements(const std::vector<int64_t>& shape) {
  int64_t numel = 1;
  for (int64_t dim : shape) numel *= dim;
  return numel;
}

bool IsLayerWeight(const ParameterShape& parameter) {
  return parameter.shape.size() == 2 || parameter.shape.size() == 4;
}

absl::Status CheckPositive(int64_t value, const char* name) {
  if (value < 1) {
    return absl::InvalidArgumentError(absl::StrCat(name, " must be >= 1, got ", value));
  }
  return absl::OkStatus();
}

// The largest divisor of `values` that is at most `limit` (>= 1).
int64_t LargestDivisorUpTo(int64_t values, int64_t limit) {
  int64_t divisor = std::min(values, limit);
  while (values % divisor != 0) --divisor;
  return divisor;
}

absl::StatusOr<LayerQuantization> PlanLayer(const ParameterShape& parameter,
                                            const VqSizeOptions& options) {
  LayerQuantization layer;
  layer.name = parameter.name;
  layer.shape = parameter.shape;
  int64_t requested_centroids = 0;
  if (parameter.embedding) {
    layer.block_size = LargestDivisorUpTo(parameter.shape[1], options.block_size_embedding());
    requested_centroids = options.centroids_embedding();
  } else if (parameter.shape.size() == 2) {
    layer.block_size = options.block_size_linear();
    requested_centroids = options.centroids_linear();
  } else if (parameter.shape[2] * parameter.shape[3] > 1) {
    layer.block_size = LargestDivisorUpTo(parameter.shape[1] * parameter.shape[2] * parameter.shape[3],
                                          options.block_size_conv());
    requested_centroids = options.centroids_conv();
  } else {
    layer.block_size = options.block_size_pointwise();
    requested_centroids = options.centroids_pointwise();
  }
  absl::StatusOr<int64_t> num_subvectors = NumSubvectors(parameter.shape, layer.block_size);
  if (!num_subvectors.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(parameter.name, ": ", num_subvectors.status().message()));
  }
  layer.num_subvectors = *num_subvectors;
  absl::StatusOr<int64_t> num_centroids = ClampNumCentroids(
      requested_centroids, layer.num_subvectors, options.centroids_threshold());
  if (!num_centroids.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(parameter.name, ": ", num_centroids.status().message()));
  }
  layer.num_centroids = *num_centroids;
  return layer;
}

}  // namespace

absl::StatusOr<std::vector<LayerQuantization>> PlanLayers(
    const std::vector<ParameterShape>& parameters, const VqSizeOptions& options) {
  MC_RETURN_IF_ERROR(CheckPositive(options.block_size_conv(), "block_size_conv"));
  MC_RETURN_IF_ERROR(CheckPositive(options.block_size_pointwise(), "block_size_pointwise"));
  MC_RETURN_IF_ERROR(CheckPositive(options.block_size_linear(), "block_size_linear"));
  MC_RETURN_IF_ERROR(CheckPositive(options.centroids_conv(), "centroids_conv"));
  MC_RETURN_IF_ERROR(CheckPositive(options.centroids_pointwise(), "centroids_pointwise"));
  MC_RETURN_IF_ERROR(CheckPositive(options.centroids_linear(), "centroids_linear"));
  MC_RETURN_IF_ERROR(CheckPositive(options.block_size_embedding(), "block_size_embedding"));
  MC_RETURN_IF_ERROR(CheckPositive(options.centroids_embedding(), "centroids_embedding"));
  MC_RETURN_IF_ERROR(CheckPositive(options.centroids_threshold(), "centroids_threshold"));
  std::vector<LayerQuantization> layers;
  bool first_layer_seen = false;
  for (const ParameterShape& parameter : parameters) {
    if (!IsLayerWeight(parameter)) continue;
    // The reference keeps the first convolution (the 7x7 stem) in float; a model that starts
    // with an embedding has no such stem.
    const bool stem = !first_layer_seen && !parameter.embedding;
    first_layer_seen = true;
    if (stem) continue;
    MC_ASSIGN_OR_RETURN(LayerQuantization layer, PlanLayer(parameter, options));
    if (layer.num_centroids < options.min_centroids()) continue;
    layers.push_back(std::move(layer));
  }
  return layers;
}

absl::StatusOr<VqSize> ReferenceVqSize(const std::vector<ParameterShape>& parameters,
                                       const VqSizeOptions& options) {
  MC_ASSIGN_OR_RETURN(const std::vector<LayerQuantization> layers,
                      PlanLayers(parameters, options));
  VqSize size;
  int64_t quantized_parameters = 0;
  for (const LayerQuantization& layer : layers) {
    size.index_bytes +=
        static_cast<double>(layer.num_subvectors) * std::log2(layer.num_centroids) / 8;
    size.centroid_bytes += static_cast<double>(layer.num_centroids) * layer.block_size * 2;
    quantized_parameters += NumElements(layer.shape);
  }
  int64_t all_parameters = 0;
  for (const ParameterShape& parameter : parameters) {
    all_parameters += NumElements(parameter.shape);
  }
  size.other_bytes = 4.0 * static_cast<double>(all_parameters - quantized_parameters);
  size.uncompressed_bytes = 4.0 * static_cast<double>(all_parameters);
  return size;
}

absl::StatusOr<VqSize> ReferenceVqSize(const torch::nn::Module& model,
                                       const VqSizeOptions& options) {
  return ReferenceVqSize(ParameterShapes(model), options);
}

std::vector<ParameterShape> ParameterShapes(const torch::nn::Module& model) {
  std::set<const c10::TensorImpl*> embeddings;
  for (const std::shared_ptr<torch::nn::Module>& module : model.modules(/*include_self=*/true)) {
    if (const auto* embedding = dynamic_cast<const torch::nn::EmbeddingImpl*>(module.get())) {
      embeddings.insert(embedding->weight.unsafeGetTensorImpl());
    }
  }
  std::vector<ParameterShape> shapes;
  for (const auto& parameter : model.named_parameters(/*recurse=*/true)) {
    shapes.push_back({parameter.key(), parameter.value().sizes().vec(),
                      embeddings.count(parameter.value().unsafeGetTensorImpl()) > 0});
  }
  return shapes;
}

}  // namespace mc::vq
