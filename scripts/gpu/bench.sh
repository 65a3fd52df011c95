#!/usr/bin/env bash
# Runs THERE (the GPU machine), from the repository root (configures build-gpu through
# scripts/gpu/build_and_test.sh when it is not configured yet): the 9B-shape
# benchmark of issue 6 in one call. Writes the 9B-shaped random bf16 checkpoint (once; reused while
# the machine stays warm), runs `qwen35 bench` on it, then the Hugging Face baseline on the same
# checkpoint and card, and prints the comparison table (bench/model/compare.py). Reports land in
# $OUT (ours.json, hf.json, compare.md).
#
# Environment overrides: BUILD_DIR (build-gpu), CKPT (/tmp/qwen35-9b-random), HF (1: run the HF
# baseline), HF_ARGS (extra hf_baseline.py flags), BENCH_ARGS (extra qwen35 bench flags).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
root=$PWD
build=${BUILD_DIR:-build-gpu}
ckpt=${CKPT:-/tmp/qwen35-9b-random}
out=${OUT:-$root/$build-bench}
mkdir -p "$out"
carry=$root/.carry/deb/usr
export LD_LIBRARY_PATH="$carry/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
for d in /usr/local/cuda/bin /usr/local/cuda-13*/bin; do
  [[ -x $d/nvcc ]] && { export PATH=$d:$PATH; break; }
done

if [[ ! -f $build/build.ninja ]]; then
  BUILD_DIR=$build CONFIGURE_ONLY=1 bash scripts/gpu/build_and_test.sh | tail -n 3 || exit 2
fi
echo "== build qwen35 (with the GPU benchmark)"
cmake --build "$build" --target qwen35 -- -j"${JOBS:-16}" 2>&1 | tail -n 5
qwen35=$build/tools/qwen35/qwen35
"$qwen35" bench --help >/dev/null || { echo "bench: qwen35 has no bench command" >&2; exit 2; }
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,power.limit --format=csv

echo "== 9B-shaped random checkpoint ($ckpt)"
t0=$(date +%s)
"$qwen35" make-demo-checkpoint --preset 9b --out "$ckpt" || exit 3
echo "checkpoint ready in $(( $(date +%s) - t0 )) s: $(du -sh "$ckpt" | cut -f1)"

echo "== qwen35 bench"
# shellcheck disable=SC2086
"$qwen35" bench --model "$ckpt" --json "$out/ours.json" ${BENCH_ARGS:-} 2>&1 | tee "$out/ours.log"
rc=${PIPESTATUS[0]}
(( rc == 0 )) || { echo "bench: qwen35 bench FAILED (rc $rc)" >&2; exit 4; }

if [[ ${HF:-1} == 1 ]]; then
  echo "== Hugging Face baseline (same checkpoint, same card)"
  # shellcheck disable=SC2086
  python3 bench/model/hf_baseline.py --model "$ckpt" --json "$out/hf.json" ${HF_ARGS:-} 2>&1 \
    | tee "$out/hf.log"
  echo "== comparison"
  python3 bench/model/compare.py --ours "$out/ours.json" --hf "$out/hf.json" | tee "$out/compare.md"
fi
