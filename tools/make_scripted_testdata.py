#!/usr/bin/python3
"""Writes the TorchScript files that the scripted-model tests read, and models to compress.

Run with Debian's PyTorch (`apt-get install python3-torch python3-torchvision`, torch 1.13):

    /usr/bin/python3 tools/make_scripted_testdata.py                 # test files
    /usr/bin/python3 tools/make_scripted_testdata.py --mobilenet_v2=mobilenet_v2.pt
    /usr/bin/python3 tools/make_scripted_testdata.py --convnext=convnext.pt

and commit the test files it writes. PyTorch is needed only here, never to build or test.

nn_models/testdata/ (read by //nn_models:scripted_model_test):
  scripted_residual_gelu.pt   torch.jit.script(ResidualGeluNet(3)): layers the zoo lacks (a
                              depthwise convolution, GELU, LayerNorm, a residual written in
                              forward), for 3-channel images (the synthetic set's) and 10
                              classes; random weights and batch-norm statistics (seed 0).
  traced_residual_gelu.pt     the same module, torch.jit.trace'd on a (2, 3, 32, 32) batch.
  residual_gelu_forward.pt    {"input": (2, 3, 32, 32), "output": (2, 10)}: its eval-mode
                              logits for that input, saved with torch.save.
  tuple_forward.pt            a scripted module whose forward returns (logits, features).
  pickled_module.pt           torch.save(ResidualGeluNet()): a pickled module, not TorchScript.
  state_dict.pt               torch.save(ResidualGeluNet().state_dict()).

--mobilenet_v2=PATH writes torchvision's MobileNetV2 for 1-channel images and 10 classes
(its stem convolution takes 1 channel), scripted, untrained: the model of the README's
"Bring your own model" table (about 9 MB, so not committed). --convnext=PATH writes
SmallConvNext (a ConvNeXt-style net: patchify stem, 7x7 depthwise convolutions, LayerNorm
over channels, GELU, linear layers on channels-last activations, residuals written in
forward) for 1-channel 28x28 images and 10 classes, untrained, traced, for the same table.
"""

import argparse
import os

import torch
import torch.nn.functional as F
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTDATA = os.path.join(ROOT, "nn_models", "testdata")


class ResidualGeluNet(nn.Module):
    """stem (3x3, stride 2, 8 channels) -> batch norm -> ReLU -> x + GELU(depthwise 3x3) ->
    pointwise to 16 -> GELU -> global mean -> LayerNorm -> linear to 10 classes."""

    def __init__(self, in_channels):
        super().__init__()
        self.stem = nn.Conv2d(in_channels, 8, 3, stride=2, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.depthwise = nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.pointwise = nn.Conv2d(8, 16, 1)
        self.norm = nn.LayerNorm(16)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = torch.relu(self.bn(self.stem(x)))
        x = x + F.gelu(self.depthwise(x))
        x = F.gelu(self.pointwise(x))
        return self.fc(self.norm(x.mean(dim=(2, 3))))


class ConvNextBlock(nn.Module):
    """x + pointwise MLP(LayerNorm(depthwise 7x7 conv(x))), the MLP on channels-last values."""

    def __init__(self, dim):
        super().__init__()
        self.depthwise = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim)
        self.expand = nn.Linear(dim, 4 * dim)
        self.project = nn.Linear(4 * dim, dim)

    def forward(self, x):
        y = self.depthwise(x).permute(0, 2, 3, 1)
        y = self.project(F.gelu(self.expand(self.norm(y))))
        return x + y.permute(0, 3, 1, 2)


class SmallConvNext(nn.Module):
    """2x2 stride-2 stem to 64 channels, 3 blocks, LayerNorm + 2x2 stride-2 convolution to
    128 channels, 2 blocks, global mean, LayerNorm, linear head: 420,874 parameters."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 64, 2, stride=2)
        self.stage1 = nn.Sequential(*[ConvNextBlock(64) for _ in range(3)])
        self.down_norm = nn.LayerNorm(64)
        self.down = nn.Conv2d(64, 128, 2, stride=2)
        self.stage2 = nn.Sequential(*[ConvNextBlock(128) for _ in range(2)])
        self.head_norm = nn.LayerNorm(128)
        self.head = nn.Linear(128, 10)

    def forward(self, x):
        x = self.stage1(self.stem(x))
        x = self.down_norm(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        x = self.stage2(self.down(x))
        return self.head(self.head_norm(x.mean(dim=(2, 3))))


class TupleForward(nn.Module):
    """Returns (logits, features): not a classifier's forward."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 10)

    def forward(self, x):
        features = x.mean(dim=(2, 3))
        return self.fc(features), features


def residual_gelu_net():
    torch.manual_seed(0)
    model = ResidualGeluNet(3)
    with torch.no_grad():
        model.bn.running_mean.uniform_(-0.5, 0.5)
        model.bn.running_var.uniform_(0.5, 2.0)
        model.bn.weight.uniform_(0.5, 1.5)
        model.bn.bias.uniform_(-0.2, 0.2)
    return model.eval()


def write_testdata():
    os.makedirs(TESTDATA, exist_ok=True)
    path = lambda name: os.path.join(TESTDATA, name)
    model = residual_gelu_net()
    images = torch.linspace(-1.0, 1.0, 2 * 3 * 32 * 32).reshape(2, 3, 32, 32)
    torch.jit.save(torch.jit.script(model), path("scripted_residual_gelu.pt"))
    torch.jit.save(torch.jit.trace(model, images), path("traced_residual_gelu.pt"))
    with torch.no_grad():
        torch.save({"input": images, "output": model(images)}, path("residual_gelu_forward.pt"))
    torch.jit.save(torch.jit.script(TupleForward()), path("tuple_forward.pt"))
    torch.save(model, path("pickled_module.pt"))
    torch.save(model.state_dict(), path("state_dict.pt"))


def write_mobilenet_v2(path):
    import torchvision

    torch.manual_seed(0)
    model = torchvision.models.mobilenet_v2(num_classes=10)
    stem = model.features[0][0]
    model.features[0][0] = nn.Conv2d(1, stem.out_channels, stem.kernel_size, stem.stride,
                                     stem.padding, bias=False)
    torch.jit.save(torch.jit.script(model), path)


def write_convnext(path):
    torch.manual_seed(0)
    model = SmallConvNext().eval()
    torch.jit.save(torch.jit.trace(model, torch.randn(8, 1, 28, 28)), path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mobilenet_v2", help="write the scripted MobileNetV2 here instead")
    parser.add_argument("--convnext", help="write the traced SmallConvNext here instead")
    args = parser.parse_args()
    if args.mobilenet_v2:
        write_mobilenet_v2(args.mobilenet_v2)
    elif args.convnext:
        write_convnext(args.convnext)
    else:
        write_testdata()


if __name__ == "__main__":
    main()
