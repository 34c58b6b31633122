// File: pytorch_state_dict.h
// Reads the tensors of a state dict that Python saved with `torch.save(model.state_dict(), path)`
// (the form of torchvision's published weights), so that weights trained in Python can be
// compressed here. LibTorch's own `torch::pickle_load` cannot read the `OrderedDict` such files
// hold; this reader interprets the pickle itself and touches nothing but tensor data.
// Writes state dicts the other way, for Python's `torch.load`, with LibTorch's own pickler.
//
// Example:
//   MC_ASSIGN_OR_RETURN(mc::serialization::StateDict weights,
//                       mc::serialization::ReadPyTorchStateDict("resnet18.pth"));
//   for (const auto& [name, tensor] : weights) std::cout << name << " " << tensor.sizes() << "\n";
//   MC_RETURN_IF_ERROR(mc::serialization::WritePyTorchStateDict("weights.pt", weights));
#ifndef MC_SERIALIZATION_PYTORCH_STATE_DICT_H_
#define MC_SERIALIZATION_PYTORCH_STATE_DICT_H_

#include <ATen/core/Tensor.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mc::serialization {

/// Tensors by their dotted names ("layer1.0.conv1.weight"), in file order.
using StateDict = std::vector<std::pair<std::string, at::Tensor>>;

/// Reads a state dict saved by Python's `torch.save` (torch >= 1.6, zip format) or by
/// WritePyTorchStateDict.
///
/// The file is a zip archive holding `<name>/data.pkl` (the pickled dict), one record
/// `<name>/data/<key>` per tensor storage (raw little-endian values) and `<name>/version`.
/// The top-level object must be a dict or `collections.OrderedDict` from strings to tensors, as
/// `model.state_dict()` and `dict(model.named_parameters())` give; the `_metadata` attribute
/// of an OrderedDict is ignored. Pickle protocols 2 (torch.save's default) to 5 are read,
/// with the opcodes and globals `torch.save` emits for such dicts and nothing else: a pickled
/// module (`torch.save(model)`) or other Python object is refused, naming its class.
///
/// Returned tensors are CPU tensors (whatever device they were saved from) with the saved dtype
/// (float32, float64, float16, bfloat16, int64, int32, int16, int8, uint8 or bool), sizes and
/// strides; tensors that were views of one storage in Python are views of one storage here
/// too. They do not require grad.
///
/// \error kNotFound if the file cannot be opened.
/// \error kInvalidArgument if the file is not a zip archive, or holds an object other than a
///   dict of tensors.
/// \error kUnimplemented for the legacy pre-1.6 `torch.save` format, a pickle opcode or Python
///   global outside the subset above (named in the message), containers nested more than 32
///   levels deep, or big-endian storages.
/// \error kDataLoss if the archive or pickle is truncated or corrupt.
/// \error kResourceExhausted if the tensors do not fit in memory.
///
/// LibTorch 1.13's zip reader leaks about 1 KB when it opens an archive and then refuses it
/// (no version record, or a first entry outside a folder): its constructor throws before the
/// destructor that would free its state can run. Such files are refused with kDataLoss.
absl::StatusOr<StateDict> ReadPyTorchStateDict(const std::string& path);

/// Writes `state` to `path` atomically (atomic_file.h) as a dict from names to tensors, in
/// the order of `state`, with `torch::pickle_save` (torch.save's zip format). Python reads it with
/// `torch.load(path)` into a dict that `model.load_state_dict` takes, LibTorch with
/// `torch::pickle_load`, and ReadPyTorchStateDict reads it back. Tensors keep their dtype,
/// sizes and values.
/// \error kInvalidArgument naming the entry if a name repeats or a tensor is undefined;
///   kInternal if LibTorch cannot pickle a tensor; errors of WriteFileAtomically.
absl::Status WritePyTorchStateDict(const std::string& path, const StateDict& state);

}  // namespace mc::serialization

#endif  // MC_SERIALIZATION_PYTORCH_STATE_DICT_H_
