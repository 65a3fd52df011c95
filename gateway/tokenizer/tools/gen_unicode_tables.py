#!/usr/bin/env python3
"""Generates gateway/tokenizer/unicode_tables.cc: the Unicode data the tokenizer needs at run time.

  .venv/bin/python gateway/tokenizer/tools/gen_unicode_tables.py > gateway/tokenizer/unicode_tables.cc

The output is committed so that the C++ build needs no Unicode library. Data comes from Python's
`unicodedata` (Unicode 14.0.0 in Python 3.11), shaped to what Hugging Face `tokenizers`
(0.21.0, scripts/requirements-test.txt) actually computes, because parity with it is the goal:
  * its regex engine (Oniguruma) has Unicode 14.0 categories: identical, checked here;
  * its NFC (crate unicode-normalization-alignments) has older data (Unicode 9.0): 98 combining
    marks added since have combining class 0 there, and U+11938 neither decomposes nor composes.
    The generator asks `tokenizers` itself which code points its NFD reorders or decomposes and
    keeps only those. (Run it with the .venv Python, which has `tokenizers`.)
Contents:
  * a two-stage table of per-code-point flags: general category L / M / N, White_Space (the
    regex `\\s`, which is White_Space, not Python's str.isspace), and "NFC unsafe" (a code point
    whose presence may make NFC change the text: a non-zero canonical combining class, NFC(c) != c,
    or the second half of a canonical composition). Text without unsafe code points is in NFC;
  * canonical combining classes (ranges), full canonical decompositions and the primary
    composites (pairs) for the NFC slow path. Hangul syllables are algorithmic and not listed.
"""
import sys
import unicodedata

try:
    from tokenizers import Regex, normalizers, pre_tokenizers
except ImportError:
    sys.exit("gen_unicode_tables.py needs Hugging Face `tokenizers`: run it with .venv/bin/python "
             "(scripts/setup.sh installs scripts/requirements-test.txt there)")

BLOCK_SHIFT = 7
BLOCK = 1 << BLOCK_SHIFT
MAX_CP = 0x110000

# Unicode White_Space (PropList.txt); Oniguruma's \s in UTF-8 mode is exactly this set.
WHITE_SPACE = set(range(0x09, 0x0E)) | {0x20, 0x85, 0xA0, 0x1680} | set(range(0x2000, 0x200B)) | {
    0x2028, 0x2029, 0x202F, 0x205F, 0x3000}

LETTER, MARK, NUMBER, WHITE, NFC_UNSAFE = 1, 2, 4, 8, 16
S_BASE, S_COUNT = 0xAC00, 11172


def CanonicalDecomposition(cp):
    d = unicodedata.decomposition(chr(cp))
    if not d or d.startswith("<"):
        return None
    return [int(x, 16) for x in d.split()]


def Batch(fn, items):
    """Applies a tokenizers normalizer to many strings at once; "\\n" (a starter that never
    appears in a decomposition) separates them and blocks reordering and composition."""
    out = fn("\n".join(items)).split("\n")
    assert len(out) == len(items)
    return out


def HfCategorySets(cps):
    """Code points that tokenizers' regex engine puts in \\p{L}, \\p{M}, \\p{N} and \\s."""
    text = "".join(chr(c) for c in cps)
    sets = {}
    for cls in ("\\p{L}", "\\p{M}", "\\p{N}", "\\s"):
        split = pre_tokenizers.Split(Regex(f"[^{cls}]+"), behavior="removed")
        sets[cls] = {cps[i] for _, (a, b) in split.pre_tokenize_str(text) for i in range(a, b)}
    return sets


def HfNormalizationData(cps):
    """(full canonical decomposition per code point, set of code points with a non-zero
    combining class, NFC of each code point) as tokenizers' NFD/NFC compute them."""
    nfd = normalizers.NFD().normalize_str
    nfc = normalizers.NFC().normalize_str
    chars = [chr(c) for c in cps]
    decomposed = Batch(nfd, chars)
    # A code point with a non-zero class moves across U+0301 (230) or U+0334 (1) in NFD.
    before = Batch(nfd, ["\u0301" + ch for ch in chars])
    after = Batch(nfd, [ch + "\u0301" for ch in chars])
    overlay = Batch(nfd, [ch + "\u0334" for ch in chars])
    nonzero = set()
    for i, c in enumerate(cps):
        d = decomposed[i]
        if d == chars[i] and (before[i] != "\u0301" + d or after[i] != d + "\u0301" or
                              overlay[i] != d + "\u0334"):
            nonzero.add(c)
    composed = Batch(nfc, chars)
    return ({c: d for c, d in zip(cps, decomposed)}, nonzero,
            {c: n for c, n in zip(cps, composed)})


def main():
    cps = [c for c in range(MAX_CP) if not 0xD800 <= c < 0xE000 and c != 0x0A]
    hf_decomposed, hf_nonzero_ccc, hf_nfc = HfNormalizationData(cps)
    hf_decomposed[0x0A] = hf_nfc[0x0A] = "\n"

    def Ccc(cp):
        c = unicodedata.combining(chr(cp))
        return c if cp in hf_nonzero_ccc or (c and hf_decomposed.get(cp, chr(cp)) != chr(cp)) else 0

    candidates = {}
    for cp in cps:
        if S_BASE <= cp < S_BASE + S_COUNT:
            continue
        d = CanonicalDecomposition(cp)
        if d and len(d) == 2 and hf_nfc[cp] == chr(cp) and hf_decomposed[cp] != chr(cp):
            candidates[(d[0], d[1])] = cp
    pairs = list(candidates)
    recomposed = Batch(normalizers.NFC().normalize_str, [chr(a) + chr(b) for a, b in pairs])
    compositions = {p: candidates[p] for p, r in zip(pairs, recomposed) if r == chr(candidates[p])}
    seconds = {b for (_, b) in compositions} | set(range(0x1161, 0x1176)) | set(range(0x11A8, 0x11C3))

    categories = HfCategorySets(cps)
    flags = bytearray(MAX_CP)
    ccc = [0] * MAX_CP
    decompositions = {}
    for cp in range(MAX_CP):
        ch = chr(cp)
        cat = unicodedata.category(ch)
        f = 0
        if cat[0] == "L":
            f |= LETTER
        elif cat[0] == "M":
            f |= MARK
        elif cat[0] == "N":
            f |= NUMBER
        if cp in WHITE_SPACE:
            f |= WHITE
        if 0xD800 <= cp < 0xE000:
            flags[cp] = f
            continue
        ccc[cp] = Ccc(cp)
        if ccc[cp] or hf_nfc[cp] != ch or cp in seconds:
            f |= NFC_UNSAFE
        flags[cp] = f
        if not (S_BASE <= cp < S_BASE + S_COUNT) and hf_decomposed[cp] != ch:
            decompositions[cp] = [ord(c) for c in hf_decomposed[cp]]
    for cls, bit in (("\\p{L}", LETTER), ("\\p{M}", MARK), ("\\p{N}", NUMBER),
                     ("\\s", WHITE)):
        mine = {cp for cp in cps if flags[cp] & bit}
        assert mine == categories[cls], f"{cls}: unicodedata and tokenizers' regex disagree"
    # The C++ fast path treats every code point below U+0300 as NFC-safe without a lookup.
    assert not any(flags[cp] & NFC_UNSAFE for cp in range(0x300)), "U+0000..U+02FF must be safe"

    blocks = {}
    index = []
    for b in range(MAX_CP >> BLOCK_SHIFT):
        key = bytes(flags[b * BLOCK:(b + 1) * BLOCK])
        index.append(blocks.setdefault(key, len(blocks)))
    assert len(blocks) <= 256

    ccc_ranges = []
    for cp in range(MAX_CP):
        if ccc[cp]:
            if ccc_ranges and ccc_ranges[-1][1] == cp - 1 and ccc_ranges[-1][2] == ccc[cp]:
                ccc_ranges[-1][1] = cp
            else:
                ccc_ranges.append([cp, cp, ccc[cp]])

    out = sys.stdout
    w = out.write
    import tokenizers
    w("// GENERATED by gateway/tokenizer/tools/gen_unicode_tables.py from Python "
      f"{sys.version.split()[0]} unicodedata\n// (Unicode {unicodedata.unidata_version}) and "
      f"tokenizers {tokenizers.__version__}'s NFC data. Do not edit; rerun the script.\n")
    w('#include "gateway/tokenizer/unicode_tables.h"\n\nnamespace qwen::gateway::unicode_tables {\n\n')
    w(f'const char kUnicodeVersion[] = "{unicodedata.unidata_version}";\n\n')

    def Rows(values, per_line, fmt):
        for i in range(0, len(values), per_line):
            w("    " + ",".join(fmt(v) for v in values[i:i + per_line]) + ",\n")

    w(f"const uint8_t kFlagBlockIndex[{len(index)}] = {{\n")
    Rows(index, 32, str)
    w("};\n\n")
    w(f"const uint8_t kFlagBlocks[{len(blocks)}][{BLOCK}] = {{\n")
    for key in blocks:
        w("  {\n")
        Rows(list(key), 32, str)
        w("  },\n")
    w("};\n\n")

    w(f"const CombiningClassRange kCombiningClasses[{len(ccc_ranges)}] = {{\n")
    Rows(ccc_ranges, 6, lambda r: f"{{0x{r[0]:X},0x{r[1]:X},{r[2]}}}")
    w("};\n")
    w(f"const size_t kNumCombiningClasses = {len(ccc_ranges)};\n\n")

    pool = []
    entries = []
    for cp in sorted(decompositions):
        entries.append((cp, len(pool), len(decompositions[cp])))
        pool.extend(decompositions[cp])
    w(f"const char32_t kDecompositionPool[{len(pool)}] = {{\n")
    Rows(pool, 12, lambda v: f"0x{v:X}")
    w("};\n")
    w(f"const Decomposition kDecompositions[{len(entries)}] = {{\n")
    Rows(entries, 6, lambda e: f"{{0x{e[0]:X},{e[1]},{e[2]}}}")
    w("};\n")
    w(f"const size_t kNumDecompositions = {len(entries)};\n\n")

    comps = sorted(((a << 21) | b, c) for (a, b), c in compositions.items())
    w(f"const Composition kCompositions[{len(comps)}] = {{\n")
    Rows(comps, 4, lambda e: f"{{0x{e[0]:X}ull,0x{e[1]:X}}}")
    w("};\n")
    w(f"const size_t kNumCompositions = {len(comps)};\n\n")
    w("}  // namespace qwen::gateway::unicode_tables\n")


if __name__ == "__main__":
    main()
