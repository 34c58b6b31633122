#include "runtime/runtime_model.h"

#include <c10/core/GradMode.h>

#include <utility>

#include "common/status_macros.h"
#include "data/dataset_info.h"
#include "model_io/model_loading.h"
#include "nn_models/classifier.h"
#include "runtime/model_graph.h"
#include "serialization/model_file.h"

namespace mc::runtime {

RuntimeModel::RuntimeModel(std::unique_ptr<Graph> graph, std::string dataset,
                           google::protobuf::Map<std::string, double> metrics)
    : graph_(std::move(graph)), dataset_(std::move(dataset)), metrics_(std::move(metrics)) {}

absl::StatusOr<RuntimeModel> RuntimeModel::Load(const std::string& path) {
  MC_ASSIGN_OR_RETURN(const serialization::CompressedModel stored, serialization::ReadModelFile(path));
  absl::StatusOr<data::DatasetInfo> dataset = data::GetDatasetInfo(stored.dataset());
  MC_RETURN_IF_ERROR(model_io::NamingFile(dataset.status(), path));
  // The zoo model gives the layers' options; its own parameters are never read.
  absl::StatusOr<std::shared_ptr<nn_models::Classifier>> model =
      model_io::BuildModel(stored.model(), *dataset);
  MC_RETURN_IF_ERROR(model_io::NamingFile(model.status(), path));
  absl::StatusOr<Graph> graph = BuildGraph(**model, stored);
  MC_RETURN_IF_ERROR(model_io::NamingFile(graph.status(), path));
  return RuntimeModel(std::make_unique<Graph>(*std::move(graph)), stored.dataset(),
                      stored.metrics());
}

at::Tensor RuntimeModel::Forward(const at::Tensor& images, Activations activations) const {
  c10::NoGradGuard no_grad;
  return graph_->Run(images.contiguous(), activations);
}

}  // namespace mc::runtime
