#!/usr/bin/env bash
# Installs dependencies, builds the release preset and runs the whole test suite with ctest.
# Usage: scripts/test.sh [preset]   (release by default; debug and asan work too)
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-release}"
scripts/install-deps.sh
# Object files are cached by ccache (when installed); a base dir makes the cache hit across
# clones of the repository in other folders.
export CCACHE_BASEDIR="$PWD"
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset"
ctest --preset "$preset" --output-on-failure -j2
