#!/usr/bin/env bash
# Configures and builds qwen35-serve into build/ (or $QWEN_BUILD_DIR). Extra args go to cmake.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${QWEN_BUILD_DIR:-$REPO/build}"
JOBS="${QWEN_JOBS:-$(nproc)}"
cmake -S "$REPO" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE="${QWEN_BUILD_TYPE:-Release}" "$@" >/dev/null
cmake --build "$BUILD" -j "$JOBS"
