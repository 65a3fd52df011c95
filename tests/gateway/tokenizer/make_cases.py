#!/usr/bin/env python3
"""Generates the `tokenizer` reference cases (shared/REFERENCE_CASES.md) with Hugging Face
`tokenizers` (the .venv made by scripts/setup.sh):

    .venv/bin/python tests/gateway/tokenizer/make_cases.py --out tests/reference

Trains two small byte-level BPE tokenizers on varied multilingual text and writes, per folder:
    case.json              {"kind": "tokenizer", "seed", "notes"}
    tokenizer.json         the exact Qwen pipeline (NFC, Split regex + ByteLevel, BPE, ByteLevel)
    tokenizer_config.json  (qwen35 only) added_tokens_decoder with the 7 config-only tokens
    cases.json             [{text, ids, decoded, decoded_skip_special}] for CASE_TEXTS + fuzz
    decode_cases.json      [{ids, decoded, decoded_skip_special}] for random id sequences
                           (UTF-8 split across tokens, ill-formed sequences, special tokens)
and tests/gateway/tokenizer/testdata/nfc_cases.json [{text, nfc}] with the NFC of `tokenizers`
(whose Unicode 9.0 data differs from Python's unicodedata for marks added since): every
canonically decomposable code point, decomposed and whole, plus random mark sequences.

  tokenizer_qwen35_small   Qwen3.5 regex, merges as ["a", "b"] pairs, the 33 Qwen added tokens
                           in their real order and special flags, ids right after the vocabulary
                           (HF assigns added-token ids itself, so the real 248044.. ids need the
                           real vocabulary: see qwen35_tokenizer_json.py); 248070..248076's
                           counterparts are only in tokenizer_config.json, as in the checkpoint.
  tokenizer_qwen2_legacy   Qwen2 regex, legacy "a b" merges, and added tokens exercising
                           lstrip / rstrip / single_word / normalized / overlapping contents.
"""
import argparse
import json
import os
import random
import sys

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

QWEN35_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}|"
                r" ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|"
               r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")

# (content, special) in id order, shared/spec/TOKENIZER_AND_TEMPLATE.md §1.6.
QWEN_ADDED_TOKENS = [
    ("<|endoftext|>", True), ("<|im_start|>", True), ("<|im_end|>", True),
    ("<|object_ref_start|>", True), ("<|object_ref_end|>", True), ("<|box_start|>", True),
    ("<|box_end|>", True), ("<|quad_start|>", True), ("<|quad_end|>", True),
    ("<|vision_start|>", True), ("<|vision_end|>", True), ("<|vision_pad|>", True),
    ("<|image_pad|>", True), ("<|video_pad|>", True), ("<tool_call>", False),
    ("</tool_call>", False), ("<|fim_prefix|>", False), ("<|fim_middle|>", False),
    ("<|fim_suffix|>", False), ("<|fim_pad|>", False), ("<|repo_name|>", False),
    ("<|file_sep|>", False), ("<tool_response>", False), ("</tool_response>", False),
    ("<think>", False), ("</think>", False), ("<|audio_start|>", True), ("<|audio_end|>", True),
    ("<tts_pad>", True), ("<tts_text_bos>", True), ("<tts_text_eod>", True),
    ("<tts_text_bos_single>", True), ("<|audio_pad|>", True),
]
CONFIG_ONLY = 7  # the last 7 are defined only in tokenizer_config.json

CORPUS = [
    "The quick brown fox jumps over the lazy dog. It's 10:45 and we're late; they'll wait, I'd say.",
    "Hello, world! Hello world. HELLO WORLD!!! Don't, won't, can't, shouldn't've, Y'ALL'RE here.",
    "Café, naïve, résumé, façade, jalapeño, Ångström, Øresund, Dvořák, Łódź, İstanbul, Straße.",
    "Größere Äpfel schmecken süßer. Ça va très bien, merci ! ¿Dónde está la biblioteca? ¡Olé!",
    "Съешь же ещё этих мягких французских булок, да выпей чаю. Привет, мир! Ёлка и йогурт.",
    "Γειά σου κόσμε! Η γρήγορη καφέ αλεπού πηδάει πάνω από τον τεμπέλη σκύλο. κόσμος ΚΌΣΜΟΣ",
    "你好，世界！我们今天去公园散步吧。人工智能正在改变世界，机器学习和深度学习都很重要。",
    "こんにちは、世界！東京は日本の首都です。カタカナとひらがなを混ぜて書きます。ｶﾀｶﾅ",
    "안녕하세요, 세계! 한국어 문장을 토큰화합니다. 서울은 대한민국의 수도입니다.",
    "مرحبا بالعالم! اللغة العربية جميلة. كَتَبَ الطَّالِبُ الدَّرْسَ. ١٢٣٤٥٦٧٨٩٠",
    "שלום עולם! עברית נכתבת מימין לשמאל. בְּרֵאשִׁית בָּרָא",
    "नमस्ते दुनिया! हिन्दी भाषा देवनागरी लिपि में लिखी जाती है। क़ ख़ ग़ ज़ ड़ ढ़ फ़",
    "สวัสดีชาวโลก! ภาษาไทยไม่มีการเว้นวรรคระหว่างคำ น้ำ ที่ นี่",
    "Xin chào thế giới! Tiếng Việt có nhiều dấu: ắ ằ ẳ ẵ ặ ấ ầ ẩ ẫ ậ ế ề ể ễ ệ ố ồ ổ ỗ ộ ớ ờ ở ỡ ợ.",
    "Emoji: 🚀🔥😀👍🏽 👨‍👩‍👧‍👦 🇯🇵 🇺🇸 ❤️ ✨ 🤖 🎉🎉🎉 ☕ ⚡ 🌍🌎🌏",
    "def tokenize(text: str) -> list[int]:\n    return [ord(c) for c in text if c.isalnum()]\n",
    "int main(int argc, char** argv) {\n\tstd::vector<int> v{1, 2, 3};\n\treturn v.size() > 2 ? 0 : 1;\n}\n",
    '{"name": "qwen", "version": 3.5, "tags": ["llm", "moe"], "ok": true, "n": null}\n',
    "    indented code\n        more indented\n\n\n\ttabs\t\tand  spaces   here    \r\n",
    "Numbers: 0 1 2 3 42 3.14159 2,718 1e-9 -17 +23 100% $5.00 €9.99 ²³ ½ ¼ Ⅻ ⅷ ① ٣ ۴ ४ ๕",
    "Math: ∀x ∈ ℝ, x² ≥ 0; ∑ᵢ aᵢ = ∫₀¹ f(x) dx ≈ π/4 ≠ ∞ ⊂ ⊆ ∪ ∩ → ⇒ ↔ ≤ ≥ ± × ÷ √",
    "Quotes and dashes: “double” ‘single’ «guillemets» — en–dash … ellipsis · bullet • ™ © ®",
    "URLs: https://example.com/path?q=1&r=two#frag user@example.org C:\\Windows\\System32",
    "Mixed: abc123def, v2.0-beta, __init__, CamelCaseWords, snake_case_words, kebab-case-words",
]

CASE_TEXTS = [
    "", " ", "  ", "\n", "\n\n", "\r\n", "a", "Hello, world!", "Hello world",
    "你好，世界！", "The quick brown fox jumps over the lazy dog.", "Hello, world! 12345",
    "  spaced  text\n", "  multiple   spaces", "  one\n\nTwo... 42!\t", "Café — κόσμος 🚀",
    "<|im_start|>user\nHello<|im_end|>\n", "<|im_start|>system\n",
    "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n",
    "<|im_start|>assistant\n<tool_call>\n{\"name\": \"f\", \"arguments\": {}}\n</tool_call><|im_end|>",
    "<|vision_start|><|image_pad|><|image_pad|><|vision_end|>Describe it.",
    "<|audio_start|><|audio_pad|><|audio_end|><tts_pad><tts_text_bos_single>",
    "<|im_end|><|im_end|>", "<|im_end", "<|im_start|", "<<|im_end|>>", "<think></think>",
    "cafe\u0301 12 x", "e\u0301", "E\u0301\u0323", "a\u0323\u0302", "\u1100\u1161\u11a8",
    "\u1100\u1161 \u1100", "\u0041\u030a", "\u212b", "\u2126", "\u0344", "\u0958",
    "n\u0303o\u0308", "Ae\u0301\u0301\u0301", "\u0301leading mark", "mark at end\u0301",
    "x\u20dd", "\u0e19\u0e49\u0e33", "\u0915\u093c", "\u05d1\u05bc\u05b0",
    "I'm", "I'M", "you're", "YOU'RE", "we've", "they'll", "he'd", "it's", "IT'S", "'s", "'sss",
    "it\u017fs", "'\u017f", "'Ll", "'lL", "don't", "'", "''", "'x", " 's",
    "a  b", "a   b", "a \tb", "a\t\tb", "a\u00a0b", "a\u00a0\u00a0b", "a\u3000b", "a\u2028b",
    "a\u0085b", "a\u180eb", "a\ufeffb", "a\u200bb", "a\x1cb", "a\x0bb\x0cc", "x  \n  y",
    "trailing   ", "   leading", " \n \n ", "\n\n\n\n", "\r\r\n\n", "a\r\nb", "a \r\n b",
    "tab\there", "!!!", " !!!", "!!!\n\n", "...\r\n", "a...b", " (x)", "$$$ 100", "1234567890",
    "x²+y³", "½ ¼ ¾", "Ⅻ", "٣٤٥", "3.14", "1,000,000", "-1", "v1.2.3",
    "🚀", "🚀🚀", "👨‍👩‍👧", "👍🏽", "🇯🇵", "❤️", "a🚀b", " 🚀 ", "🚀\n",
    "日本語のテキスト", "한국어", "Привет мир", "مرحبا", "नमस्ते", "สวัสดี", "Tiếng Việt",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "\U0001d400\U0001d401", "\ue000\uf8ff", "\U000e0041", "\ufe0f", "\u0378\u0379",
    "\x00\x01\x02", "\x7f\x80\x9f", "\u00ad", "\ud7a3\uac00",
    "def f(x):\n    return x * 2\n", "if (a && b) { c++; }", "<div class=\"x\">y</div>",
    "user@example.com", "https://example.com/a?b=c", "C:\\path\\to\\file.txt",
] + CORPUS + [
    # Long pieces (the heap-based merge loop): white-space runs, a long word, base64, emoji.
    " " * 300 + "x", "a" * 500, "ab" * 150, "\n" * 100, "7" * 100, "🚀" * 60, "你好世界" * 40,
    "TWFueSBoYW5kcyBtYWtlIGxpZ2h0IHdvcmsuIFRoaXMgaXMgYSBsb25nIGJhc2U2NCBzdHJpbmcgd2l0aG91dCBhbnkg"
    "c3BhY2VzIHNvIHRoYXQgdGhlIHdob2xlIHRoaW5nIGlzIG9uZSBwcmUtdG9rZW5pemVkIHBpZWNlLg" * 3,
]

# Characters the fuzzer draws from: every regex class, NFC-relevant code points, added-token
# fragments, white space of every kind.
FUZZ_POOLS = [
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "0123456789²³½Ⅻ٣४",
    "!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~'''",
    " \t\n\r\x0b\x0c\x1c\x1f\x85\xa0\u1680\u2000\u2003\u200a\u2028\u2029\u202f\u205f\u3000\u180e\ufeff\u200b   ",
    "\u0300\u0301\u0302\u0303\u0308\u030a\u0323\u0327\u0345\u0483\u0591\u05bc\u064b\u0651\u093c\u094d\u0e31\u0e49\u20dd\u302a\u3099",
    "éèêëàáâãäåçñöøüÀÉÖÜŁſǅ\u212b\u2126\u1e9b\u0344\u0958\u0f73",
    "\u1100\u1112\u1161\u1175\u11a8\u11c2\uac00\ub098\ud7a3",
    "你好世界人工智能日本語カタカナひらがな한국어",
    "приветмирΓειάσουκόσμεمرحباשלוםनमस्तेสวัสดี",
    "🚀😀👍🏽👨\u200d👩\u200d👧❤\ufe0f🇯🇵",
    "€£¥©®™°±×÷→∀∈≤√∞…—–“”‘’«»",
    "\ue000\U000e0041\U0001d400\U00010000\u0378",
]
FUZZ_FRAGMENTS = ["<|im_end|>", "<|im_start|>", "<think>", "</think>", "<tool_call>", "<|im_",
                  "|>", "<", "'s", "'re", "'LL", " ", "\n", "  ", "\r\n"]


def FuzzTexts(rng, count):
    texts = []
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(1, 24)):
            if rng.random() < 0.1:
                parts.append(rng.choice(FUZZ_FRAGMENTS))
            else:
                pool = rng.choice(FUZZ_POOLS)
                parts.append("".join(rng.choice(pool) for _ in range(rng.randint(1, 4))))
        texts.append("".join(parts))
    return texts


def Train(regex, vocab_size, merges_as_strings):
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(regex), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=1, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    corpus = CORPUS * 3 + [t for t in CASE_TEXTS if t]
    tok.train_from_iterator(corpus, trainer)
    data = json.loads(tok.to_str())
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False,
                  "use_regex": False}
    data["pre_tokenizer"]["pretokenizers"][1] = byte_level
    data["post_processor"] = byte_level
    data["decoder"] = byte_level
    model = data["model"]
    model.update({"dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False,
                  "ignore_merges": False})
    if merges_as_strings:
        model["merges"] = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
    else:
        model["merges"] = [m.split(" ") if isinstance(m, str) else m for m in model["merges"]]
    return data


def AddedTokenJson(token_id, content, special, normalized=False, lstrip=False, rstrip=False,
                   single_word=False):
    return {"id": token_id, "content": content, "single_word": single_word, "lstrip": lstrip,
            "rstrip": rstrip, "normalized": normalized, "special": special}


def MakeCases(tok, texts):
    cases = []
    for text in texts:
        ids = tok.encode(text, add_special_tokens=False).ids
        cases.append({"text": text, "ids": ids,
                      "decoded": tok.decode(ids, skip_special_tokens=False),
                      "decoded_skip_special": tok.decode(ids, skip_special_tokens=True)})
    return cases


def MakeDecodeCases(tok, rng, count):
    vocab_size = tok.get_vocab_size(with_added_tokens=True)
    base = tok.get_vocab_size(with_added_tokens=False)
    cases = []
    for _ in range(count):
        ids = []
        for _ in range(rng.randint(1, 12)):
            r = rng.random()
            if r < 0.5:
                ids.append(rng.randrange(128, 256 + 0) if rng.random() < 0.5 else rng.randrange(base))
            elif r < 0.7:
                ids.append(rng.randrange(base, vocab_size))
            else:
                ids.append(rng.randrange(vocab_size))
        cases.append({"ids": ids, "decoded": tok.decode(ids, skip_special_tokens=False),
                      "decoded_skip_special": tok.decode(ids, skip_special_tokens=True)})
    return cases


def Write(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=1)
        f.write("\n")


def BuildQwen35(out_root, seed):
    rng = random.Random(seed)
    data = Train(QWEN35_REGEX, 3000, merges_as_strings=False)
    base = len(data["model"]["vocab"])
    added = [AddedTokenJson(base + i, c, s) for i, (c, s) in enumerate(QWEN_ADDED_TOKENS)]
    data["added_tokens"] = added[:-CONFIG_ONLY]
    config = {"add_bos_token": False, "add_prefix_space": False, "bos_token": None,
              "clean_up_tokenization_spaces": False, "eos_token": "<|im_end|>",
              "pad_token": "<|endoftext|>", "model_max_length": 262144,
              "tokenizer_class": "Qwen2Tokenizer", "split_special_tokens": False,
              "added_tokens_decoder": {str(t["id"]): {k: v for k, v in t.items() if k != "id"}
                                       for t in added}}
    full = dict(data, added_tokens=added)  # what transformers ends up with after the config
    tok = Tokenizer.from_str(json.dumps(full))
    folder = os.path.join(out_root, "tokenizer_qwen35_small")
    os.makedirs(folder, exist_ok=True)
    Write(os.path.join(folder, "tokenizer.json"), data)
    Write(os.path.join(folder, "tokenizer_config.json"), config)
    Write(os.path.join(folder, "cases.json"), MakeCases(tok, CASE_TEXTS + FuzzTexts(rng, 400)))
    Write(os.path.join(folder, "decode_cases.json"), MakeDecodeCases(tok, rng, 200))
    Write(os.path.join(folder, "case.json"), {
        "kind": "tokenizer", "seed": seed, "notes": "Qwen3.5 pipeline, 3000-token BPE trained "
        "by make_cases.py; 33 Qwen added tokens after the vocabulary, the last 7 only in "
        "tokenizer_config.json; cases computed with those 7 merged in"})


def BuildQwen2Legacy(out_root, seed):
    rng = random.Random(seed)
    data = Train(QWEN2_REGEX, 2000, merges_as_strings=True)
    base = len(data["model"]["vocab"])
    extra = [
        ("<|endoftext|>", True, {}), ("<|im_start|>", True, {}), ("<|im_end|>", True, {}),
        ("<think>", False, {}), ("</think>", False, {}),
        ("<|im_end|>x", False, {}),                       # longer overlapping content
        ("[L]", True, {"lstrip": True}), ("[R]", True, {"rstrip": True}),
        ("[LR]", False, {"lstrip": True, "rstrip": True}),
        ("word", False, {"single_word": True}),
        ("café", False, {"normalized": True}),           # matched after NFC
        ("ÅNGSTRÖM", False, {"normalized": True}),
        ("日本", False, {}),                              # decodes as its UTF-8
        ("<sp ace>", True, {}),
    ]
    data["added_tokens"] = [AddedTokenJson(base + i, c, s, **flags)
                            for i, (c, s, flags) in enumerate(extra)]
    tok = Tokenizer.from_str(json.dumps(data))
    for i, (c, _, _) in enumerate(extra):
        assert tok.token_to_id(c) == base + i, (c, tok.token_to_id(c))
    texts = CASE_TEXTS + [
        "a [L] b", "a  [L]b", "a[R]  b", "x \t[LR]\n y", "[L][R][LR]", "  [L]", "[R]  ",
        "word", "a word b", "sword", "words", "word_", "_word", "word!", "(word)", "wordword",
        "café", "cafe\u0301", "CAFÉ café", "A\u030angstro\u0308m", "ÅNGSTRÖM x", "日本語", "日本",
        "<sp ace>", "<|im_end|>x", "<|im_end|>y", "<|im_end|>xx", "<think>word</think>",
        "\u0301\u0301", "e\u0301\u0301", "a\u0308b\u0308",
    ]
    folder = os.path.join(out_root, "tokenizer_qwen2_legacy")
    os.makedirs(folder, exist_ok=True)
    Write(os.path.join(folder, "tokenizer.json"), data)
    Write(os.path.join(folder, "cases.json"), MakeCases(tok, texts + FuzzTexts(rng, 300)))
    Write(os.path.join(folder, "decode_cases.json"), MakeDecodeCases(tok, rng, 100))
    Write(os.path.join(folder, "case.json"), {
        "kind": "tokenizer", "seed": seed, "notes": "Qwen2 regex, legacy 'a b' merges, added "
        "tokens with lstrip/rstrip/single_word/normalized flags; no tokenizer_config.json"})


def WriteNfcCases(path, seed):
    import unicodedata
    hf_nfc = normalizers.NFC().normalize_str
    rng = random.Random(seed)
    cases = []
    for cp in range(0x110000):
        if 0xD800 <= cp < 0xE000:
            continue
        ch = chr(cp)
        nfd = unicodedata.normalize("NFD", ch)
        if nfd != ch and not (0xAC00 <= cp < 0xAC00 + 11172 and cp % 7 != 0):
            cases.append(ch)
            cases.append(nfd)
    marks = [chr(c) for c in range(0x300, 0x370)] + ["\u0591", "\u05b0", "\u064b", "\u0651",
             "\u093c", "\u094d", "\u0e48", "\u1dc0", "\u20d0", "\u302a", "\u3099", "\u309a",
             # combining marks newer than Unicode 9.0 (class 0 for tokenizers' NFC)
             "\u08d3", "\u0d3b", "\u1715", "\u1acd", "\u1df9", "\U00010f46", "\U00011930"]
    bases = list("aeiouAEIOUnNcCsSzZkKgGyYwW") + ["\u0915", "\u05d0", "\u0627", "\u304b",
             "\u1100", "\u1161", "\u11a8", "\uac00", "\u03b1", "\u0430", "\u0b47", "\u0b3e",
             "\u0cc6", "\u0cd5", "\u00e9", " ", "1", "\U00011935"]
    for _ in range(1500):
        cases.append("".join(rng.choice(bases if rng.random() < 0.4 else marks)
                             for _ in range(rng.randint(1, 8))))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Write(path, [{"text": t, "nfc": hf_nfc(t)} for t in cases])


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="tests/reference")
    parser.add_argument("--seed", type=int, default=20260801)
    args = parser.parse_args()
    BuildQwen35(args.out, args.seed)
    BuildQwen2Legacy(args.out, args.seed + 1)
    WriteNfcCases(os.path.join(os.path.dirname(os.path.abspath(__file__)), "testdata",
                               "nfc_cases.json"), args.seed + 2)
    print(f"wrote tokenizer cases under {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
