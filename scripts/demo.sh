#!/usr/bin/env bash
# The README's main job: install dependencies, build the release preset, compress the bundled
# example model (models/digits_cnn.onnx) with the recipe models/recipes/digits_int8.json (gates
# included; reports in out/digits_int8/), then run the lower-level commands on
# models/cnn_small.onnx: inspect it, convert it (with external data) and check the copy is the
# same model, run it, quantize it to int8 (static, calibrated on its bundled input), measure the
# quantized model's fidelity against the original, and time both. Exits non-zero when a gate fails.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target bitsmith
bs=build/release/bitsmith
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "== bitsmith compress models/digits_cnn.onnx --recipe models/recipes/digits_int8.json -o out/digits_int8"
$bs compress models/digits_cnn.onnx --recipe models/recipes/digits_int8.json -o out/digits_int8
echo

echo "== bitsmith inspect models/cnn_small.onnx"
$bs inspect models/cnn_small.onnx
echo
echo "== bitsmith convert models/cnn_small.onnx $out/cnn_small.onnx --external-data"
$bs convert models/cnn_small.onnx "$out/cnn_small.onnx" --external-data
ls -l "$out"
if diff <($bs inspect --graph models/cnn_small.onnx) <($bs inspect --graph "$out/cnn_small.onnx") >/dev/null; then
  echo "round trip: same graph text and tensor hashes"
else
  echo "round trip: the copy differs" >&2
  exit 2
fi
echo
echo "== bitsmith run models/cnn_small.onnx --input models/cnn_small.input.npy --output-dir $out"
$bs run models/cnn_small.onnx --input models/cnn_small.input.npy --output-dir "$out"
echo
echo "== bitsmith quantize models/cnn_small.onnx -o $out/cnn_small.int8.onnx --calib models/cnn_small.input.npy"
$bs quantize models/cnn_small.onnx -o "$out/cnn_small.int8.onnx" --calib models/cnn_small.input.npy
echo
echo "== bitsmith eval $out/cnn_small.int8.onnx --data models/cnn_small.input.npy --reference models/cnn_small.onnx"
$bs eval "$out/cnn_small.int8.onnx" --data models/cnn_small.input.npy --reference models/cnn_small.onnx
echo
echo "== bitsmith bench models/cnn_small.onnx $out/cnn_small.int8.onnx --batch 1 --iters 50"
$bs bench models/cnn_small.onnx "$out/cnn_small.int8.onnx" --batch 1 --iters 50
