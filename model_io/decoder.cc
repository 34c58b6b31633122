#include "model_io/decoder.h"

#include <ATen/ATen.h>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "nn_models/state_dict.h"
#include "quant/learned_points.h"
#include "quant/uniform_codec.h"
#include "serialization/tensor_codec.h"
#include "vq/codebook_codec.h"

namespace mc::model_io {

absl::StatusOr<at::Tensor> DecodeTensor(const serialization::CompressedTensor& tensor) {
  switch (tensor.encoding_case()) {
    case serialization::CompressedTensor::kPassthrough:
      return serialization::DecodePassthrough(tensor);
    case serialization::CompressedTensor::kUniform:
      return quant::DecodeUniform(tensor);
    case serialization::CompressedTensor::kLearnedPoints:
      return quant::DecodeLearnedPoints(tensor);
    case serialization::CompressedTensor::kCodebook:
      return vq::DecodeCodebook(tensor);
    case serialization::CompressedTensor::ENCODING_NOT_SET:
      break;
  }
  return absl::DataLossError(absl::StrCat("tensor ", tensor.name(), " has no encoding"));
}

absl::StatusOr<serialization::StateDict> DecodeCompressedModel(
    const serialization::CompressedModel& stored) {
  serialization::StateDict state;
  state.reserve(stored.tensors_size());
  for (const serialization::CompressedTensor& tensor : stored.tensors()) {
    MC_ASSIGN_OR_RETURN(at::Tensor values, DecodeTensor(tensor));
    state.emplace_back(tensor.name(), std::move(values));
  }
  return state;
}

absl::Status LoadCompressedModel(const serialization::CompressedModel& stored,
                                 torch::nn::Module& module) {
  MC_ASSIGN_OR_RETURN(const serialization::StateDict state, DecodeCompressedModel(stored));
  return nn_models::LoadStateDict(module, state);
}

}  // namespace mc::model_io
