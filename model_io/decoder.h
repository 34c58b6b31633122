// File: decoder.h
// Turns any compressed model of the shared format back into float tensors, whatever method
// wrote it: passthrough, uniform (DiffQ, QAT, LSQ, bucketed), learned-points and codebook
// (vq/codebook_codec.h) tensors. This is how a model file is loaded as a teacher or a
// starting point by another method.
//
// Example:
//   MC_ASSIGN_OR_RETURN(CompressedModel stored, serialization::ReadModelFile(path));
//   MC_RETURN_IF_ERROR(LoadCompressedModel(stored, *model));
#ifndef MC_MODEL_IO_DECODER_H_
#define MC_MODEL_IO_DECODER_H_

#include <ATen/core/Tensor.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "serialization/compressed_model.pb.h"
#include "serialization/pytorch_state_dict.h"

namespace torch::nn {
class Module;
}

namespace mc::model_io {

/// One stored tensor's values: float32 (int64 for int64 passthrough tensors), in its shape.
/// \error kDataLoss naming the tensor when it is corrupt or has no encoding this decoder knows.
absl::StatusOr<at::Tensor> DecodeTensor(const serialization::CompressedTensor& tensor);

/// Every stored tensor as (name, float32 or int64 values), in the stored order.
/// \error kDataLoss naming the tensor when one is corrupt or has no encoding this decoder
/// knows.
absl::StatusOr<serialization::StateDict> DecodeCompressedModel(
    const serialization::CompressedModel& stored);

/// Decodes `stored` and loads it into `module` (every parameter and buffer, all or nothing:
/// see nn_models/state_dict.h). \error as DecodeCompressedModel and LoadStateDict.
absl::Status LoadCompressedModel(const serialization::CompressedModel& stored,
                                 torch::nn::Module& module);

}  // namespace mc::model_io

#endif  // MC_MODEL_IO_DECODER_H_
