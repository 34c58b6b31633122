#!/usr/bin/python3
"""Writes the torch.save files that the C++ tests read.

Run once from anywhere with Debian's PyTorch (`apt-get install python3-torch`, torch 1.13):

    /usr/bin/python3 tools/make_pytorch_testdata.py

and commit the files it writes. PyTorch is needed only here, never to build or test.

serialization/testdata/ (read by //serialization:pytorch_state_dict_test):
  tiny_net_state_dict.pt            TinyNet().state_dict(): an OrderedDict with `_metadata`.
                                    Entry i (file order) holds arange(numel) * 0.25 + i in its
                                    shape; bn.num_batches_tracked is int64 7.
  tiny_net_state_dict_protocol4.pt  the same, saved with pickle protocol 4.
  dtypes_plain_dict.pt              a plain dict: one (2, 3) tensor (arange(6) - 2).to(dtype)
                                    per dtype, views of one float32 storage arange(24)
                                    ("shared.*"), and an empty (0, 3) tensor.
  linear_parameters.pt              dict(nn.Linear(2, 2).named_parameters()): nn.Parameters.
                                    weight = arange(4).view(2, 2) * 0.25, bias = [1.0, 1.25].
  metadata.pt                       an OrderedDict {"w": arange(3) float32} whose `_metadata`
                                    holds lists, a float and None.
  large_ints.pt                     a hand-built archive whose tensor "w" is a (1, 1) view at
                                    offset 299 with strides (2**40, 70000) of a 300-element
                                    float32 storage arange(300): ints of every pickled width.
  whole_module.pt                   torch.save(TinyNet()): a pickled module, not a state dict.
  legacy_format.pt                  a dict saved in the pre-1.6 (non-zip) format.
  not_a_tensor.pt                   {"weight": zeros(2), "lr": 0.5}.
  top_level_tensor.pt               a tensor, not a dict.
  complex_dtype.pt                  {"z": zeros(2, dtype=complex64)}.
  view_out_of_bounds.pt             a hand-built archive whose tensor "w" is a (2, 3) view at
                                    offset 2 of a 6-element float32 storage.

nn_models/testdata/ (read by //nn_models:state_dict_test):
  tiny_net_state_dict.pt            TinyNet with random weights and batch-norm statistics.
  tiny_net_forward.pt               {"input": (2, 1, 4, 4), "output": (2, 3)}: the eval-mode
                                    output of that TinyNet for that input.
"""

import collections
import io
import os
import pickle
import zipfile

import torch
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERIALIZATION = os.path.join(ROOT, "serialization", "testdata")
NN_MODELS = os.path.join(ROOT, "nn_models", "testdata")

DTYPES = {
    "float32": torch.float32,
    "float64": torch.float64,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "int64": torch.int64,
    "int32": torch.int32,
    "int16": torch.int16,
    "int8": torch.int8,
    "uint8": torch.uint8,
    "bool": torch.bool,
}


class TinyNet(nn.Module):
    """conv -> batch norm -> relu -> flatten -> linear, for (N, 1, 4, 4) inputs."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, kernel_size=3)
        self.bn = nn.BatchNorm2d(2)
        self.fc = nn.Linear(8, 3)

    def forward(self, x):
        return self.fc(torch.relu(self.bn(self.conv(x))).flatten(1))


def arange_state_dict(module):
    """Fills entry i of the module's state dict with arange(numel) * 0.25 + i."""
    with torch.no_grad():
        for i, (name, tensor) in enumerate(module.state_dict().items()):
            if name.endswith("num_batches_tracked"):
                tensor.fill_(7)
            else:
                tensor.copy_((torch.arange(tensor.numel()) * 0.25 + i).view(tensor.shape))
    return module.state_dict()


class StorageRecord:
    """The storage record data/<key> of `numel` float32 values, in a hand-built archive."""

    def __init__(self, key, numel):
        self.key = key
        self.numel = numel


class TensorView:
    """Pickles like a tensor, with any offset, size and stride over a StorageRecord."""

    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, size, stride, False, collections.OrderedDict())

    def __reduce__(self):
        return torch._utils._rebuild_tensor_v2, self.args


class ArchivePickler(pickle.Pickler):
    """Names StorageRecords by persistent id, as torch.save names storages."""

    def persistent_id(self, obj):
        if isinstance(obj, StorageRecord):
            return ("storage", torch.FloatStorage, obj.key, "cpu", obj.numel)
        return None


def write_archive(path, obj, storages):
    """Writes a torch.save-style zip archive holding `obj` and float32 `storages` by key."""
    name = os.path.splitext(os.path.basename(path))[0]
    with open(path, "wb") as f, zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as archive:
        data = io.BytesIO()
        ArchivePickler(data, protocol=2).dump(obj)
        archive.writestr(f"{name}/data.pkl", data.getvalue())
        for key, tensor in storages.items():
            archive.writestr(f"{name}/data/{key}", tensor.numpy().tobytes())
        archive.writestr(f"{name}/version", b"3\n")


def write_serialization_testdata():
    state_dict = arange_state_dict(TinyNet())
    torch.save(state_dict, os.path.join(SERIALIZATION, "tiny_net_state_dict.pt"))
    torch.save(state_dict, os.path.join(SERIALIZATION, "tiny_net_state_dict_protocol4.pt"),
               pickle_protocol=4)

    tensors = {name: (torch.arange(6) - 2).to(dtype).view(2, 3) for name, dtype in DTYPES.items()}
    shared = torch.arange(24, dtype=torch.float32)
    tensors["shared.whole"] = shared
    tensors["shared.transposed"] = shared[4:16].view(3, 4).t()  # sizes (4, 3), strides (1, 4)
    tensors["shared.strided"] = shared[1::5]  # offset 1, size 5, stride 5
    tensors["empty"] = torch.zeros(0, 3)
    torch.save(tensors, os.path.join(SERIALIZATION, "dtypes_plain_dict.pt"))

    linear = nn.Linear(2, 2)
    with torch.no_grad():
        linear.weight.copy_(torch.arange(4).view(2, 2) * 0.25)
        linear.bias.copy_(torch.tensor([1.0, 1.25]))
    torch.save(dict(linear.named_parameters()),
               os.path.join(SERIALIZATION, "linear_parameters.pt"))

    with_metadata = collections.OrderedDict(w=torch.arange(3, dtype=torch.float32))
    with_metadata._metadata = collections.OrderedDict(
        [("", {"version": 1, "lists": [[1], [2, 3]], "scale": 0.5, "note": None})])
    torch.save(with_metadata, os.path.join(SERIALIZATION, "metadata.pt"))

    storage = StorageRecord("0", 300)
    write_archive(os.path.join(SERIALIZATION, "large_ints.pt"),
                  {"w": TensorView(storage, 299, (1, 1), (2**40, 70000))},
                  {"0": torch.arange(300, dtype=torch.float32)})

    torch.save(TinyNet(), os.path.join(SERIALIZATION, "whole_module.pt"))
    torch.save({"weight": torch.zeros(2)}, os.path.join(SERIALIZATION, "legacy_format.pt"),
               _use_new_zipfile_serialization=False)
    torch.save({"weight": torch.zeros(2), "lr": 0.5},
               os.path.join(SERIALIZATION, "not_a_tensor.pt"))
    torch.save(torch.zeros(2), os.path.join(SERIALIZATION, "top_level_tensor.pt"))
    torch.save({"z": torch.zeros(2, dtype=torch.complex64)},
               os.path.join(SERIALIZATION, "complex_dtype.pt"))

    storage = StorageRecord("0", 6)
    write_archive(os.path.join(SERIALIZATION, "view_out_of_bounds.pt"),
                  {"w": TensorView(storage, 2, (2, 3), (3, 1))},
                  {"0": torch.arange(6, dtype=torch.float32)})


def write_nn_models_testdata():
    torch.manual_seed(0)
    net = TinyNet()
    with torch.no_grad():
        net.bn.running_mean.uniform_(-0.5, 0.5)
        net.bn.running_var.uniform_(0.5, 1.5)
        net.bn.weight.uniform_(0.5, 1.5)
        net.bn.bias.uniform_(-0.5, 0.5)
        net.bn.num_batches_tracked.fill_(10)
    net.eval()
    x = torch.randn(2, 1, 4, 4)
    with torch.no_grad():
        y = net(x)
    torch.save(net.state_dict(), os.path.join(NN_MODELS, "tiny_net_state_dict.pt"))
    torch.save({"input": x, "output": y}, os.path.join(NN_MODELS, "tiny_net_forward.pt"))


if __name__ == "__main__":
    os.makedirs(SERIALIZATION, exist_ok=True)
    os.makedirs(NN_MODELS, exist_ok=True)
    write_serialization_testdata()
    write_nn_models_testdata()
