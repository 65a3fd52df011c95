// Unicode data tables for the tokenizer (internal). Defined in the generated unicode_tables.cc;
// use the accessors in gateway/tokenizer/unicode.h instead of reading these directly.
#pragma once

#include <cstddef>
#include <cstdint>

namespace qwen::gateway::unicode_tables {

// Flag bits stored per code point.
inline constexpr uint8_t kLetter = 1;      // general category L*
inline constexpr uint8_t kMark = 2;        // general category M*
inline constexpr uint8_t kNumber = 4;      // general category N*
inline constexpr uint8_t kWhiteSpace = 8;  // White_Space property (regex \s)
inline constexpr uint8_t kNfcUnsafe = 16;  // may change under NFC (see the generator)

inline constexpr int kBlockShift = 7;
extern const char kUnicodeVersion[];
// flags(cp) = kFlagBlocks[kFlagBlockIndex[cp >> kBlockShift]][cp & 127], for cp < 0x110000.
extern const uint8_t kFlagBlockIndex[0x110000 >> kBlockShift];
extern const uint8_t kFlagBlocks[][1 << kBlockShift];

struct CombiningClassRange {
  char32_t first;
  char32_t last;
  uint8_t ccc;
};
extern const CombiningClassRange kCombiningClasses[];  // sorted, disjoint
extern const size_t kNumCombiningClasses;

// Full canonical decomposition of `cp`: kDecompositionPool[offset, offset + length).
struct Decomposition {
  char32_t cp;
  uint16_t offset;
  uint8_t length;
};
extern const char32_t kDecompositionPool[];
extern const Decomposition kDecompositions[];  // sorted by cp; Hangul syllables excluded
extern const size_t kNumDecompositions;

// Primary composites: pair = first << 21 | second.
struct Composition {
  uint64_t pair;
  char32_t composite;
};
extern const Composition kCompositions[];  // sorted by pair; Hangul excluded
extern const size_t kNumCompositions;

}  // namespace qwen::gateway::unicode_tables
