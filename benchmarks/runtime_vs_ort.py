#!/usr/bin/python3
"""fp32 CPU latency of bitsmith's executor against ONNX Runtime on the same models.

Builds nothing. Generates the benchmark models (models/make_models.py --bench: resnet_bench, a
ResNet-style CNN on 3x64x64, and transformer_bench, one encoder block d_model 256 / 4 heads /
seq 64) into a scratch folder, then times each (model, batch) pair with
  BITSMITH bench MODEL --batch N --threads T --warmup W --iters I --json
  node scripts/ort_bench.js MODEL --batch N --threads T --warmup W --iters I
with the same thread count, interleaved: every round runs both once, and the order alternates
between rounds (bitsmith first in even rounds, ORT first in odd ones) so that machine drift hits
both alike. Each runtime gets its own process per measurement.

Output: one JSON object on stdout (every round's raw numbers and a summary per model and batch:
the median over rounds of p50_ms/p90_ms/p99_ms, the minimum of min_ms, and
ratio_p50 = bitsmith p50 / ORT p50, so < 1 means bitsmith is faster); a ratio table on stderr.

Usage:
  benchmarks/runtime_vs_ort.py build/release/bitsmith [--threads T] [--batches 1,32]
      [--rounds R] [--warmup W] [--iters I] [--models resnet_bench,transformer_bench]
      [--model-dir DIR] [--keep]
Requires: /usr/bin/python3 with torch (for make_models.py), node, and `npm install
--ignore-scripts` run once at the repo root (onnxruntime-node).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

kRepo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
kModels = ["resnet_bench", "transformer_bench"]


def run_json(cmd):
    """Runs cmd; returns its stdout parsed as JSON. Exits with the command's stderr on failure."""
    proc = subprocess.run(cmd, cwd=kRepo, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"runtime_vs_ort: {' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr.strip()}")
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError as e:
        sys.exit(f"runtime_vs_ort: {' '.join(cmd)}: stdout is not JSON ({e}):\n{proc.stdout[:500]}")


def time_bitsmith(args, model, batch):
    out = run_json([args.bitsmith, "bench", model, "--batch", str(batch), "--threads", str(args.threads),
                    "--warmup", str(args.warmup), "--iters", str(args.iters), "--json"])
    stats = out["models"][0] if "models" in out else out  # per-model entry of `bitsmith bench --json`
    return {k: stats[k] for k in ("min_ms", "p50_ms", "p90_ms", "p99_ms")}


def time_ort(args, model, batch):
    out = run_json(["node", os.path.join(kRepo, "scripts", "ort_bench.js"), model, "--batch", str(batch),
                    "--threads", str(args.threads), "--warmup", str(args.warmup), "--iters", str(args.iters)])
    args.ort_version = out.get("version")
    return {k: out[k] for k in ("min_ms", "p50_ms", "p90_ms", "p99_ms")}


def bitsmith_version(path):
    proc = subprocess.run([path, "--version"], capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else None


def summarize(rounds):
    return {
        "min_ms": min(r["min_ms"] for r in rounds),
        "p50_ms": statistics.median(r["p50_ms"] for r in rounds),
        "p90_ms": statistics.median(r["p90_ms"] for r in rounds),
        "p99_ms": statistics.median(r["p99_ms"] for r in rounds),
    }


def generate_models(args, model_dir):
    cmd = ["/usr/bin/python3", os.path.join(kRepo, "models", "make_models.py"), "--bench",
           "--out-dir", model_dir, "--only"] + args.models
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"runtime_vs_ort: generating models failed:\n{proc.stderr.strip()}")
    print(proc.stdout.strip(), file=sys.stderr)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("bitsmith", help="path of the release build's bitsmith executable")
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="threads for both runtimes")
    ap.add_argument("--batches", default="1,32", help="comma-separated batch sizes")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds per (model, batch)")
    ap.add_argument("--warmup", type=int, default=3, help="untimed runs per measurement")
    ap.add_argument("--iters", type=int, default=20, help="timed runs per measurement")
    ap.add_argument("--models", default=",".join(kModels), help="models from make_models.py --bench")
    ap.add_argument("--model-dir", help="where to write the models (default: a temporary folder)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary model folder")
    args = ap.parse_args(argv)
    args.bitsmith = os.path.abspath(args.bitsmith)
    args.models = [m for m in args.models.split(",") if m]
    batches = [int(b) for b in args.batches.split(",") if b]
    if not os.access(args.bitsmith, os.X_OK):
        sys.exit(f"runtime_vs_ort: {args.bitsmith} is not an executable")
    if args.threads < 1 or args.rounds < 1 or args.iters < 1:
        sys.exit("runtime_vs_ort: --threads, --rounds and --iters must be >= 1")

    args.ort_version = None
    model_dir = args.model_dir or tempfile.mkdtemp(prefix="bitsmith_bench_")
    os.makedirs(model_dir, exist_ok=True)
    try:
        generate_models(args, model_dir)
        results = []
        for name in args.models:
            model = os.path.join(model_dir, name + ".onnx")
            for batch in batches:
                raw = {"bitsmith": [], "onnxruntime": []}
                for r in range(args.rounds):
                    order = ["bitsmith", "onnxruntime"] if r % 2 == 0 else ["onnxruntime", "bitsmith"]
                    for runtime in order:
                        timer = time_bitsmith if runtime == "bitsmith" else time_ort
                        raw[runtime].append(timer(args, model, batch))
                entry = {"model": name, "batch": batch, "rounds": raw,
                         "bitsmith": summarize(raw["bitsmith"]), "onnxruntime": summarize(raw["onnxruntime"])}
                entry["ratio_p50"] = round(entry["bitsmith"]["p50_ms"] / entry["onnxruntime"]["p50_ms"], 4)
                results.append(entry)
                print(f"{name} batch {batch}: bitsmith p50 {entry['bitsmith']['p50_ms']:.3f} ms, "
                      f"ORT p50 {entry['onnxruntime']['p50_ms']:.3f} ms", file=sys.stderr)
    finally:
        if not args.model_dir and not args.keep:
            shutil.rmtree(model_dir, ignore_errors=True)

    report = {"threads": args.threads, "rounds": args.rounds, "warmup": args.warmup, "iters": args.iters,
              "bitsmith": args.bitsmith, "bitsmith_version": bitsmith_version(args.bitsmith),
              "onnxruntime_version": args.ort_version, "dtype": "f32", "results": results}
    print(json.dumps(report, indent=2))
    print(f"\n{'model':<20} {'batch':>5} {'bitsmith p50 ms':>16} {'ORT p50 ms':>12} {'ratio':>7}", file=sys.stderr)
    for e in results:
        print(f"{e['model']:<20} {e['batch']:>5} {e['bitsmith']['p50_ms']:>16.3f} "
              f"{e['onnxruntime']['p50_ms']:>12.3f} {e['ratio_p50']:>7.2f}", file=sys.stderr)
    print("ratio = bitsmith p50 / ORT p50 (below 1: bitsmith faster)", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
