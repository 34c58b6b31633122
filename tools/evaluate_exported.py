#!/usr/bin/env python3
"""Test accuracy of an exported model on Fashion-MNIST, in Python.

Checks a state dict written by `bazel run //model_io:inspect -- model.mcm
--export_pytorch=model.pt` outside this repository: the model is rebuilt here in plain
PyTorch, with the module and parameter names of nn_models/cifar_resnet.h, and evaluated on
the Fashion-MNIST test set read and normalised as data/ does. The accuracy printed is the
test_accuracy of the summary.json of the run that wrote the model file.

    /usr/bin/python3 tools/evaluate_exported.py model.pt
    /usr/bin/python3 tools/evaluate_exported.py --torchscript model_script.pt

With --torchscript the file is a model written in Python that `inspect --export_torchscript`
gave back, run by torch.jit.load as it is.

Needs Debian's python3-torch (and its numpy); not used by any test.

The network (nn_models/cifar_resnet.h, He et al. 2016 section 4.2): 3x3 convolution to 16
channels, BatchNorm, ReLU; three stages layer1..layer3 of n BasicBlocks with 16, 32 and 64
channels, stride 2 at the start of layer2 and layer3; projection shortcuts (1x1 convolution +
BatchNorm, `downsample`) where the shape changes; global average pooling; fc. Convolutions
have no bias. The depth (6n + 2: ResNet-20 has n = 3), input channels and classes are read
from the state dict's shapes.
"""

import argparse
import gzip
import os
import re
import sys

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

# data/dataset_info.cc: mean and std over all Fashion-MNIST training pixels.
MEAN = np.float32(0.2860)
STD = np.float32(0.3530)
DEFAULT_DATA_DIR = "/usr/share/datasets/fashion-mnist"


class BasicBlock(nn.Module):
    def __init__(self, in_channels, channels, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.downsample = None
        if stride != 1 or in_channels != channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(channels))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(out + shortcut)


class CifarResNet(nn.Module):
    def __init__(self, blocks_per_stage, in_channels, num_classes):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        channels = 16
        for stage, stage_channels in enumerate((16, 32, 64)):
            blocks = []
            for block in range(blocks_per_stage):
                stride = 2 if stage > 0 and block == 0 else 1
                blocks.append(BasicBlock(channels, stage_channels, stride))
                channels = stage_channels
            setattr(self, f"layer{stage + 1}", nn.Sequential(*blocks))
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)


def read_idx(data_dir, name):
    """The array of IDX file `name` (or `name`.gz) in data_dir, as data/idx_reader.h reads it."""
    path = os.path.join(data_dir, name)
    if not os.path.exists(path):
        path += ".gz"
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        sys.exit(f"{path}: not an IDX file of unsigned bytes")
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(data[3])]
    values = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * len(dims))
    if values.size != np.prod(dims):
        sys.exit(f"{path}: {values.size} values, its header says {dims}")
    return values.reshape(dims)


def test_set(data_dir):
    """Normalised test images (N, 1, 28, 28) float32 and labels (N) int64, as data/ gives them:
    (value / 255 - mean) / std, computed in float32."""
    images = read_idx(data_dir, "t10k-images-idx3-ubyte")
    labels = read_idx(data_dir, "t10k-labels-idx1-ubyte")
    table = (np.arange(256, dtype=np.float32) / np.float32(255) - MEAN) / STD
    return (torch.from_numpy(table[images][:, None].copy()),
            torch.from_numpy(labels.astype(np.int64)))


def build_model(state):
    """The CIFAR ResNet whose depth, input channels and classes fit `state`."""
    blocks = {int(m.group(1)) for key in state for m in [re.match(r"layer1\.(\d+)\.", key)] if m}
    if "conv1.weight" not in state or "fc.weight" not in state or not blocks:
        sys.exit("the state dict is not a CIFAR ResNet's (conv1, layer1..layer3, fc)")
    return CifarResNet(len(blocks), in_channels=state["conv1.weight"].shape[1],
                       num_classes=state["fc.weight"].shape[0])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="file written by inspect --export_pytorch (a CIFAR "
                        "ResNet's state dict) or --export_torchscript (with --torchscript)")
    parser.add_argument("--torchscript", action="store_true",
                        help="the file is TorchScript: a model written in Python, run as it is")
    parser.add_argument("--data_dir", default=DEFAULT_DATA_DIR,
                        help="directory of t10k-{images-idx3,labels-idx1}-ubyte[.gz]")
    parser.add_argument("--batch_size", type=int, default=500)
    args = parser.parse_args()

    if args.torchscript:
        model = torch.jit.load(args.model)
        description = f"TorchScript {model.original_name} from {args.model}"
    else:
        state = torch.load(args.model)
        model = build_model(state)
        model.load_state_dict(state)  # strict: every name and shape must match
        description = f"ResNet-{6 * len(model.layer1) + 2}, {len(state)} tensors from {args.model}"
    model.eval()
    images, labels = test_set(args.data_dir)
    correct = 0
    with torch.no_grad():
        for start in range(0, len(labels), args.batch_size):
            logits = model(images[start:start + args.batch_size])
            correct += int((logits.argmax(1) == labels[start:start + args.batch_size]).sum())
    print(description)
    print(f"test accuracy: {correct / len(labels)!r} ({correct} / {len(labels)})")


if __name__ == "__main__":
    main()
