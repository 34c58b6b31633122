#!/usr/bin/env python3
"""Float training of ResNet-20 on Fashion-MNIST in plain PyTorch, the way a Python user writes
it: the comparison point of tools/compare_python.sh for `cifar_diffq --method=float`.

The recipe is the project's baseline (experiments/experiment_main.cc): batch 128, SGD with
Nesterov momentum 0.9, weight decay 5e-4, lr 0.1 on a per-step cosine schedule over the
steps trained (as the runner's with --max_train_batches), no augmentation, images normalized with the training set's mean and std. The model is
nn_models' resnet20 (projection shortcuts, Kaiming-normal convolutions). The whole training
split is decoded and normalized before the clock starts; the timed loop is batches only,
as the epoch line of the C++ binaries counts them.

Needs Debian's python3-torch only (no third-party package):
  python3 tools/plain_pytorch_training.py --threads=2 --steps=200
Prints one line: images_per_second=... train_seconds=... test_accuracy=...
"""
import argparse
import gzip
import math
import os
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

MEAN, STD = 0.2860, 0.3530  # data/dataset_info.cc, fashion_mnist


def read_idx(path):
    """An IDX file of Fashion-MNIST: uint8 images (N, 1, 28, 28) or int64 labels (N)."""
    with gzip.open(path) as f:
        data = f.read()
    count = int.from_bytes(data[4:8], "big")
    if data[3] == 3:  # images: magic, count, rows, cols
        return torch.frombuffer(bytearray(data[16:]), dtype=torch.uint8).view(count, 1, 28, 28)
    return torch.frombuffer(bytearray(data[8:]), dtype=torch.uint8).to(torch.int64)


def load_split(data_dir, prefix):
    images = read_idx(os.path.join(data_dir, f"{prefix}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte.gz"))
    return (images.float() / 255 - MEAN) / STD, labels


def conv3x3(cin, cout, stride):
    return nn.Conv2d(cin, cout, 3, stride, 1, bias=False)


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1, self.bn1 = conv3x3(cin, cout, stride), nn.BatchNorm2d(cout)
        self.conv2, self.bn2 = conv3x3(cout, cout, 1), nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                            nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (x if self.downsample is None else self.downsample(x)))


class ResNet20(nn.Module):
    def __init__(self, in_channels=1, num_classes=10):
        super().__init__()
        self.conv1, self.bn1 = conv3x3(in_channels, 16, 1), nn.BatchNorm2d(16)
        blocks, cin = [], 16
        for cout, stride in ((16, 1), (32, 2), (64, 2)):
            for i in range(3):
                blocks.append(BasicBlock(cin, cout, stride if i == 0 else 1))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(64, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = self.blocks(F.relu(self.bn1(self.conv1(x))))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=0, help="batches to train (0: one epoch)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data_dir", default="/usr/share/datasets/fashion-mnist")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    train_x, train_y = load_split(args.data_dir, "train")
    test_x, test_y = load_split(args.data_dir, "t10k")

    model = ResNet20()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True,
                                weight_decay=5e-4)
    batches = math.ceil(len(train_x) / 128)
    steps = min(args.steps, batches) if args.steps > 0 else batches
    order = torch.randperm(len(train_x), generator=torch.Generator().manual_seed(args.seed))
    model.train()
    start = time.perf_counter()
    for step in range(steps):
        index = order[step * 128:(step + 1) * 128]
        for group in optimizer.param_groups:
            group["lr"] = 0.1 * (1 + math.cos(math.pi * step / steps)) / 2
        loss = F.cross_entropy(model(train_x[index]), train_y[index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    seconds = time.perf_counter() - start
    images = sum(min(128, len(train_x) - s * 128) for s in range(steps))

    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(test_x), 500):
            correct += (model(test_x[i:i + 500]).argmax(1) == test_y[i:i + 500]).sum().item()
    print(f"images_per_second={images / seconds:.1f} train_seconds={seconds:.1f} "
          f"test_accuracy={correct / len(test_x):.4f}")


if __name__ == "__main__":
    main()
