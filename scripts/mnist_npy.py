#!/usr/bin/python3
"""Writes chosen rows of the MNIST test set as .npy files (dev tool; python3 + numpy only).

The repository holds no MNIST data. Tests, benchmarks and models/make_lenet.py read the original
gzipped IDX files from ../shared/data/mnist (relative to the repository root; see PROVENANCE.md
there) and call this script, or import read_mnist() from it, to materialise the rows they need,
normally in a temporary directory.

  x        float32 [N,784] (or [N,1,28,28] with --layout nchw): pixel / 255, so in [0,1];
           no mean/std normalisation. Row-major 28x28, the IDX order.
  labels   int64 [N], class ids 0..9.

Split used by models/lenet_300_100.onnx (see models/README.md):
  rows 0..7999      training (models/make_lenet.py); never use them to score that model
  rows 8000..9999   held out: evaluation (all 2000)
  calibration       training rows 0..4095 (inputs only; passes never see labels)

Usage:
  /usr/bin/python3 scripts/mnist_npy.py --out-dir DIR                       # rows 8000:10000
  /usr/bin/python3 scripts/mnist_npy.py --out-dir DIR --rows 0:4096 --name calib
  /usr/bin/python3 scripts/mnist_npy.py --out-dir DIR --layout nchw --name eval_nchw
  options: --rows START:STOP (Python slice of the 10,000 test rows, default 8000:10000),
           --name NAME (files DIR/NAME.npy and DIR/NAME_labels.npy; default "eval"),
           --mnist-dir DIR (default: ../shared/data/mnist next to the repository).
Prints one line per file written. Exit code 0 ok, 1 bad arguments, 2 unreadable/malformed data.
"""

import argparse
import gzip
import os
import sys

import numpy as np

kImages = "t10k-images-idx3-ubyte.gz"
kLabels = "t10k-labels-idx1-ubyte.gz"
kRows = 10000
kSide = 28


def default_mnist_dir():
    """../shared/data/mnist relative to the repository root (this file is scripts/mnist_npy.py)."""
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return os.path.normpath(os.path.join(repo, "..", "shared", "data", "mnist"))


def _read_idx(path, magic, dims):
    """Reads a gzipped big-endian IDX file; checks its magic and every dimension in `dims`
    (the first is the item count). Returns uint8 array of shape dims. Raises ValueError naming
    the file and the mismatch."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    header = 4 + 4 * len(dims)
    if len(raw) < header:
        raise ValueError(f"{path}: {len(raw)} bytes, shorter than the {header}-byte IDX header")
    got_magic = int.from_bytes(raw[0:4], "big")
    if got_magic != magic:
        raise ValueError(f"{path}: IDX magic 0x{got_magic:08x}, expected 0x{magic:08x}")
    got = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(len(dims))]
    if got != list(dims):
        raise ValueError(f"{path}: IDX dimensions {got}, expected {list(dims)}")
    n = int(np.prod(dims))
    if len(raw) - header != n:
        raise ValueError(f"{path}: {len(raw) - header} data bytes after the header, expected {n}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def read_mnist(start=0, stop=kRows, mnist_dir=None, layout="flat"):
    """Returns (x, labels) for test rows [start, stop): x float32 [N,784] ("flat") or
    [N,1,28,28] ("nchw") with values pixel/255 in [0,1]; labels int64 [N]."""
    if not 0 <= start < stop <= kRows:
        raise ValueError(f"rows {start}:{stop}: need 0 <= START < STOP <= {kRows}")
    if layout not in ("flat", "nchw"):
        raise ValueError(f"layout '{layout}': expected flat or nchw")
    d = mnist_dir or default_mnist_dir()
    images = _read_idx(os.path.join(d, kImages), 0x00000803, (kRows, kSide, kSide))
    labels = _read_idx(os.path.join(d, kLabels), 0x00000801, (kRows,))
    x = images[start:stop].astype(np.float32) / np.float32(255.0)
    shape = (stop - start, kSide * kSide) if layout == "flat" else (stop - start, 1, kSide, kSide)
    return np.ascontiguousarray(x.reshape(shape)), labels[start:stop].astype(np.int64)


def parse_rows(text):
    """'START:STOP' -> (start, stop); raises ValueError."""
    parts = text.split(":")
    if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
        raise ValueError(f"--rows {text}: expected START:STOP, e.g. 8000:10000")
    return int(parts[0]), int(parts[1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out-dir", required=True, help="created if missing")
    ap.add_argument("--rows", default="8000:10000", help="START:STOP of the 10,000 test rows")
    ap.add_argument("--name", default="eval", help="writes NAME.npy and NAME_labels.npy")
    ap.add_argument("--layout", default="flat", choices=["flat", "nchw"])
    ap.add_argument("--mnist-dir", default=None, help="default: ../shared/data/mnist")
    args = ap.parse_args()
    try:
        start, stop = parse_rows(args.rows)
        if not 0 <= start < stop <= kRows:
            raise ValueError(f"--rows {args.rows}: need 0 <= START < STOP <= {kRows}")
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    try:
        x, y = read_mnist(start, stop, args.mnist_dir, args.layout)
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    os.makedirs(args.out_dir, exist_ok=True)
    for suffix, arr in [("", x), ("_labels", y)]:
        path = os.path.join(args.out_dir, args.name + suffix + ".npy")
        np.save(path, arr)
        print(f"{path}: {arr.dtype} {list(arr.shape)} (rows {start}:{stop})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
