#!/usr/bin/env bash
# Runs THERE (the GPU machine: Ubuntu 24.04, CUDA 13, gcc 13, cmake, ninja, no -dev packages, no
# network), from the repository root, as one command, with `.carry/deb` carried along (made here
# by scripts/gpu/prepare_carry.sh). Configures the project against the carried Debian packages
# (abseil, nlohmann_json, GoogleTest) without OpenCV/gRPC, builds the kernel tests (CPU reference
# tests, the CPU emulation of the CUDA kernels, the CUDA parity tests), runs them with ctest and
# prints nvidia-smi and the timings. Exits non-zero on any failure.
#
# Environment overrides: BUILD_DIR (build-gpu), CUDA_ARCH (90), JOBS (16), CTEST_JOBS (8),
# TARGETS (kernel_tests), REQUIRE_GPU (1).
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
carry=$root/.carry/deb/usr
build=${BUILD_DIR:-build-gpu}
arch=${CUDA_ARCH:-90}
jobs=${JOBS:-16}
ctest_jobs=${CTEST_JOBS:-8}
targets=${TARGETS:-kernel_tests}
logs=${OUT:-$root/$build-logs}  # full logs (under $OUT when run through the device tool)
require_gpu=${REQUIRE_GPU:-1}     # 1: a skipped CUDA test (no GPU visible) fails the run
mkdir -p "$logs"

if [[ ! -f $carry/lib/x86_64-linux-gnu/cmake/absl/abslConfig.cmake ]]; then
  echo "build_and_test: $carry is missing: run scripts/gpu/prepare_carry.sh on the dev machine" \
       "and carry .carry/deb" >&2
  exit 2
fi
if ! command -v nvcc >/dev/null 2>&1; then
  for d in /usr/local/cuda/bin /usr/local/cuda-13*/bin /opt/cuda/bin; do
    if [[ -x $d/nvcc ]]; then export PATH=$d:$PATH; break; fi
  done
fi
command -v nvcc >/dev/null 2>&1 || { echo "build_and_test: nvcc not found" >&2; exit 2; }

echo "== machine"
nvidia-smi || true
nvcc --version | tail -n 2
echo "cmake: $(cmake --version | head -n 1); ninja: $(ninja --version); $(c++ --version | head -n 1)"

now() { date +%s.%N; }
t_start=$(now)
echo "== configure ($build, CUDA arch $arch)"
cmake -S . -B "$build" -G Ninja \
  -DCMAKE_BUILD_TYPE=Release \
  -DQWEN_ENABLE_CUDA=ON \
  -DCMAKE_CUDA_ARCHITECTURES="$arch" \
  -DCMAKE_PREFIX_PATH="$carry" \
  -DCMAKE_DISABLE_FIND_PACKAGE_OpenCV=ON \
  -DCMAKE_DISABLE_FIND_PACKAGE_gRPC=ON \
  -DCMAKE_DISABLE_FIND_PACKAGE_Protobuf=ON \
  -DCMAKE_DISABLE_FIND_PACKAGE_prometheus-cpp=ON 2>&1 | tee "$logs/configure.log" | tail -n 25
rc=${PIPESTATUS[0]}
t_conf=$(now)
if (( rc != 0 )); then echo "build_and_test: configure failed (rc $rc)" >&2; exit "$rc"; fi
grep -E "absl_DIR|GTest_DIR|nlohmann_json_DIR" "$build/CMakeCache.txt"

echo "== build ($targets, -j$jobs)"
cmake --build "$build" --target $targets -- -j"$jobs" 2>&1 | tee "$logs/build.log" | tail -n 40
rc=${PIPESTATUS[0]}
t_build=$(now)
if (( rc != 0 )); then echo "build_and_test: build failed (rc $rc)" >&2; exit "$rc"; fi

echo "== test (ctest in $build/tests/kernels, -j$ctest_jobs)"
ctest --test-dir "$build/tests/kernels" --output-on-failure -j"$ctest_jobs" --timeout 300 \
  2>&1 | tee "$logs/ctest.log" | grep -v -E "^ *[0-9]+/[0-9]+ Test +#[0-9]+: .* Passed" | tail -n 150
rc=${PIPESTATUS[0]}
t_test=$(now)
skipped=$(grep -c "Not Run\|Skipped" "$logs/ctest.log" || true)

bench_rc=0
bench=$build/tests/kernels/cuda/kernels_cuda_bench
if [[ -x $bench ]]; then
  echo "== kernel timings (kernels_cuda_bench)"
  "$bench" 2>&1 | tee "$logs/bench.log"
  bench_rc=${PIPESTATUS[0]}
fi
t_bench=$(now)

echo "== timings"
awk -v a="$t_start" -v b="$t_conf" -v c="$t_build" -v d="$t_test" -v e="$t_bench" 'BEGIN {
  printf "configure %.1f s, build %.1f s, tests %.1f s, bench %.1f s, total %.1f s\n",
         b-a, c-b, d-c, e-d, e-a }'
echo "ctest entries reported skipped: $skipped (CUDA tests must not be skipped on the GPU machine)"
if (( rc != 0 )); then echo "build_and_test: tests FAILED (rc $rc)" >&2; exit "$rc"; fi
if (( require_gpu == 1 && skipped > 0 )); then
  echo "build_and_test: $skipped tests were skipped (no usable GPU?): FAILED" >&2
  exit 3
fi
if (( bench_rc != 0 )); then echo "build_and_test: kernels_cuda_bench FAILED (rc $bench_rc)" >&2; exit 4; fi
echo "build_and_test: OK"
