#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, runs every GoogleTest suite with CTest,
# then builds the tests again with AddressSanitizer + UndefinedBehaviorSanitizer and reruns them.
# Set QWEN_SKIP_SANITIZE=1 to run only the first pass (a quick local loop).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
bash scripts/setup.sh

# Paths relative to the checkout, so a fresh clone elsewhere (CI) reuses the same cache entries.
export CCACHE_BASEDIR="$REPO" CCACHE_NOHASHDIR=true CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-5G}"

start=$(date +%s)
echo "[test] release build"
QWEN_BUILD_DIR="$REPO/build" bash scripts/build.sh -DQWEN_BUILD_TESTS=ON
ctest --test-dir build --output-on-failure -j "$(nproc)"

if [ "${QWEN_SKIP_SANITIZE:-0}" != "1" ]; then
  # The libraries' suites under the sanitizers (core, kernels, model, engine, tokenizer, template,
  # parsers, vision). CUDA is off (device code is checked by compute-sanitizer on the GPU machine)
  # and so are the gRPC servers, whose in-process tests run in the pass above.
  echo "[test] ASan+UBSan build of the library suites"
  QWEN_BUILD_DIR="$REPO/build-asan" QWEN_BUILD_TYPE=RelWithDebInfo bash scripts/build.sh \
    -DQWEN_BUILD_TESTS=ON -DQWEN_SANITIZE=ON -DQWEN_ENABLE_CUDA=OFF -DQWEN_BUILD_SERVICES=OFF
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build-asan --output-on-failure -j "$(nproc)"
fi
echo "[test] all suites passed in $(( $(date +%s) - start )) s"
