#!/bin/sh
# Runs as the initContainer of every qwen35 pod, before the server starts, over the read-only
# weights volume:  verify-checkpoint.sh MODE DIR   (MODE: text | vision | gateway)
#   text, vision: config.json and the safetensors weights (every shard that
#                 model.safetensors.index.json names, or a single model.safetensors), each with a
#                 plausible safetensors header;
#   gateway:      config.json, tokenizer.json and chat_template.jinja.
# If DIR has a SHA256SUMS file (sha256sum's format, paths relative to DIR) and VERIFY_SHA256 is not
# "false", the files this MODE needs are checked against it too. POSIX sh + coreutils only.
set -eu

fail() {
  echo "verify-checkpoint: $*" >&2
  exit 1
}

[ "$#" -eq 2 ] || fail "usage: verify-checkpoint.sh text|vision|gateway DIR"
mode="$1"
dir="$2"
[ -d "$dir" ] || fail "$dir is not a directory (is the weights PVC mounted, and MODEL_DIR right?)"

need() {
  [ -f "$dir/$1" ] || fail "missing $dir/$1"
  [ -s "$dir/$1" ] || fail "empty file $dir/$1"
}

# A safetensors file starts with a little-endian u64 header length, then a JSON object.
check_safetensors() {
  f="$dir/$1"
  size=$(stat -c %s "$f")
  [ "$size" -gt 8 ] || fail "$f is too small to be a safetensors file"
  header=$(od -An -t u8 -N 8 "$f" | tr -d ' ')
  case "$header" in
    '' | *[!0-9]*) fail "$f: unreadable header length" ;;
  esac
  if [ "$header" -lt 2 ] || [ "$header" -gt $((size - 8)) ]; then
    fail "$f: header length $header does not fit in $size bytes (truncated or not safetensors)"
  fi
  first=$(od -An -c -j 8 -N 1 "$f" | tr -d ' ')
  [ "$first" = "{" ] || fail "$f: the header is not a JSON object"
}

files="config.json"
need config.json
case "$mode" in
  text | vision)
    if [ -f "$dir/model.safetensors.index.json" ]; then
      need model.safetensors.index.json
      shards=$(grep -o '"[^"]*\.safetensors"' "$dir/model.safetensors.index.json" | tr -d '"' | sort -u)
      [ -n "$shards" ] || fail "model.safetensors.index.json names no shard"
      for s in $shards; do
        case "$s" in
          /* | *..*) fail "model.safetensors.index.json names a shard outside $dir: $s" ;;
        esac
        need "$s"
        check_safetensors "$s"
        files="$files $s"
      done
      files="$files model.safetensors.index.json"
    elif [ -f "$dir/model.safetensors" ]; then
      need model.safetensors
      check_safetensors model.safetensors
      files="$files model.safetensors"
    else
      fail "no model.safetensors.index.json or model.safetensors in $dir"
    fi
    ;;
  gateway)
    need tokenizer.json
    need chat_template.jinja
    files="$files tokenizer.json chat_template.jinja"
    ;;
  *)
    fail "unknown mode '$mode' (text, vision or gateway)"
    ;;
esac

if [ -f "$dir/SHA256SUMS" ] && [ "${VERIFY_SHA256:-true}" != "false" ]; then
  # Only the lines of the files this tier reads: the gateway does not hash 50 GB of weights.
  list=""
  for f in $files; do
    line=$(awk -v f="$f" '$2 == f || $2 == "*" f { print; exit }' "$dir/SHA256SUMS")
    [ -n "$line" ] || fail "SHA256SUMS has no line for $f"
    list="$list$line
"
  done
  echo "verify-checkpoint: checking $(echo "$files" | wc -w) files against SHA256SUMS"
  printf '%s' "$list" | (cd "$dir" && sha256sum --check --quiet --strict -) ||
    fail "checksum mismatch in $dir (see above)"
fi
echo "verify-checkpoint: $mode checkpoint in $dir looks complete"
