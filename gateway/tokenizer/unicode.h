// UTF-8 and Unicode helpers for the tokenizer: code point classes for the pre-tokenizer regex,
// NFC normalization, and lossy UTF-8 repair with the same replacement rule as Rust's
// String::from_utf8_lossy (what Hugging Face `tokenizers` uses when decoding).
// All data comes from the generated unicode_tables.cc: Unicode 14.0.0 categories, and NFC data
// as Hugging Face `tokenizers` has it (Unicode 9.0: later combining marks count as starters; see
// tools/gen_unicode_tables.py). Nothing here has global state; every function is thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "gateway/tokenizer/unicode_tables.h"

namespace qwen::gateway {

// Bit set of unicode_tables::kLetter / kMark / kNumber / kWhiteSpace / kNfcUnsafe for `cp`;
// 0 for values above U+10FFFF.
inline uint8_t CodepointFlags(char32_t cp) {
  if (cp >= 0x110000) return 0;
  return unicode_tables::kFlagBlocks[unicode_tables::kFlagBlockIndex[cp >>
                                                                     unicode_tables::kBlockShift]]
                                    [cp & ((1u << unicode_tables::kBlockShift) - 1)];
}

struct DecodedCodepoint {
  char32_t cp;
  int length;  // bytes consumed, 1..4
};

// Decodes the code point starting at `p`. Expects valid UTF-8 with at least one byte before `end`
// (callers validate text once with IsValidUtf8); never reads past `end`.
inline DecodedCodepoint DecodeUtf8(const char* p, const char* end) {
  const auto b0 = static_cast<unsigned char>(p[0]);
  if (b0 < 0x80) return {b0, 1};
  const auto cont = [&](int i) -> char32_t {
    return p + i < end ? static_cast<unsigned char>(p[i]) & 0x3F : 0;
  };
  if (b0 < 0xE0) return {((b0 & 0x1Fu) << 6) | cont(1), 2};
  if (b0 < 0xF0) return {((b0 & 0x0Fu) << 12) | (cont(1) << 6) | cont(2), 3};
  return {((b0 & 0x07u) << 18) | (cont(1) << 12) | (cont(2) << 6) | cont(3), 4};
}

// Appends the UTF-8 encoding of `cp` (expects a Unicode scalar value).
void AppendUtf8(char32_t cp, std::string* out);

// Byte offset of the first byte that is not part of well-formed UTF-8 (overlongs, surrogates and
// values above U+10FFFF are ill-formed), or std::string_view::npos when `text` is valid.
size_t FindInvalidUtf8(std::string_view text);
inline bool IsValidUtf8(std::string_view text) {
  return FindInvalidUtf8(text) == std::string_view::npos;
}

// Appends `bytes` to `out` as valid UTF-8, replacing each maximal ill-formed subpart with U+FFFD
// (Unicode §3.9 "best practice", as Rust's from_utf8_lossy). When `final` is false, an incomplete
// but so far valid sequence at the end is not consumed, so that streaming callers can complete it
// with later bytes. Returns the number of bytes consumed (always bytes.size() when `final`).
// Feeding a byte stream in pieces, carrying over the unconsumed tail, yields exactly the text of
// one lossy conversion of the whole stream.
size_t AppendUtf8Lossy(std::string_view bytes, bool final, std::string* out);

// True when `text` (valid UTF-8) contains no code point that NFC could change, which means
// `text` is already in NFC. Cheap: U+0000..U+02FF are skipped without a table lookup.
bool IsNfcQuick(std::string_view text);

// Appends NFC(`text`) to `out`. Expects valid UTF-8. Only the stretches around code points that
// NFC may change are decomposed and recomposed; the rest is copied.
void AppendNfc(std::string_view text, std::string* out);
std::string ToNfc(std::string_view text);

// Canonical combining class of `cp` (0 for starters).
uint8_t CombiningClass(char32_t cp);

}  // namespace qwen::gateway
