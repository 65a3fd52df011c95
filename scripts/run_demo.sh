#!/usr/bin/env bash
# Sets everything up and runs the main job on the bundled demo checkpoint: a small Qwen3.5 model
# with random weights (fixed seed) in the real Hugging Face format, generated on first run.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
bash scripts/setup.sh
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/qwen35-ccache}"
# Paths relative to the checkout, so a fresh clone elsewhere (CI) reuses the same cache entries.
export CCACHE_BASEDIR="$REPO" CCACHE_NOHASHDIR=true CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-5G}"
QWEN_BUILD_DIR="$REPO/build" bash scripts/build.sh
QWEN35="$REPO/build/tools/qwen35/qwen35"
DEMO="$REPO/demo/qwen35-demo"
if [ ! -f "$DEMO/model.safetensors" ]; then
  "$QWEN35" make-demo-checkpoint --out "$DEMO" --seed 0
fi
echo "[demo] greedy generation on $DEMO (random weights: the ids are meaningless, the pipeline is real)"
"$QWEN35" generate --model "$DEMO" --prompt-ids 248045,846,198,9419,11,1814,0,248046,198,248045,74455,198 \
  --max-new-tokens 24 --threads "$(nproc)" --ignore-eos
