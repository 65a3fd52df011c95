#!/usr/bin/env bash
# Runs THERE (the GPU machine: Ubuntu 24.04, CUDA 13, gcc 13, cmake, ninja, no -dev packages, no
# network), from the repository root, as one command, with `.carry/deb` carried along (made here
# by scripts/gpu/prepare_carry.sh). Configures the project against the carried Debian packages
# (abseil, nlohmann_json, GoogleTest) without OpenCV/gRPC, builds the kernel tests (CPU reference
# tests, the CPU emulation of the CUDA kernels, the CUDA parity tests), runs them with ctest and
# prints nvidia-smi and the timings. Then the CUDA text model: builds its tests and the qwen35 CLI
# (target text_model_cuda_tests), runs its ctest suite (tests/model/cuda), runs
# `qwen35 forward --device cuda` on every tests/reference/text_* case and prints the per-case
# agreement with the reference (text_case_compare), and runs compute-sanitizer memcheck on one
# small case. Then the CUDA vision encoder: builds its tests (target vision_model_cuda_tests), runs
# its ctest suite (tests/vision/cuda: parity with the vision/multimodal reference cases and the CPU
# encoder, bad inputs), prints the per-input agreement lines, and runs compute-sanitizer memcheck
# on its reference-case and bad-input tests. Exits non-zero on any failure.
#
# Environment overrides: BUILD_DIR (build-gpu), CUDA_ARCH (90), JOBS (16), CTEST_JOBS (8),
# TARGETS (kernel_tests), MODEL_TARGETS (text_model_cuda_tests vision_model_cuda_tests; each
# model's checks run when its target is listed, empty skips both), REQUIRE_GPU (1).
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
carry=$root/.carry/deb/usr
build=${BUILD_DIR:-build-gpu}
arch=${CUDA_ARCH:-90}
jobs=${JOBS:-16}
ctest_jobs=${CTEST_JOBS:-8}
targets=${TARGETS:-kernel_tests}
model_targets=${MODEL_TARGETS-text_model_cuda_tests vision_model_cuda_tests}
logs=${OUT:-$root/$build-logs}  # full logs (under $OUT when run through the device tool)
require_gpu=${REQUIRE_GPU:-1}     # 1: a skipped CUDA test (no GPU visible) fails the run
mkdir -p "$logs"

if [[ ! -f $carry/lib/x86_64-linux-gnu/cmake/absl/abslConfig.cmake ]]; then
  echo "build_and_test: $carry is missing: run scripts/gpu/prepare_carry.sh on the dev machine" \
       "and carry .carry/deb" >&2
  exit 2
fi
# dpkg -x does not create the SONAME links (ldconfig makes them at install time); tests that load
# the carried shared libraries at run time need them.
ldconfig -n "$carry/lib/x86_64-linux-gnu" 2>/dev/null || true
# RUNPATH covers only direct dependencies; the carried absl libraries load each other.
export LD_LIBRARY_PATH="$carry/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
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
if [[ ${CONFIGURE_ONLY:-0} == 1 ]]; then echo "build_and_test: configured $build"; exit 0; fi

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
skipped=$(grep -c -E "\*\*\*(Skipped|Not Run)" "$logs/ctest.log" || true)

bench_rc=0
bench=$build/tests/kernels/cuda/kernels_cuda_bench
if [[ -x $bench ]]; then
  echo "== kernel timings (kernels_cuda_bench)"
  "$bench" 2>&1 | tee "$logs/bench.log"
  bench_rc=${PIPESTATUS[0]}
fi
t_bench=$(now)

# ---- The CUDA models (text_service/model/cuda, vision_service/model/cuda) --------------------
want_text=0; [[ " $model_targets " == *" text_model_cuda_tests "* ]] && want_text=1
want_vision=0; [[ " $model_targets " == *" vision_model_cuda_tests "* ]] && want_vision=1
sanitizer=$(command -v compute-sanitizer || true)
[[ -z $sanitizer && -x /usr/local/cuda/bin/compute-sanitizer ]] && \
  sanitizer=/usr/local/cuda/bin/compute-sanitizer
model_rc=0        # build / configuration
model_test_rc=0   # ctest in tests/model/cuda
model_skipped=0
cli_failed=0      # cases whose `qwen35 forward --device cuda` output misses the bf16 criteria
memcheck_rc=0
vision_test_rc=0  # ctest in tests/vision/cuda
vision_skipped=0
vision_memcheck_rc=0
if [[ -n $model_targets ]]; then
  # (grep -c reads all of ninja's output: grep -q would exit early and, under pipefail, turn
  # ninja's SIGPIPE into a false "not configured".)
  if (( want_text == 1 )) && \
     (( $(ninja -C "$build" -t targets all 2>/dev/null | grep -c "^text_model_cuda_tests:") == 0 ))
  then
    echo "build_and_test: the CUDA text model is not configured (qwen_kernels_cuda lacks the" \
         "paged attention kernels?): see $logs/configure.log" >&2
    grep "CUDA text model" "$logs/configure.log" >&2
    model_rc=5
  else
    echo "== build CUDA models ($model_targets, -j$jobs)"
    cmake --build "$build" --target $model_targets -- -j"$jobs" 2>&1 | tee "$logs/build_model.log" \
      | tail -n 40
    model_rc=${PIPESTATUS[0]}
  fi
  if (( model_rc == 0 && want_text == 1 )); then
    echo "== test CUDA text model (ctest in $build/tests/model/cuda, -j$ctest_jobs)"
    ctest --test-dir "$build/tests/model/cuda" --output-on-failure -j"$ctest_jobs" --timeout 600 \
      2>&1 | tee "$logs/ctest_model.log" | grep -v -E "^ *[0-9]+/[0-9]+ Test +#[0-9]+: .* Passed" \
      | tail -n 150
    model_test_rc=${PIPESTATUS[0]}
    model_skipped=$(grep -c -E "\*\*\*(Skipped|Not Run)" "$logs/ctest_model.log" || true)
    echo "== test the engine on the CUDA model (ctest -R EngineCudaTest in $build/tests/engine)"
    ctest --test-dir "$build/tests/engine" -R EngineCudaTest --output-on-failure --timeout 600 \
      2>&1 | tee "$logs/ctest_engine_cuda.log" | tail -n 40
    engine_rc=${PIPESTATUS[0]}
    engine_ran=$(grep -c -E "Test +#[0-9]+: EngineCudaTest" "$logs/ctest_engine_cuda.log" || true)
    (( engine_rc != 0 )) && model_test_rc=$engine_rc
    (( engine_ran == 0 )) && { echo "build_and_test: no EngineCudaTest ran" >&2; model_test_rc=6; }
    model_skipped=$(( model_skipped + $(grep -c -E "\*\*\*(Skipped|Not Run)" "$logs/ctest_engine_cuda.log" \
                                         || true) ))
    # The agreement lines the parity tests print (one per case and GDN variant).
    grep -h -A2 "^\[          \] text_" "$build"/tests/model/cuda/Testing/Temporary/LastTest.log \
      2>/dev/null | grep "^\[" | tee "$logs/model_parity.log" || true

    echo "== qwen35 forward --device cuda on every text reference case"
    qwen35=$build/tools/qwen35/qwen35
    compare=$build/tests/model/cuda/text_case_compare
    mkdir -p "$logs/cli"
    for case_dir in tests/reference/text_*/; do
      case_dir=${case_dir%/}
      name=$(basename "$case_dir")
      greedy=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['spec']['greedy'])" \
               "$case_dir/case.json" 2>/dev/null || sed -n 's/.*"greedy": *\([0-9]*\).*/\1/p' \
               "$case_dir/case.json" | head -n 1)
      out=$logs/cli/$name.safetensors
      echo "-- $name (--greedy ${greedy:-0})"
      if ! "$qwen35" forward --device cuda --model "$case_dir/model" \
           --inputs "$case_dir/inputs.safetensors" --out "$out" --greedy "${greedy:-0}" \
           > "$logs/cli/$name.log" 2>&1; then
        echo "  qwen35 forward FAILED:"; tail -n 5 "$logs/cli/$name.log"
        cli_failed=$((cli_failed + 1))
        continue
      fi
      "$compare" "$case_dir" "$out" || cli_failed=$((cli_failed + 1))
    done

    if [[ -n $sanitizer ]]; then
      small=tests/reference/text_cond_tied_hv3_chunk64
      echo "== compute-sanitizer memcheck: qwen35 forward --device cuda on $(basename $small)" \
           "(--greedy 4 --prefill-chunk 40: varlen prefill, continuation and decode kernels)"
      "$sanitizer" --tool memcheck --error-exitcode 9 "$qwen35" forward --device cuda \
        --model "$small/model" --inputs "$small/inputs.safetensors" \
        --out "$logs/cli/memcheck.safetensors" --greedy 4 --prefill-chunk 40 \
        > "$logs/memcheck.log" 2>&1
      memcheck_rc=$?
      tail -n 5 "$logs/memcheck.log"
    else
      echo "== compute-sanitizer not found: memcheck skipped"
    fi
  fi
  if (( model_rc == 0 && want_vision == 1 )); then
    echo "== test CUDA vision encoder (ctest in $build/tests/vision/cuda, -j$ctest_jobs)"
    ctest --test-dir "$build/tests/vision/cuda" --output-on-failure -j"$ctest_jobs" --timeout 600 \
      2>&1 | tee "$logs/ctest_vision.log" | grep -v -E "^ *[0-9]+/[0-9]+ Test +#[0-9]+: .* Passed" \
      | tail -n 150
    vision_test_rc=${PIPESTATUS[0]}
    vision_skipped=$(grep -c -E "\*\*\*(Skipped|Not Run)" "$logs/ctest_vision.log" || true)
    # The agreement lines the GPU parity tests print (one per input: max |diff| and tolerance).
    grep -h "^\[          \] .*GPU max |diff|" \
      "$build"/tests/vision/cuda/Testing/Temporary/LastTest.log 2>/dev/null \
      | tee "$logs/vision_parity.log" || true
    if [[ -n $sanitizer ]]; then
      echo "== compute-sanitizer memcheck: vision_model_cuda_test (reference cases, bad inputs)"
      "$sanitizer" --tool memcheck --error-exitcode 9 \
        "$build/tests/vision/cuda/vision_model_cuda_test" \
        --gtest_filter='Reference/*:*BadInputs*:*DevicePixels*' > "$logs/memcheck_vision.log" 2>&1
      vision_memcheck_rc=$?
      tail -n 5 "$logs/memcheck_vision.log"
    fi
  fi
fi
t_model=$(now)

echo "== timings"
awk -v a="$t_start" -v b="$t_conf" -v c="$t_build" -v d="$t_test" -v e="$t_bench" \
    -v f="$t_model" 'BEGIN {
  printf "configure %.1f s, build %.1f s, tests %.1f s, bench %.1f s, CUDA models %.1f s, total %.1f s\n",
         b-a, c-b, d-c, e-d, f-e, f-a }'
echo "ctest entries reported skipped: $skipped kernel, $model_skipped text model," \
     "$vision_skipped vision encoder (CUDA tests must not be skipped on the GPU machine)"
if (( rc != 0 )); then echo "build_and_test: tests FAILED (rc $rc)" >&2; exit "$rc"; fi
all_skipped=$((skipped + model_skipped + vision_skipped))
if (( require_gpu == 1 && all_skipped > 0 )); then
  echo "build_and_test: $all_skipped tests were skipped (no usable GPU?): FAILED" >&2
  exit 3
fi
if (( bench_rc != 0 )); then echo "build_and_test: kernels_cuda_bench FAILED (rc $bench_rc)" >&2; exit 4; fi
if (( model_rc != 0 )); then echo "build_and_test: CUDA model build FAILED" >&2; exit 5; fi
if (( model_test_rc != 0 )); then echo "build_and_test: CUDA text model tests FAILED" >&2; exit 6; fi
if (( cli_failed != 0 )); then
  echo "build_and_test: qwen35 forward --device cuda missed the bf16 criteria on $cli_failed" \
       "case(s): FAILED" >&2
  exit 7
fi
if (( memcheck_rc != 0 )); then
  echo "build_and_test: compute-sanitizer memcheck FAILED (rc $memcheck_rc; $logs/memcheck.log)" >&2
  exit 8
fi
if (( vision_test_rc != 0 )); then
  echo "build_and_test: CUDA vision encoder tests FAILED" >&2
  exit 10
fi
if (( vision_memcheck_rc != 0 )); then
  echo "build_and_test: compute-sanitizer memcheck of the vision encoder FAILED" \
       "(rc $vision_memcheck_rc; $logs/memcheck_vision.log)" >&2
  exit 11
fi
echo "build_and_test: OK"
