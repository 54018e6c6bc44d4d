#!/usr/bin/python3
"""int8 static (QDQ) against fp32 latency in bitsmith's runtime, with ONNX Runtime int8/fp32 on the
same files in the same run (issue 4, section 7).

Generates (numpy + onnx.helper, seeded) into a scratch folder:
  mlp_fp32 / mlp_int8: x [N, 1024] -> 4 x Gemm(1024 -> 1024, transB=1, bias) with Relu between
  cnn_fp32 / cnn_int8: x [N, 3, 64, 64] -> Conv3x3 3->32, 32->64 /2, 64->64, 64->128 /2,
      128->128 (pads 1, Relu each) -> GlobalAveragePool -> Flatten -> Gemm 128 -> 10 (f32 tail)
The int8 models are complete QDQ units in the ORT QDQ style: activations u8 (zero point 0 after a
Relu, asymmetric otherwise), weights symmetric per-channel int8 restricted to 7 bits (|q| <= 63,
reduce_range, which avoids the int16 saturation of u8 x s8 kernels on AVX2 without VNNI), bias
int32 with scale x_scale * w_scale. Activation ranges: min/max of the fp32 model on 8 seeded
random batches.

Timing: for each (pair, batch), R rounds; each round runs, in alternating order,
  bitsmith bench FP32 INT8 --batch N --threads T --json   (one process, the two interleaved)
  node scripts/ort_bench.js FP32 / INT8 (one process each)
Output: JSON on stdout (raw rounds, medians of p50, ratios int8/fp32); a table on stderr.

Usage: benchmarks/int8_bench.py BITSMITH [--threads 1] [--batches 1,32] [--rounds 3]
           [--warmup 3] [--iters 20] [--model-dir DIR] [--only mlp,cnn]
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

kRepo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ---------------------------------------------------------------- model building
class Net:
    """A chain of layers: ('gemm', W [out,in], b) or ('conv', W [M,C,3,3], b, stride), relu flag."""

    def __init__(self, layers, tail=None):
        self.layers = layers
        self.tail = tail  # cnn: (W [10,128], b) after GlobalAveragePool + Flatten


def make_mlp(rng, width=1024, depth=4):
    layers = []
    for i in range(depth):
        w = (rng.standard_normal((width, width)) / np.sqrt(width)).astype(np.float32)
        b = (0.01 * rng.standard_normal(width)).astype(np.float32)
        layers.append(("gemm", w, b, 1, i + 1 < depth))
    return Net(layers)


def make_cnn(rng):
    spec = [(3, 32, 1), (32, 64, 2), (64, 64, 1), (64, 128, 2), (128, 128, 1)]
    layers = []
    for c, m, s in spec:
        w = (rng.standard_normal((m, c, 3, 3)) / np.sqrt(c * 9)).astype(np.float32)
        b = (0.01 * rng.standard_normal(m)).astype(np.float32)
        layers.append(("conv", w, b, s, True))
    tail = ((rng.standard_normal((10, 128)) / np.sqrt(128)).astype(np.float32), np.zeros(10, np.float32))
    return Net(layers, tail)


def conv2d(x, w, b, s):
    n, c, h, wd = x.shape
    m = w.shape[0]
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    oh, ow = (h + 2 - 3) // s + 1, (wd + 2 - 3) // s + 1
    cols = np.empty((n, c, 3, 3, oh, ow), np.float32)
    for ky in range(3):
        for kx in range(3):
            cols[:, :, ky, kx] = xp[:, :, ky:ky + s * oh:s, kx:kx + s * ow:s]
    y = np.einsum("mk,nkp->nmp", w.reshape(m, -1), cols.reshape(n, c * 9, oh * ow))
    return y.reshape(n, m, oh, ow) + b[None, :, None, None]


def forward_ranges(net, xs):
    """min/max of the input and of every layer output (after Relu) over the batches."""
    lo = [np.inf] * (len(net.layers) + 1)
    hi = [-np.inf] * (len(net.layers) + 1)
    for x in xs:
        lo[0], hi[0] = min(lo[0], x.min()), max(hi[0], x.max())
        for i, (kind, w, b, s, relu) in enumerate(net.layers):
            x = x @ w.T + b if kind == "gemm" else conv2d(x, w, b, s)
            if relu:
                x = np.maximum(x, 0)
            lo[i + 1], hi[i + 1] = min(lo[i + 1], x.min()), max(hi[i + 1], x.max())
    return lo, hi


def act_qparams(lo, hi):
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    scale = np.float32((hi - lo) / 255.0 or 1.0)
    zp = int(np.clip(np.round(-lo / scale), 0, 255))
    return scale, zp


def build(net, x_shape, quant, ranges):
    nodes, inits = [], []

    def init(name, arr):
        inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    x = "x"
    if quant:
        s, z = act_qparams(ranges[0][0], ranges[1][0])
        init("x_s", np.float32(s))
        init("x_z", np.uint8(z))
        nodes.append(helper.make_node("QuantizeLinear", ["x", "x_s", "x_z"], ["x_q"]))
        nodes.append(helper.make_node("DequantizeLinear", ["x_q", "x_s", "x_z"], ["x_dq"]))
        x, x_scale = "x_dq", s
    for i, (kind, w, b, s, relu) in enumerate(net.layers):
        op = "Gemm" if kind == "gemm" else "Conv"
        attrs = {"transB": 1} if kind == "gemm" else {"pads": [1, 1, 1, 1], "strides": [s, s], "kernel_shape": [3, 3]}
        y = f"y{i}"
        if quant:
            flat = w.reshape(w.shape[0], -1)
            w_scale = (np.abs(flat).max(axis=1) / 63.0).astype(np.float32)  # 7-bit symmetric per channel
            wq = np.clip(np.round(flat / w_scale[:, None]), -63, 63).astype(np.int8).reshape(w.shape)
            init(f"w{i}_q", wq)
            init(f"w{i}_s", w_scale)
            init(f"w{i}_z", np.zeros(w.shape[0], np.int8))
            nodes.append(helper.make_node("DequantizeLinear", [f"w{i}_q", f"w{i}_s", f"w{i}_z"], [f"w{i}"], axis=0))
            b_scale = (np.float32(x_scale) * w_scale).astype(np.float32)
            init(f"b{i}_q", np.round(b / b_scale).astype(np.int32))
            init(f"b{i}_s", b_scale)
            nodes.append(helper.make_node("DequantizeLinear", [f"b{i}_q", f"b{i}_s"], [f"b{i}"], axis=0))
        else:
            init(f"w{i}", w)
            init(f"b{i}", b)
        nodes.append(helper.make_node(op, [x, f"w{i}", f"b{i}"], [y], **attrs))
        if relu:
            nodes.append(helper.make_node("Relu", [y], [y + "_r"]))
            y = y + "_r"
        if quant:
            s_y, z_y = act_qparams(0.0 if relu else ranges[0][i + 1], ranges[1][i + 1])
            init(f"y{i}_s", np.float32(s_y))
            init(f"y{i}_z", np.uint8(z_y))
            nodes.append(helper.make_node("QuantizeLinear", [y, f"y{i}_s", f"y{i}_z"], [f"y{i}_q"]))
            nodes.append(helper.make_node("DequantizeLinear", [f"y{i}_q", f"y{i}_s", f"y{i}_z"], [f"y{i}_dq"]))
            y, x_scale = f"y{i}_dq", s_y
        x = y
    if net.tail is not None:
        init("fc_w", net.tail[0])
        init("fc_b", net.tail[1])
        nodes.append(helper.make_node("GlobalAveragePool", [x], ["gap"]))
        nodes.append(helper.make_node("Flatten", ["gap"], ["flat"]))
        nodes.append(helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["out"], transB=1))
        x = "out"
    nodes.append(helper.make_node("Identity", [x], ["y"]))
    out_dim = net.tail[0].shape[0] if net.tail is not None else net.layers[-1][1].shape[0]
    graph = helper.make_graph(nodes, "int8_bench", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N"] + list(x_shape[1:]))],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", out_dim])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="bitsmith-int8-bench")
    model.ir_version = 7
    onnx.checker.check_model(model)
    return model


def generate(model_dir, only):
    rng = np.random.default_rng(2024)
    made = {}
    for name in only:
        net, shape = (make_mlp(rng), (8, 1024)) if name == "mlp" else (make_cnn(rng), (2, 3, 64, 64))
        calib = [rng.uniform(-1, 1, shape).astype(np.float32) for _ in range(8)]
        ranges = forward_ranges(net, calib)
        for quant in (False, True):
            path = os.path.join(model_dir, f"{name}_{'int8' if quant else 'fp32'}.onnx")
            onnx.save(build(net, shape, quant, ranges), path)
        made[name] = (os.path.join(model_dir, f"{name}_fp32.onnx"), os.path.join(model_dir, f"{name}_int8.onnx"))
    return made


# ---------------------------------------------------------------- timing
def run_json(cmd):
    proc = subprocess.run(cmd, cwd=kRepo, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"int8_bench: {' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr.strip()}")
    return json.loads(proc.stdout)


def time_bitsmith(args, fp32, int8, batch):
    out = run_json([args.bitsmith, "bench", fp32, int8, "--batch", str(batch), "--threads", str(args.threads),
                    "--warmup", str(args.warmup), "--iters", str(args.iters), "--json"])
    return [(m["p50_ms"], m["min_ms"]) for m in out["models"]]


def time_ort(args, model, batch):
    out = run_json(["node", os.path.join(kRepo, "scripts", "ort_bench.js"), model, "--batch", str(batch),
                    "--threads", str(args.threads), "--warmup", str(args.warmup), "--iters", str(args.iters)])
    args.ort_version = out.get("version")
    return (out["p50_ms"], out["min_ms"])


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("bitsmith")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batches", default="1,32")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--only", default="mlp,cnn")
    ap.add_argument("--model-dir")
    ap.add_argument("--no-ort", action="store_true", help="time bitsmith only")
    args = ap.parse_args(argv)
    args.bitsmith = os.path.abspath(args.bitsmith)
    args.ort_version = None
    model_dir = args.model_dir or tempfile.mkdtemp(prefix="bitsmith_int8_")
    os.makedirs(model_dir, exist_ok=True)
    results = []
    try:
        models = generate(model_dir, [m for m in args.only.split(",") if m])
        for name, (fp32, int8) in models.items():
            for batch in [int(b) for b in args.batches.split(",") if b]:
                raw = {"bitsmith_fp32": [], "bitsmith_int8": [], "ort_fp32": [], "ort_int8": []}
                for r in range(args.rounds):
                    order = ["bitsmith", "ort"] if r % 2 == 0 else ["ort", "bitsmith"]
                    for runtime in order:
                        if runtime == "bitsmith":
                            f, q = time_bitsmith(args, fp32, int8, batch)
                            raw["bitsmith_fp32"].append(f)
                            raw["bitsmith_int8"].append(q)
                        elif not args.no_ort:
                            raw["ort_fp32"].append(time_ort(args, fp32, batch))
                            raw["ort_int8"].append(time_ort(args, int8, batch))
                med = {k: statistics.median(p for p, _ in v) for k, v in raw.items() if v}
                mins = {k: min(m for _, m in v) for k, v in raw.items() if v}
                entry = {"model": name, "batch": batch, "rounds": raw, "p50_ms": med, "min_ms": mins,
                         "bitsmith_int8_over_fp32_min": round(mins["bitsmith_int8"] / mins["bitsmith_fp32"], 4),
                         "bitsmith_int8_over_fp32": round(med["bitsmith_int8"] / med["bitsmith_fp32"], 4)}
                if "ort_int8" in med:
                    entry["ort_int8_over_fp32"] = round(med["ort_int8"] / med["ort_fp32"], 4)
                    entry["bitsmith_int8_over_ort_int8"] = round(med["bitsmith_int8"] / med["ort_int8"], 4)
                results.append(entry)
    finally:
        if not args.model_dir:
            shutil.rmtree(model_dir, ignore_errors=True)
    print(json.dumps({"threads": args.threads, "rounds": args.rounds, "iters": args.iters,
                      "onnxruntime_version": args.ort_version, "loadavg": os.getloadavg(), "results": results}, indent=2))
    for key in ("p50_ms", "min_ms"):
        print(f"\n{key}: {'model':<6} {'batch':>5} {'bs fp32':>9} {'bs int8':>9} {'ratio':>6} {'ort fp32':>9} {'ort int8':>9} "
              f"{'ratio':>6}", file=sys.stderr)
        for e in results:
            m = e[key]
            ort = (f"{m['ort_fp32']:>9.3f} {m['ort_int8']:>9.3f} {m['ort_int8'] / m['ort_fp32']:>6.2f}" if "ort_int8" in m else "")
            print(f"{'':<8}{e['model']:<6} {e['batch']:>5} {m['bitsmith_fp32']:>9.3f} {m['bitsmith_int8']:>9.3f} "
                  f"{m['bitsmith_int8'] / m['bitsmith_fp32']:>6.2f} {ort}", file=sys.stderr)
    print("p50_ms: median over rounds of each run's p50; min_ms: fastest single run (least disturbed by load).\n"
          "ratio = int8 / fp32 (goal for bitsmith: <= 0.6)", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
