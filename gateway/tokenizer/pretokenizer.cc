#include "gateway/tokenizer/pretokenizer.h"

#include "gateway/tokenizer/unicode.h"

namespace qwen::gateway {

const char kQwen35PretokenizeRegex[] =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char kQwen2PretokenizeRegex[] =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

namespace {

namespace ut = unicode_tables;

// One decoded code point with its class bits.
struct Cp {
  char32_t cp;
  int length;
  uint8_t flags;
};

// Walks the text; `At(pos)` classifies the code point at a byte offset (pos < size).
class Cursor {
 public:
  explicit Cursor(std::string_view text) : text_(text) {}
  size_t size() const { return text_.size(); }
  Cp At(size_t pos) const {
    const auto b = static_cast<unsigned char>(text_[pos]);
    if (b < 0x80) return {b, 1, AsciiFlags(b)};
    const DecodedCodepoint d = DecodeUtf8(text_.data() + pos, text_.data() + text_.size());
    return {d.cp, d.length, CodepointFlags(d.cp)};
  }
  // End of the run of code points from `pos` whose flags intersect `mask`.
  size_t RunEnd(size_t pos, uint8_t mask) const {
    while (pos < text_.size()) {
      const Cp c = At(pos);
      if ((c.flags & mask) == 0) break;
      pos += c.length;
    }
    return pos;
  }
  // End of the run of code points from `pos` whose flags do NOT intersect `mask`.
  size_t RunEndNot(size_t pos, uint8_t mask) const {
    while (pos < text_.size()) {
      const Cp c = At(pos);
      if ((c.flags & mask) != 0) break;
      pos += c.length;
    }
    return pos;
  }

 private:
  static uint8_t AsciiFlags(unsigned char b) {
    if ((b | 0x20) >= 'a' && (b | 0x20) <= 'z') return ut::kLetter;
    if (b >= '0' && b <= '9') return ut::kNumber;
    if (b == ' ' || (b >= 0x09 && b <= 0x0D)) return ut::kWhiteSpace;
    return 0;
  }
  std::string_view text_;
};

bool IsNewline(char32_t c) { return c == '\r' || c == '\n'; }

// Case-insensitive ASCII letter test for the contraction group; 's' also matches U+017F.
bool FoldEquals(char32_t c, char lower) {
  if (c < 0x80) return (static_cast<char>(c) | 0x20) == lower;
  return lower == 's' && c == 0x17F;
}

// Length of `'s|'t|'re|'ve|'m|'ll|'d` (case-insensitive) at pos, or 0.
size_t MatchContraction(const Cursor& cur, size_t pos) {
  if (pos + 1 >= cur.size()) return 0;
  const Cp c1 = cur.At(pos + 1);
  if (FoldEquals(c1.cp, 's') || FoldEquals(c1.cp, 't') || FoldEquals(c1.cp, 'm') ||
      FoldEquals(c1.cp, 'd')) {
    return 1 + c1.length;
  }
  const size_t p2 = pos + 1 + c1.length;
  if (p2 >= cur.size()) return 0;
  const Cp c2 = cur.At(p2);
  if ((FoldEquals(c1.cp, 'r') && FoldEquals(c2.cp, 'e')) ||
      (FoldEquals(c1.cp, 'v') && FoldEquals(c2.cp, 'e')) ||
      (FoldEquals(c1.cp, 'l') && FoldEquals(c2.cp, 'l'))) {
    return 1 + c1.length + c2.length;
  }
  return 0;
}

}  // namespace

size_t MatchPiece(PretokenizerPattern pattern, std::string_view text, size_t pos) {
  const Cursor cur(text);
  const bool qwen35 = pattern == PretokenizerPattern::kQwen35;
  // Class of the letter run, and the classes the punctuation run excludes.
  const uint8_t letter_run = qwen35 ? (ut::kLetter | ut::kMark) : ut::kLetter;
  const uint8_t not_punct =
      ut::kWhiteSpace | ut::kLetter | ut::kNumber | (qwen35 ? ut::kMark : uint8_t{0});
  const Cp c0 = cur.At(pos);
  const size_t p1 = pos + c0.length;

  // (?i:'s|'t|'re|'ve|'m|'ll|'d)
  if (c0.cp == '\'') {
    const size_t n = MatchContraction(cur, pos);
    if (n > 0) return n;
  }
  // [^\r\n\p{L}\p{N}]?<letter run>+ : the optional code point is taken when a run follows it.
  if (!IsNewline(c0.cp) && (c0.flags & (ut::kLetter | ut::kNumber)) == 0 && p1 < cur.size() &&
      (cur.At(p1).flags & letter_run) != 0) {
    return cur.RunEnd(p1, letter_run) - pos;
  }
  if ((c0.flags & letter_run) != 0) return cur.RunEnd(pos, letter_run) - pos;
  // \p{N}
  if ((c0.flags & ut::kNumber) != 0) return c0.length;
  // ' ?<punct>+[\r\n]*'
  size_t punct_start = std::string_view::npos;
  if (c0.cp == ' ' && p1 < cur.size() && (cur.At(p1).flags & not_punct) == 0) {
    punct_start = p1;
  } else if ((c0.flags & not_punct) == 0) {
    punct_start = pos;
  }
  if (punct_start != std::string_view::npos) {
    size_t end = cur.RunEndNot(punct_start, not_punct);
    while (end < cur.size() && (text[end] == '\r' || text[end] == '\n')) ++end;
    return end - pos;
  }
  // What remains starts with white space (every other code point matched above).
  if ((c0.flags & ut::kWhiteSpace) == 0) return c0.length;  // unreachable for valid UTF-8
  const size_t ws_end = cur.RunEnd(pos, ut::kWhiteSpace);
  // \s*[\r\n]+ : greedy \s* backs off to the last newline of the white-space run.
  size_t last_newline = std::string_view::npos;
  for (size_t p = pos; p < ws_end;) {
    const Cp c = cur.At(p);
    if (IsNewline(c.cp)) last_newline = p;
    p += c.length;
  }
  if (last_newline != std::string_view::npos) return last_newline + 1 - pos;
  // \s+(?!\S) : the whole run at the end of text, else the run minus its last code point (which
  // then joins the next piece), if that leaves at least one code point.
  if (ws_end == cur.size()) return ws_end - pos;
  if (ws_end - pos > 0) {
    size_t last = pos;  // start of the run's last code point
    for (size_t p = pos; p < ws_end;) {
      last = p;
      p += cur.At(p).length;
    }
    if (last > pos) return last - pos;
  }
  // \s+
  return ws_end - pos;
}

void SplitPieces(PretokenizerPattern pattern, std::string_view text,
                 std::vector<std::string_view>* pieces) {
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t n = MatchPiece(pattern, text, pos);
    pieces->push_back(text.substr(pos, n));
    pos += n;
  }
}

}  // namespace qwen::gateway
