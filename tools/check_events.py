#!/usr/bin/env python3
"""Reads a run's TensorBoard event file back and compares it with the run's metrics.jsonl.

    python3 tools/check_events.py <output_dir>

Every record's TFRecord framing is checked (masked CRC-32C of the length and of the data),
every Event is decoded, and each per-epoch value of metrics.jsonl (train_loss, train_accuracy,
test_loss, test_accuracy, lr) must appear, in epoch order, under its tag (train/loss, ...) as
the same float32. Prints one line per tag and exits non-zero on any difference. Standard
library only, so it runs wherever Python does, without TensorBoard or protobuf.

The messages decoded are those of serialization/tensorboard_event.proto.
"""

import glob
import json
import os
import struct
import sys

TAG_OF_FIELD = {
    "train_loss": "train/loss",
    "train_accuracy": "train/accuracy",
    "test_loss": "test/loss",
    "test_accuracy": "test/accuracy",
    "lr": "lr",
}


def _crc32c_table():
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _crc32c_table()


def masked_crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    crc ^= 0xFFFFFFFF
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def read_records(path):
    """Yields the data of each TFRecord of `path`, checking both CRCs."""
    data = open(path, "rb").read()
    offset = 0
    while offset < len(data):
        if offset + 12 > len(data):
            raise ValueError(f"{path}: truncated record header at offset {offset}")
        header = data[offset:offset + 8]
        (length,) = struct.unpack("<Q", header)
        (length_crc,) = struct.unpack("<I", data[offset + 8:offset + 12])
        if length_crc != masked_crc32c(header):
            raise ValueError(f"{path}: bad length CRC at offset {offset}")
        end = offset + 12 + length
        if end + 4 > len(data):
            raise ValueError(f"{path}: truncated record at offset {offset}")
        record = data[offset + 12:end]
        (data_crc,) = struct.unpack("<I", data[end:end + 4])
        if data_crc != masked_crc32c(record):
            raise ValueError(f"{path}: bad data CRC at offset {offset}")
        yield record
        offset = end + 4


def _varint(buf, pos):
    value = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def fields(buf):
    """Yields (field number, wire type, value) of a protobuf message."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            length, pos = _varint(buf, pos)
            value, pos = buf[pos:pos + length], pos + length
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        yield number, wire, value


def scalars(path):
    """Returns {tag: [(step, value), ...]} of the simple values of an event file."""
    by_tag = {}
    for record in read_records(path):
        step, summary = 0, None
        for number, _, value in fields(record):
            if number == 2:
                step = value
            elif number == 5:
                summary = value
        if summary is None:
            continue
        for number, _, value in fields(summary):
            if number != 1:
                continue
            tag, simple = None, None
            for inner, _, inner_value in fields(value):
                if inner == 1:
                    tag = inner_value.decode()
                elif inner == 2:
                    (simple,) = struct.unpack("<f", inner_value)
            if tag is not None and simple is not None:
                by_tag.setdefault(tag, []).append((step, simple))
    return by_tag


def as_float32(value):
    return struct.unpack("<f", struct.pack("<f", value))[0]


def main(argv):
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    run = argv[1]
    event_files = sorted(glob.glob(os.path.join(run, "events.out.tfevents.*")))
    if not event_files:
        print(f"{run}: no events.out.tfevents.* file", file=sys.stderr)
        return 1
    by_tag = {}
    for path in event_files:
        for tag, points in scalars(path).items():
            by_tag.setdefault(tag, []).extend(points)
    with open(os.path.join(run, "metrics.jsonl")) as metrics_file:
        epochs = [json.loads(line) for line in metrics_file if line.strip()]
    failed = False
    for field, tag in TAG_OF_FIELD.items():
        expected = [as_float32(epoch[field]) for epoch in epochs]
        logged = [value for _, value in sorted(by_tag.get(tag, []))]
        same = logged == expected
        failed |= not same
        print(f"{tag}: {len(logged)} values in the event file, {len(expected)} in metrics.jsonl, "
              f"{'equal' if same else 'DIFFERENT'}: {' '.join(f'{v:.4f}' for v in logged)}")
    steps = by_tag.get("train/step_loss", [])
    print(f"train/step_loss: {len(steps)} points, steps {steps[0][0] if steps else '-'}.."
          f"{steps[-1][0] if steps else '-'}")
    print(f"{len(event_files)} event file(s), {sum(len(p) for p in by_tag.values())} scalars, "
          f"{len(by_tag)} tags; every CRC checked")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
