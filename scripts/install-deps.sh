#!/usr/bin/env bash
# Installs what bitsmith needs to build and test, from Debian 12 packages (idempotent: does
# nothing when everything is already installed). Run as root or with sudo available.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential cmake ccache pkg-config
  libeigen3-dev libcli11-dev libspdlog-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libssl-dev zlib1g-dev
  # development-only: ONNX's checker and numpy for interop tests
  python3 python3-numpy python3-onnx
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# ONNX Runtime for the interop tests (development only; never a runtime dependency of bitsmith).
# onnxruntime-node's own install script downloads GPU libraries and fails offline, hence
# --ignore-scripts: the CPU build ships inside the package.
if ! command -v npm >/dev/null 2>&1; then
  echo "installing: nodejs npm" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >&2
fi
if [ ! -f node_modules/onnxruntime-node/package.json ]; then
  echo "installing: onnxruntime-node (npm ci --ignore-scripts)" >&2
  npm ci --ignore-scripts --no-audit --no-fund >&2
fi
