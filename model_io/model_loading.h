// File: model_loading.h
// Model files into zoo models: build the architecture a file (or a config) records, load a
// file's weights of any method into a model, and the float size a compressed model is
// compared with. The experiment binaries load teachers and starting points this way.
//
// Example:
//   MC_ASSIGN_OR_RETURN(auto teacher, mc::model_io::LoadModelFile("teacher.mcm", dataset));
//   MC_RETURN_IF_ERROR(mc::model_io::LoadModelFileInto("start.mcm", *student));
#ifndef MC_MODEL_IO_MODEL_LOADING_H_
#define MC_MODEL_IO_MODEL_LOADING_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "data/dataset_info.h"
#include "serialization/experiment_config.pb.h"

namespace mc::nn_models {
class Classifier;
}  // namespace mc::nn_models

namespace mc::model_io {

/// Builds `model` for the data set (in_channels and num_classes default to the data set's):
/// from the registry, or a model written in Python from its TorchScript code or file
/// (nn_models/scripted_model.h), which fixes its own channels and classes.
/// \error kNotFound for an unknown model name or a missing TorchScript file;
///   kInvalidArgument for TorchScript that is not a classifier's.
absl::StatusOr<std::shared_ptr<nn_models::Classifier>> BuildModel(
    const serialization::ModelConfig& model, const data::DatasetInfo& dataset);

/// Reads a model file of any method and loads its weights into `model` (all or nothing).
/// \error naming the file: unreadable or corrupt files, tensors that do not fit the model.
absl::Status LoadModelFileInto(const std::string& path, nn_models::Classifier& model);

/// Reads a model file and builds its architecture (recorded in the file) with its weights.
/// \error as BuildModel, and as LoadModelFileInto.
absl::StatusOr<std::shared_ptr<nn_models::Classifier>> LoadModelFile(
    const std::string& path, const data::DatasetInfo& dataset);

/// Size in MB (2^20 bytes) of the model's parameters stored as float32.
double FloatModelSizeMb(const nn_models::Classifier& model);

/// `status` with its message prefixed by "<path>: " (OK stays OK).
absl::Status NamingFile(const absl::Status& status, const std::string& path);

}  // namespace mc::model_io

#endif  // MC_MODEL_IO_MODEL_LOADING_H_
