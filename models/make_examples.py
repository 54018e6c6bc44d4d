#!/usr/bin/python3
"""Trains bitsmith's bundled example models on scikit-learn's digits data and exports them.

What it makes (under models/ by default; every file well under 2 MB):
  digits_cnn.onnx   trained CNN, input `x` f32 [batch,1,8,8] -> `logits` f32 [batch,10]:
                    Conv3x3 1->16 +BN+ReLU, Conv3x3 16->32 stride 2 +BN+ReLU (8x8 -> 4x4),
                    depthwise Conv3x3 32 (groups 32) +BN+ReLU, Conv1x1 32->32 +ReLU, Flatten,
                    Linear 512->64 +ReLU (node /fc/Gemm), Linear 64->10 (node /head/Gemm).
                    BatchNormalization nodes are kept in the graph (fold-batchnorm has work).
  digits_mlp.onnx   trained MLP, input `x` f32 [batch,64] -> `logits` f32 [batch,10]:
                    Linear 64->128 +ReLU, Linear 128->64 +ReLU, Linear 64->10 (node /head/Gemm).
  digits/calib.npy        [256,1,8,8] f32  calibration rows
  digits/eval.npy         [540,1,8,8] f32  evaluation rows
  digits/eval_labels.npy  [540] int64      their class ids
  digits/calib_flat.npy, digits/eval_flat.npy   the same rows as [N,64] f32 (for the MLP)
  digits/digits_cnn.torch_logits.npy, digits/digits_mlp.torch_logits.npy
                          [540,10] f32 torch's logits on the evaluation rows (eval mode)

Data: sklearn.datasets.load_digits() (1797 8x8 grey images with values 0..16, shipped inside
python3-sklearn; no network). Pixels are divided by 16 (range [0,1]) and stored as float32.
The rows are shuffled once with a fixed seed and split into three disjoint sets:
calibration 256, evaluation 540, training the remaining 1001.

Deterministic: fixed seeds, torch.use_deterministic_algorithms(True), one thread; re-running
with the same torch/numpy/sklearn versions writes the same bytes. Takes about 10-20 s on one CPU
core (Debian python3-torch 1.13, most of it the CNN's 40 training epochs).

Usage:
  /usr/bin/python3 models/make_examples.py                 # -> models/
  /usr/bin/python3 models/make_examples.py --out-dir DIR   # -> DIR (and DIR/digits/)
  /usr/bin/python3 models/make_examples.py --check         # then compare the exports with
      bitsmith's runtime (build/release/bitsmith, or --bitsmith PATH) and ONNX Runtime
      (node scripts/ort_run.js), and quantize digits_cnn to int8 once (a few more seconds)
"""

import argparse
import json
import os
import random
import subprocess
import tempfile
import time
import warnings

import numpy as np
import onnx
import torch
from torch import nn
from sklearn.datasets import load_digits

kSeed = 20240611
kCalibRows = 256
kEvalRows = 540
kOpset = 13


# ----------------------------------------------------------------------------------------------
# data


def split_digits():
    """Returns dict of float32 images [N,1,8,8] in [0,1] and int64 labels for the three splits."""
    d = load_digits()
    x = (d.data.astype(np.float32) / np.float32(16.0)).reshape(-1, 1, 8, 8)
    y = d.target.astype(np.int64)
    order = np.random.RandomState(kSeed).permutation(len(x))
    calib = order[:kCalibRows]
    evl = order[kCalibRows:kCalibRows + kEvalRows]
    train = order[kCalibRows + kEvalRows:]
    assert not (set(calib) & set(evl)) and not (set(train) & (set(calib) | set(evl)))
    return {
        "calib": (np.ascontiguousarray(x[calib]), y[calib]),
        "eval": (np.ascontiguousarray(x[evl]), y[evl]),
        "train": (np.ascontiguousarray(x[train]), y[train]),
    }


# ----------------------------------------------------------------------------------------------
# models


class ConvBnRelu(nn.Sequential):
    def __init__(self, cin, cout, stride=1, groups=1):
        super().__init__(
            nn.Conv2d(cin, cout, 3, stride=stride, padding=1, groups=groups, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(),
        )


class DigitsCnn(nn.Module):
    """[N,1,8,8] -> [N,10] logits."""

    def __init__(self):
        super().__init__()
        self.conv1 = ConvBnRelu(1, 16)               # 16x8x8
        self.conv2 = ConvBnRelu(16, 32, stride=2)    # 32x4x4
        self.dw = ConvBnRelu(32, 32, groups=32)      # 32x4x4 depthwise
        self.pw = nn.Conv2d(32, 32, 1)               # 32x4x4 pointwise (with bias, no BN)
        self.fc = nn.Linear(32 * 4 * 4, 64)
        self.head = nn.Linear(64, 10)

    def forward(self, x):
        x = torch.relu(self.pw(self.dw(self.conv2(self.conv1(x)))))
        x = torch.relu(self.fc(torch.flatten(x, 1)))
        return self.head(x)


class DigitsMlp(nn.Module):
    """[N,64] -> [N,10] logits."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(64, 128)
        self.fc2 = nn.Linear(128, 64)
        self.head = nn.Linear(64, 10)

    def forward(self, x):
        return self.head(torch.relu(self.fc2(torch.relu(self.fc1(x)))))


def train(model, x, y, epochs, lr, batch=32):
    """Adam + cosine learning-rate decay, cross-entropy; shuffles with a seeded generator."""
    gen = torch.Generator().manual_seed(kSeed)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(len(xt), generator=gen)
        for i in range(0, len(xt), batch):
            idx = perm[i:i + batch]
            opt.zero_grad()
            loss = loss_fn(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
        sched.step()
    model.eval()


def export(model, example, path):
    """Exports in eval mode with a dynamic batch axis named "batch".

    torch 1.13's EVAL export folds BatchNormalization into the preceding Conv; PRESERVE (with
    the model already in eval()) keeps the BatchNormalization nodes, which is what the example
    wants (bitsmith's fold-batchnorm pass has work to do). Constant folding stays on; torch warns
    that folding may mutate parameters in PRESERVE mode, which only applies to a model in
    training mode, so that one warning is silenced.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="It is recommended that constant folding")
        torch.onnx.export(
            model, (example,), path,
            opset_version=kOpset,
            input_names=["x"],
            output_names=["logits"],
            dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}},
            do_constant_folding=True,
            training=torch.onnx.TrainingMode.PRESERVE,
        )
    m = onnx.load(path)
    onnx.checker.check_model(m, full_check=True)
    ops = {}
    for n in m.graph.node:
        ops[n.op_type] = ops.get(n.op_type, 0) + 1
    return m, ops


def top1(logits, labels):
    return float((logits.argmax(1) == labels).mean() * 100.0)


# ----------------------------------------------------------------------------------------------
# --check: the exported files against bitsmith's runtime and ONNX Runtime


def run_json(cmd):
    """Runs cmd (a list), returns its stdout parsed as JSON; raises with stderr on failure."""
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stderr}")
    return json.loads(r.stdout)


def check(out_dir, repo, bitsmith):
    """Compares bitsmith and ORT with torch's logits; quantizes digits_cnn to int8 (static, QDQ,
    like recipes/digits_int8.json) and reports its accuracy, size and latency. Raises when a
    runtime disagrees with torch."""
    data = os.path.join(out_dir, "digits")
    labels = os.path.join(data, "eval_labels.npy")
    ye = np.load(labels)
    ort_run = os.path.join(repo, "scripts", "ort_run.js")
    with tempfile.TemporaryDirectory(prefix="digits_check_") as tmp:
        check_in(out_dir, bitsmith, data, labels, ye, ort_run, tmp)


def check_in(out_dir, bitsmith, data, labels, ye, ort_run, tmp):
    """check()'s body; scratch files go to tmp."""
    for name, inputs in [("digits_cnn", "eval.npy"), ("digits_mlp", "eval_flat.npy")]:
        model = os.path.join(out_dir, name + ".onnx")
        x = os.path.join(data, inputs)
        ref = np.load(os.path.join(data, name + ".torch_logits.npy"))
        ev = run_json([bitsmith, "-q", "eval", model, "--data", x, "--labels", labels, "--json"])
        run_dir = os.path.join(tmp, name + "_bitsmith")
        subprocess.run([bitsmith, "-q", "run", model, "--input", x, "--output-dir", run_dir],
                       check=True, capture_output=True)
        bs = np.load(os.path.join(run_dir, "logits.npy"))
        line = (f"check {name}: torch top-1 {top1(ref, ye):.2f}%, bitsmith eval top-1 "
                f"{ev['top1'] * 100:.2f}%, bitsmith run max |diff| {np.abs(bs - ref).max():.2e}")
        if abs(ev["top1"] * 100 - top1(ref, ye)) > 1e-9:
            raise RuntimeError(line + ": top-1 differs")
        for level in ["all", "disabled"]:
            od = os.path.join(tmp, f"{name}_ort_{level}")
            subprocess.run(["node", ort_run, model, "--input", "x=" + x, "--output-dir", od,
                            "--opt-level", level], check=True, capture_output=True)
            diff = np.abs(np.load(os.path.join(od, "logits.npy")) - ref).max()
            line += f", ORT({level}) max |diff| {diff:.2e}"
            if diff > 1e-4:
                raise RuntimeError(line + ": ORT differs from torch")
        print(line)

    # The int8 quantization of recipes/digits_int8.json, through the `quantize` shortcut.
    cnn = os.path.join(out_dir, "digits_cnn.onnx")
    q = os.path.join(tmp, "digits_cnn_int8.onnx")
    run_json([bitsmith, "-q", "quantize", cnn, "-o", q, "--calib", os.path.join(data, "calib.npy"),
              "--weights", "int8", "--granularity", "per-channel", "--activations", "static",
              "--observer", "percentile", "--format", "qdq", "--exclude", "*head*", "--json"])
    ev = run_json([bitsmith, "-q", "eval", q, "--data", os.path.join(data, "eval.npy"),
                   "--labels", labels, "--reference", cnn, "--json"])
    before, after = os.path.getsize(cnn), os.path.getsize(q)
    print(f"check digits_cnn int8 static (percentile, QDQ, head float): "
          f"top-1 {ev['top1'] * 100:.2f}%, "
          f"agreement {ev['top1_agreement'] * 100:.2f}%, kld_mean {ev['kld_mean']:.2e}, "
          f"{before} -> {after} bytes (ratio {before / after:.2f})")
    # Informative only (not asserted): timings depend on the machine and its load.
    b = run_json([bitsmith, "-q", "bench", cnn, q, "--threads", "1", "--batch", "1",
                  "--warmup", "50", "--iters", "1000", "--json"])
    p50 = [m["p50_ms"] for m in b["models"]]
    print(f"check digits_cnn latency (bitsmith bench, batch 1, 1 thread): "
          f"float p50 {p50[0]:.3f} ms, "
          f"int8 p50 {p50[1]:.3f} ms (ratio {p50[1] / p50[0]:.2f})")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out-dir", default=os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--check", action="store_true",
                    help="afterwards compare with bitsmith's runtime and ONNX Runtime (node)")
    ap.add_argument("--bitsmith", default=None,
                    help="bitsmith binary for --check (default: build/release/bitsmith)")
    args = ap.parse_args()
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

    t0 = time.time()
    random.seed(kSeed)
    np.random.seed(kSeed)
    torch.manual_seed(kSeed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)

    data_dir = os.path.join(args.out_dir, "digits")
    os.makedirs(data_dir, exist_ok=True)
    s = split_digits()
    xc, _ = s["calib"]
    xe, ye = s["eval"]
    xt, yt = s["train"]
    np.save(os.path.join(data_dir, "calib.npy"), xc)
    np.save(os.path.join(data_dir, "eval.npy"), xe)
    np.save(os.path.join(data_dir, "eval_labels.npy"), ye)
    np.save(os.path.join(data_dir, "calib_flat.npy"), xc.reshape(len(xc), 64))
    np.save(os.path.join(data_dir, "eval_flat.npy"), xe.reshape(len(xe), 64))
    print(f"digits: train {len(xt)}, calibration {len(xc)}, evaluation {len(xe)} rows")

    specs = [
        ("digits_cnn", DigitsCnn, xt, xe, 40, 3e-3),
        ("digits_mlp", DigitsMlp, xt.reshape(len(xt), 64), xe.reshape(len(xe), 64), 60, 2e-3),
    ]
    for name, cls, xtr, xev, epochs, lr in specs:
        torch.manual_seed(kSeed)
        model = cls()
        t = time.time()
        train(model, xtr, yt, epochs, lr)
        with torch.no_grad():
            logits = model(torch.from_numpy(xev)).numpy()
        np.save(os.path.join(data_dir, name + ".torch_logits.npy"), logits)
        path = os.path.join(args.out_dir, name + ".onnx")
        with torch.no_grad():
            _, ops = export(model, torch.from_numpy(xev[:2]), path)
        if isinstance(model, DigitsCnn) and ops.get("BatchNormalization", 0) != 3:
            raise RuntimeError(f"{path}: expected 3 BatchNormalization nodes, got {ops}")
        params = sum(p.numel() for p in model.parameters())
        print(f"{name}: eval top-1 {top1(logits, ye):.2f}% "
              f"({epochs} epochs, {time.time() - t:.1f} s), "
              f"{params} parameters, {os.path.getsize(path)} bytes, ops {ops}")
    print(f"done in {time.time() - t0:.1f} s")
    if args.check:
        bitsmith = args.bitsmith or os.path.join(repo, "build", "release", "bitsmith")
        check(args.out_dir, repo, bitsmith)


if __name__ == "__main__":
    main()
