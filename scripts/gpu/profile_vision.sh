#!/usr/bin/env bash
# Runs THERE (the GPU machine), from the repository root, after build-gpu is configured (by
# scripts/gpu/build_and_test.sh or bench.sh): the per-kernel time of one vision-encoder forward on
# the 9B-shaped random checkpoint, read by Nsight Compute (gpu__time_duration of every kernel of
# the last (timed) Encode), summed by kernel name. Writes ncu.csv and profile.md to $OUT.
#
# Environment overrides: BUILD_DIR (build-gpu), CKPT (/tmp/qwen35-9b-random), SIDE (1024).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
root=$PWD
build=${BUILD_DIR:-build-gpu}
ckpt=${CKPT:-/tmp/qwen35-9b-random}
side=${SIDE:-1024}
out=${OUT:-$root/$build-profile}
mkdir -p "$out"
export LD_LIBRARY_PATH="$root/.carry/deb/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
for d in /usr/local/cuda/bin /usr/local/cuda-13*/bin; do
  [[ -x $d/nvcc ]] && { export PATH=$d:$PATH; break; }
done
ncu=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -n 1)
[[ -n $ncu ]] || { echo "profile_vision: ncu not found" >&2; exit 2; }
cmake --build "$build" --target qwen35 -- -j"${JOBS:-16}" 2>&1 | tail -n 2
qwen35=$build/tools/qwen35/qwen35
"$qwen35" make-demo-checkpoint --preset 9b --out "$ckpt" >/dev/null || exit 3
# One warm-up and one timed Encode: profile the kernels of the second half of the launches.
"$ncu" --clock-control none --metrics gpu__time_duration.sum --csv \
  "$qwen35" bench --model "$ckpt" --skip-text --images "$side" --repeats 1 >"$out/ncu.csv" \
  2>"$out/bench.log"
rc=$?
(( rc == 0 )) || { echo "profile_vision: ncu/bench failed (rc $rc)"; tail -n 20 "$out/bench.log" "$out/ncu.csv"; exit 4; }
python3 - "$out/ncu.csv" "$side" <<'PY' | tee "$out/profile.md"
import csv, collections, sys
rows = [r for r in csv.DictReader(l for l in open(sys.argv[1]) if l.startswith('"'))]
rows = [r for r in rows if r.get("Metric Name") == "gpu__time_duration.sum"]
# Every Encode launches the position embedding once (one image); the last Encode ends the run, so
# its kernels are the last (distance between the last two PosEmbed launches).
pe = [i for i, r in enumerate(rows) if "PosEmbed" in r["Kernel Name"]]
if len(pe) < 2:
    sys.exit("profile_vision: expected two Encodes (warm-up and timed) in the ncu output")
last = rows[len(rows) - (pe[-1] - pe[-2]):]
scale = {"ns": 1e-3, "nsecond": 1e-3, "us": 1.0, "usecond": 1.0, "ms": 1e3, "msecond": 1e3}
agg = collections.OrderedDict()
for r in last:
    name = r["Kernel Name"].split("(")[0][:90]
    us = float(r["Metric Value"].replace(",", "")) * scale[r["Metric Unit"]]
    n, t = agg.get(name, (0, 0.0))
    agg[name] = (n + 1, t + us)
total = sum(t for _, t in agg.values())
print(f"vision encoder {sys.argv[2]}^2: {len(last)} kernels, {total/1000:.2f} ms summed "
      "(ncu: serialized, caches flushed between kernels)")
print("| kernel | launches | total us | us each | share |")
print("|---|---|---|---|---|")
for name, (n, t) in sorted(agg.items(), key=lambda kv: -kv[1][1]):
    print(f"| {name} | {n} | {t:.0f} | {t/n:.1f} | {100*t/total:.1f}% |")
PY
