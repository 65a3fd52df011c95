#include "gateway/tokenizer/unicode.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "absl/container/inlined_vector.h"

namespace qwen::gateway {
namespace {

namespace ut = unicode_tables;

// Hangul syllable arithmetic (Unicode §3.12).
constexpr char32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr char32_t kLCount = 19, kVCount = 21, kTCount = 28;
constexpr char32_t kNCount = kVCount * kTCount, kSCount = kLCount * kNCount;

using CodepointBuffer = absl::InlinedVector<char32_t, 32>;

bool IsContinuation(unsigned char b) { return (b & 0xC0) == 0x80; }

// Length of the well-formed sequence that starts with lead byte `b0` and the valid range of its
// second byte (Unicode Table 3-7); 0 for bytes that cannot start a sequence.
struct LeadInfo {
  int length;
  unsigned char lo;
  unsigned char hi;
};
LeadInfo Lead(unsigned char b0) {
  if (b0 < 0x80) return {1, 0, 0};
  if (b0 < 0xC2) return {0, 0, 0};
  if (b0 < 0xE0) return {2, 0x80, 0xBF};
  if (b0 == 0xE0) return {3, 0xA0, 0xBF};
  if (b0 == 0xED) return {3, 0x80, 0x9F};
  if (b0 < 0xF0) return {3, 0x80, 0xBF};
  if (b0 == 0xF0) return {4, 0x90, 0xBF};
  if (b0 < 0xF4) return {4, 0x80, 0xBF};
  if (b0 == 0xF4) return {4, 0x80, 0x8F};
  return {0, 0, 0};
}

// Length of the maximal prefix of a well-formed sequence at bytes[i] (>= 1 byte examined) and
// whether it is a complete sequence. `complete == false` with `length == bytes.size() - i` means
// the sequence may still be completed by more bytes.
struct SequenceCheck {
  int length;
  bool complete;
};
SequenceCheck CheckSequence(std::string_view bytes, size_t i) {
  const auto b0 = static_cast<unsigned char>(bytes[i]);
  const LeadInfo lead = Lead(b0);
  if (lead.length == 0) return {1, false};
  if (lead.length == 1) return {1, true};
  for (int k = 1; k < lead.length; ++k) {
    if (i + k >= bytes.size()) return {k, false};
    const auto b = static_cast<unsigned char>(bytes[i + k]);
    const bool ok = k == 1 ? (b >= lead.lo && b <= lead.hi) : IsContinuation(b);
    if (!ok) return {k, false};
  }
  return {lead.length, true};
}

uint8_t Ccc(char32_t cp) {
  if (cp < 0x300) return 0;
  const ut::CombiningClassRange* begin = ut::kCombiningClasses;
  const ut::CombiningClassRange* end = begin + ut::kNumCombiningClasses;
  const auto* it = std::upper_bound(
      begin, end, cp, [](char32_t c, const ut::CombiningClassRange& r) { return c < r.first; });
  if (it == begin) return 0;
  --it;
  return cp <= it->last ? it->ccc : 0;
}

void Decompose(char32_t cp, CodepointBuffer* out) {
  if (cp >= kSBase && cp < kSBase + kSCount) {
    const char32_t s = cp - kSBase;
    out->push_back(kLBase + s / kNCount);
    out->push_back(kVBase + (s % kNCount) / kTCount);
    if (s % kTCount != 0) out->push_back(kTBase + s % kTCount);
    return;
  }
  const ut::Decomposition* begin = ut::kDecompositions;
  const ut::Decomposition* end = begin + ut::kNumDecompositions;
  const auto* it = std::lower_bound(
      begin, end, cp, [](const ut::Decomposition& d, char32_t c) { return d.cp < c; });
  if (it != end && it->cp == cp) {
    out->insert(out->end(), ut::kDecompositionPool + it->offset,
                ut::kDecompositionPool + it->offset + it->length);
  } else {
    out->push_back(cp);
  }
}

// The primary composite of (a, b), or 0.
char32_t Compose(char32_t a, char32_t b) {
  if (a >= kLBase && a < kLBase + kLCount && b >= kVBase && b < kVBase + kVCount) {
    return kSBase + ((a - kLBase) * kVCount + (b - kVBase)) * kTCount;
  }
  if (a >= kSBase && a < kSBase + kSCount && (a - kSBase) % kTCount == 0 && b > kTBase &&
      b < kTBase + kTCount) {
    return a + (b - kTBase);
  }
  const uint64_t key = (static_cast<uint64_t>(a) << 21) | b;
  const ut::Composition* begin = ut::kCompositions;
  const ut::Composition* end = begin + ut::kNumCompositions;
  const auto* it = std::lower_bound(
      begin, end, key, [](const ut::Composition& c, uint64_t k) { return c.pair < k; });
  return it != end && it->pair == key ? it->composite : 0;
}

// NFC of a stretch of code points (decompose, canonical order, compose), appended as UTF-8.
void NormalizeStretch(const CodepointBuffer& input, std::string* out) {
  CodepointBuffer decomposed;
  for (char32_t cp : input) Decompose(cp, &decomposed);
  // Canonical ordering: stable insertion sort of each run of non-starters by combining class.
  for (size_t i = 1; i < decomposed.size(); ++i) {
    const uint8_t ccc = Ccc(decomposed[i]);
    if (ccc == 0) continue;
    size_t j = i;
    while (j > 0) {
      const uint8_t prev = Ccc(decomposed[j - 1]);
      if (prev == 0 || prev <= ccc) break;
      std::swap(decomposed[j - 1], decomposed[j]);
      --j;
    }
  }
  // Canonical composition.
  CodepointBuffer composed;
  int starter = -1;   // index in `composed` of the last starter
  int last_ccc = -1;  // ccc of the last code point kept after that starter; -1 when adjacent
  for (char32_t cp : decomposed) {
    const uint8_t ccc = Ccc(cp);
    if (starter >= 0 && (last_ccc == -1 || last_ccc < ccc)) {
      const char32_t composite = Compose(composed[starter], cp);
      if (composite != 0) {
        composed[starter] = composite;
        continue;
      }
    }
    if (ccc == 0) {
      starter = static_cast<int>(composed.size());
      last_ccc = -1;
    } else {
      last_ccc = ccc;
    }
    composed.push_back(cp);
  }
  for (char32_t cp : composed) AppendUtf8(cp, out);
}

bool IsUnsafe(char32_t cp) { return (CodepointFlags(cp) & ut::kNfcUnsafe) != 0; }

}  // namespace

void AppendUtf8(char32_t cp, std::string* out) {
  char buf[4];
  int n;
  if (cp < 0x80) {
    buf[0] = static_cast<char>(cp);
    n = 1;
  } else if (cp < 0x800) {
    buf[0] = static_cast<char>(0xC0 | (cp >> 6));
    buf[1] = static_cast<char>(0x80 | (cp & 0x3F));
    n = 2;
  } else if (cp < 0x10000) {
    buf[0] = static_cast<char>(0xE0 | (cp >> 12));
    buf[1] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    buf[2] = static_cast<char>(0x80 | (cp & 0x3F));
    n = 3;
  } else {
    buf[0] = static_cast<char>(0xF0 | (cp >> 18));
    buf[1] = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    buf[2] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    buf[3] = static_cast<char>(0x80 | (cp & 0x3F));
    n = 4;
  }
  out->append(buf, n);
}

size_t FindInvalidUtf8(std::string_view text) {
  size_t i = 0;
  const size_t n = text.size();
  while (i < n) {
    // ASCII fast path, 8 bytes at a time.
    if (i + 8 <= n) {
      uint64_t word;
      std::memcpy(&word, text.data() + i, 8);
      if ((word & 0x8080808080808080ull) == 0) {
        i += 8;
        continue;
      }
    }
    if (static_cast<unsigned char>(text[i]) < 0x80) {
      ++i;
      continue;
    }
    const SequenceCheck check = CheckSequence(text, i);
    if (!check.complete) return i;
    i += check.length;
  }
  return std::string_view::npos;
}

size_t AppendUtf8Lossy(std::string_view bytes, bool final, std::string* out) {
  static constexpr char kReplacement[] = "\xEF\xBF\xBD";
  size_t i = 0;
  size_t run_start = 0;  // start of the valid bytes not yet copied
  const size_t n = bytes.size();
  while (i < n) {
    if (static_cast<unsigned char>(bytes[i]) < 0x80) {
      ++i;
      continue;
    }
    const SequenceCheck check = CheckSequence(bytes, i);
    if (check.complete) {
      i += check.length;
      continue;
    }
    out->append(bytes.data() + run_start, i - run_start);
    if (i + check.length == n && Lead(static_cast<unsigned char>(bytes[i])).length > 0 && !final) {
      return i;  // an incomplete sequence that later bytes may complete
    }
    out->append(kReplacement, 3);
    i += check.length;
    run_start = i;
  }
  out->append(bytes.data() + run_start, n - run_start);
  return n;
}

bool IsNfcQuick(std::string_view text) {
  const char* p = text.data();
  const char* end = p + text.size();
  while (p < end) {
    const auto b = static_cast<unsigned char>(*p);
    if (b < 0x80) {
      ++p;
    } else if (b < 0xCC) {  // U+0080..U+02FF and stray continuation bytes
      p += 2;
    } else {
      const DecodedCodepoint d = DecodeUtf8(p, end);
      if (IsUnsafe(d.cp)) return false;
      p += d.length;
    }
  }
  return true;
}

void AppendNfc(std::string_view text, std::string* out) {
  const char* p = text.data();
  const char* end = p + text.size();
  // Byte offset in `out` of the last code point copied as safe (a starter that neither changes
  // nor combines with what precedes it), or npos. A stretch that needs normalizing starts there:
  // nothing before a safe code point can interact with what follows it.
  size_t last_safe = std::string::npos;
  CodepointBuffer stretch;
  while (p < end) {
    const DecodedCodepoint d = DecodeUtf8(p, end);
    if (d.cp < 0x300 || !IsUnsafe(d.cp)) {
      last_safe = out->size();
      out->append(p, d.length);
      p += d.length;
      continue;
    }
    stretch.clear();
    if (last_safe != std::string::npos) {
      const std::string& o = *out;
      stretch.push_back(DecodeUtf8(o.data() + last_safe, o.data() + o.size()).cp);
      out->resize(last_safe);
    }
    while (p < end) {
      const DecodedCodepoint next = DecodeUtf8(p, end);
      if (next.cp < 0x300 || !IsUnsafe(next.cp)) break;
      stretch.push_back(next.cp);
      p += next.length;
    }
    NormalizeStretch(stretch, out);
    last_safe = std::string::npos;
  }
}

std::string ToNfc(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  AppendNfc(text, &out);
  return out;
}

uint8_t CombiningClass(char32_t cp) { return Ccc(cp); }

}  // namespace qwen::gateway
