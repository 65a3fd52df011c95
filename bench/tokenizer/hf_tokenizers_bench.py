#!/usr/bin/env python3
"""Times Hugging Face `tokenizers` on the text that tokenizer_bench generates, for comparison:

    build/bench/tokenizer/tokenizer_bench --tokenizer T.json --text-out /tmp/bench.txt
    .venv/bin/python bench/tokenizer/hf_tokenizers_bench.py --tokenizer T.json --text /tmp/bench.txt

Prints the same lines (token counts and FNV-1a checksums of the ids must match tokenizer_bench's).
Single-threaded like tokenizer_bench (encode_batch, which uses every core, is printed separately).
"""
import argparse
import os
import time

os.environ.setdefault("RAYON_NUM_THREADS", "1")
from tokenizers import Tokenizer  # noqa: E402  (after RAYON_NUM_THREADS)


def Fnv1a(ids):
    h = 1469598103934665603
    for i in ids:
        for k in range(4):
            h ^= (i >> (8 * k)) & 0xFF
            h = (h * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h


def Best(fn, repeat):
    """(result, first CPU seconds, best CPU seconds, best wall seconds). Process CPU time, like
    tokenizer_bench: the machine is shared, and single-threaded work costs the same CPU time."""
    best, best_wall, first, result = float("inf"), float("inf"), None, None
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        t = time.process_time() - cpu
        best_wall = min(best_wall, time.perf_counter() - wall)
        first = t if first is None else first
        best = min(best, t)
    return result, first, best, best_wall


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokenizer", required=True)
    parser.add_argument("--text", required=True)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    wall, cpu = time.perf_counter(), time.process_time()
    tok = Tokenizer.from_file(args.tokenizer)
    print(f"load: {time.process_time() - cpu:.3f} s CPU, {time.perf_counter() - wall:.3f} s wall "
          f"({args.tokenizer})")
    with open(args.text, "rb") as f:
        raw = f.read()
    text = raw.decode("utf-8")
    mb = len(raw) / 1e6
    print(f"text: {mb:.2f} MB; rates are per CPU second (wall in parentheses)")

    ids, first, best, wall = Best(lambda: tok.encode(text, add_special_tokens=False).ids,
                                  args.repeat)
    print(f"encode whole text: {len(ids)} tokens, fnv1a {Fnv1a(ids):016x}")
    print(f"  first run {mb / first:.1f} MB/s; best of {args.repeat}: {mb / best:.1f} MB/s "
          f"({mb / wall:.1f}), {len(ids) / best / 1e6:.2f} M tokens/s")

    lines = text.split("\n")
    line_ids, _, best, wall = Best(
        lambda: [tok.encode(l, add_special_tokens=False).ids for l in lines], args.repeat)
    flat = [i for l in line_ids for i in l]
    print(f"encode per line ({len(lines)} lines): {len(flat)} tokens, fnv1a {Fnv1a(flat):016x}")
    print(f"  best of {args.repeat}: {mb / best:.1f} MB/s ({mb / wall:.1f}), "
          f"{len(flat) / best / 1e6:.2f} M tokens/s")
    _, _, best, wall = Best(lambda: tok.encode_batch(lines, add_special_tokens=False), args.repeat)
    print(f"  encode_batch (RAYON_NUM_THREADS={os.environ['RAYON_NUM_THREADS']}): "
          f"{mb / best:.1f} MB/s ({mb / wall:.1f})")

    decoded, _, best, wall = Best(lambda: tok.decode(ids), args.repeat)
    print(f"decode: round trip {'exact' if decoded == text else 'DIFFERS'}; best of {args.repeat}: "
          f"{mb / best:.1f} MB/s ({mb / wall:.1f}), {len(ids) / best / 1e6:.2f} M tokens/s")

if __name__ == "__main__":
    main()
