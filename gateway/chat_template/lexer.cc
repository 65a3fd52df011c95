#include "gateway/chat_template/lexer.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "gateway/chat_template/py_text.h"

namespace qwen::gateway::jinja {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsNameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsNameChar(char c) { return IsNameStart(c) || IsDigit(c); }

// Byte length of the whitespace code point at `pos` (Python regex \s), or 0.
size_t SpaceLength(std::string_view s, size_t pos) {
  const unsigned char c = static_cast<unsigned char>(s[pos]);
  if (c < 0x80) return IsPySpace(c) ? 1 : 0;
  size_t len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : 4;
  if (pos + len > s.size()) return 0;
  const std::u32string cp = DecodeUtf8(s.substr(pos, len));
  return cp.size() == 1 && IsPySpace(cp[0]) ? len : 0;
}

size_t SkipSpaces(std::string_view s, size_t pos) {
  while (pos < s.size()) {
    const size_t n = SpaceLength(s, pos);
    if (n == 0) break;
    pos += n;
  }
  return pos;
}

// Python str.rstrip() of a data chunk.
std::string_view RStrip(std::string_view text) {
  const std::string stripped = PyStrip(text, false, true);
  return text.substr(0, stripped.size());
}

// lstrip_blocks: drops the whitespace between the last line start and a block/comment tag.
std::string_view LStripBlock(std::string_view text, bool line_starting) {
  const size_t nl = text.rfind('\n');
  const size_t l_pos = nl == std::string_view::npos ? 0 : nl + 1;
  if (l_pos == 0 && !line_starting) return text;
  if (l_pos == text.size()) return text;  // `\s+` needs at least one character
  if (SkipSpaces(text, l_pos) != text.size()) return text;
  return text.substr(0, l_pos);
}

bool HexValue(char c, unsigned* v) {
  if (c >= '0' && c <= '9') {
    *v = c - '0';
  } else if (c >= 'a' && c <= 'f') {
    *v = c - 'a' + 10;
  } else if (c >= 'A' && c <= 'F') {
    *v = c - 'A' + 10;
  } else {
    return false;
  }
  return true;
}

constexpr std::string_view kOperators[] = {
    "//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~", "[", "]", "(",
    ")",  "{",  "}",  ">",  "<",  "=",  ".", ":", "|", ",", ";"};

class Lexer {
 public:
  Lexer(std::string_view source, const SourceMap& map) : src_(source), map_(map) {}

  absl::StatusOr<std::vector<Token>> Run() {
    size_t pos = 0;
    bool line_starting = true;
    while (pos < src_.size()) {
      const size_t tag = FindTagStart(pos);
      if (tag == std::string_view::npos) {
        Emit(TokenKind::kData, std::string(src_.substr(pos)), pos);
        break;
      }
      const char type = src_[tag + 1];
      const char sign = tag + 2 < src_.size() && (src_[tag + 2] == '-' || src_[tag + 2] == '+')
                            ? src_[tag + 2]
                            : '\0';
      std::string_view text = src_.substr(pos, tag - pos);
      if (sign == '-') {
        text = RStrip(text);
      } else if (sign != '+' && type != '{') {
        text = LStripBlock(text, line_starting);
      }
      if (!text.empty()) Emit(TokenKind::kData, std::string(text), pos);
      pos = tag + 2 + (sign != '\0' ? 1 : 0);
      absl::StatusOr<size_t> next;
      if (type == '#') {
        next = LexComment(tag, pos);
      } else if (type == '%') {
        const size_t raw_end = MatchRawBegin(pos);
        next = raw_end != std::string_view::npos ? LexRaw(tag, raw_end) : LexTag(tag, pos, true);
      } else {
        next = LexTag(tag, pos, false);
      }
      if (!next.ok()) return next.status();
      pos = *next;
      line_starting = pos > 0 && src_[pos - 1] == '\n';
    }
    Emit(TokenKind::kEof, "", src_.size());
    return std::move(tokens_);
  }

 private:
  absl::Status Error(size_t offset, const std::string& message) const {
    return absl::InvalidArgumentError(absl::StrCat(map_.Describe(offset), ": ", message));
  }

  void Emit(TokenKind kind, std::string value, size_t offset) {
    Token t;
    t.kind = kind;
    t.value = std::move(value);
    t.offset = offset;
    tokens_.push_back(std::move(t));
  }

  size_t FindTagStart(size_t pos) const {
    while (true) {
      pos = src_.find('{', pos);
      if (pos == std::string_view::npos || pos + 1 >= src_.size()) return std::string_view::npos;
      const char c = src_[pos + 1];
      if (c == '{' || c == '%' || c == '#') return pos;
      ++pos;
    }
  }

  // End of "{% raw %}" (after the optional sign) or npos.
  size_t MatchRawBegin(size_t pos) const {
    size_t p = SkipSpaces(src_, pos);
    if (src_.substr(p, 3) != "raw") return std::string_view::npos;
    p = SkipSpaces(src_, p + 3);
    if (src_.substr(p, 3) == "-%}") return SkipSpaces(src_, p + 3);
    if (src_.substr(p, 2) == "%}") return p + 2;
    return std::string_view::npos;
  }

  absl::StatusOr<size_t> LexRaw(size_t tag, size_t pos) {
    // Find "{%[-+]? endraw [+-]?%}".
    size_t search = pos;
    while (true) {
      const size_t open = src_.find("{%", search);
      if (open == std::string_view::npos) return Error(tag, "Missing end of raw directive");
      size_t p = open + 2;
      const char sign = p < src_.size() && (src_[p] == '-' || src_[p] == '+') ? src_[p] : '\0';
      if (sign != '\0') ++p;
      p = SkipSpaces(src_, p);
      if (src_.substr(p, 6) != "endraw") {
        search = open + 2;
        continue;
      }
      p = SkipSpaces(src_, p + 6);
      size_t end;
      if (src_.substr(p, 3) == "+%}") {
        end = p + 3;
      } else if (src_.substr(p, 3) == "-%}") {
        end = SkipSpaces(src_, p + 3);
      } else if (src_.substr(p, 2) == "%}") {
        end = p + 2;
        if (end < src_.size() && src_[end] == '\n') ++end;
      } else {
        search = open + 2;
        continue;
      }
      std::string_view text = src_.substr(pos, open - pos);
      if (sign == '-') {
        text = RStrip(text);
      } else if (sign != '+') {
        text = LStripBlock(text, pos > 0 && src_[pos - 1] == '\n');
      }
      if (!text.empty()) Emit(TokenKind::kData, std::string(text), pos);
      return end;
    }
  }

  absl::StatusOr<size_t> LexComment(size_t tag, size_t pos) {
    const size_t close = src_.find("#}", pos);
    if (close == std::string_view::npos) return Error(tag, "Missing end of comment tag");
    const char sign = close > pos ? src_[close - 1] : '\0';
    size_t end = close + 2;
    if (sign == '-') {
      end = SkipSpaces(src_, end);
    } else if (sign != '+' && end < src_.size() && src_[end] == '\n') {
      ++end;
    }
    return end;
  }

  // Lexes the inside of a {% %} (is_block) or {{ }} tag; returns the offset after its end.
  absl::StatusOr<size_t> LexTag(size_t tag, size_t pos, bool is_block) {
    Emit(is_block ? TokenKind::kBlockBegin : TokenKind::kVariableBegin, "", tag);
    std::vector<char> balance;
    while (true) {
      if (pos >= src_.size()) {
        if (!balance.empty()) {
          return Error(tag, absl::StrCat("unexpected end of template, expected '",
                                         std::string(1, balance.back()), "'"));
        }
        return Error(tag, absl::StrCat("unexpected end of template, the tag opened here was "
                                       "never closed (expected '",
                                       is_block ? "%}" : "}}", "')"));
      }
      if (balance.empty()) {
        const size_t end = MatchTagEnd(pos, is_block);
        if (end != std::string_view::npos) {
          Emit(is_block ? TokenKind::kBlockEnd : TokenKind::kVariableEnd, "", pos);
          return end;
        }
      }
      const size_t space = SkipSpaces(src_, pos);
      if (space != pos) {
        pos = space;
        continue;
      }
      size_t next = LexNumber(pos);
      if (next != std::string_view::npos) {
        pos = next;
        continue;
      }
      const char c = src_[pos];
      if (IsNameStart(c)) {
        size_t end = pos + 1;
        while (end < src_.size() && IsNameChar(src_[end])) ++end;
        Emit(TokenKind::kName, std::string(src_.substr(pos, end - pos)), pos);
        pos = end;
        continue;
      }
      if (c == '\'' || c == '"') {
        absl::StatusOr<size_t> end = LexString(pos);
        if (!end.ok()) return end.status();
        pos = *end;
        continue;
      }
      bool matched = false;
      for (std::string_view op : kOperators) {
        if (src_.substr(pos, op.size()) != op) continue;
        if (op == "(" || op == "[" || op == "{") {
          balance.push_back(op == "(" ? ')' : op == "[" ? ']' : '}');
        } else if (op == ")" || op == "]" || op == "}") {
          if (balance.empty()) return Error(pos, absl::StrCat("unexpected '", std::string(op), "'"));
          if (balance.back() != op[0]) {
            return Error(pos, absl::StrCat("unexpected '", std::string(op), "', expected '",
                                           std::string(1, balance.back()), "'"));
          }
          balance.pop_back();
        }
        Emit(TokenKind::kOperator, std::string(op), pos);
        pos += op.size();
        matched = true;
        break;
      }
      if (!matched) {
        const std::u32string ch = DecodeUtf8(src_.substr(pos, 4));
        std::string shown;
        AppendUtf8(ch.empty() ? U'?' : ch[0], &shown);
        return Error(pos, absl::StrCat("unexpected char ", PyStringRepr(shown)));
      }
    }
  }

  size_t MatchTagEnd(size_t pos, bool is_block) const {
    if (is_block) {
      if (src_.substr(pos, 3) == "+%}") return pos + 3;
      if (src_.substr(pos, 3) == "-%}") return SkipSpaces(src_, pos + 3);
      if (src_.substr(pos, 2) == "%}") {
        return pos + 2 < src_.size() && src_[pos + 2] == '\n' ? pos + 3 : pos + 2;
      }
      return std::string_view::npos;
    }
    if (src_.substr(pos, 3) == "-}}") return SkipSpaces(src_, pos + 3);
    if (src_.substr(pos, 2) == "}}") return pos + 2;
    return std::string_view::npos;
  }

  // Digits with single '_' separators starting at `pos`; returns the end or `pos`.
  size_t Digits(size_t pos, int base) const {
    auto ok = [&](char c) {
      unsigned v;
      return HexValue(c, &v) && static_cast<int>(v) < base;
    };
    size_t p = pos;
    if (p >= src_.size() || !ok(src_[p])) return pos;
    ++p;
    while (p < src_.size()) {
      if (ok(src_[p])) {
        ++p;
      } else if (src_[p] == '_' && p + 1 < src_.size() && ok(src_[p + 1])) {
        p += 2;
      } else {
        break;
      }
    }
    return p;
  }

  // Float or integer literal at `pos` (jinja2's float_re, then integer_re); npos if none.
  size_t LexNumber(size_t pos) {
    if (!IsDigit(src_[pos])) return std::string_view::npos;
    const bool after_dot = pos > 0 && src_[pos - 1] == '.';
    const size_t int_end = Digits(pos, 10);
    if (!after_dot) {
      size_t end = std::string_view::npos;
      size_t frac_end = int_end;
      if (int_end < src_.size() && src_[int_end] == '.' && Digits(int_end + 1, 10) != int_end + 1) {
        frac_end = Digits(int_end + 1, 10);
        end = frac_end;
      }
      if (frac_end < src_.size() && (src_[frac_end] == 'e' || src_[frac_end] == 'E')) {
        size_t p = frac_end + 1;
        if (p < src_.size() && (src_[p] == '+' || src_[p] == '-')) ++p;
        const size_t exp_end = Digits(p, 10);
        if (exp_end != p) end = exp_end;
      }
      if (end != std::string_view::npos) {
        std::string text;
        for (char c : src_.substr(pos, end - pos)) {
          if (c != '_') text.push_back(c);
        }
        Token t;
        t.kind = TokenKind::kFloat;
        t.float_value = std::strtod(text.c_str(), nullptr);
        t.value = text;
        t.offset = pos;
        tokens_.push_back(std::move(t));
        return end;
      }
    }
    int base = 10;
    size_t start = pos, end = int_end;
    if (src_[pos] == '0' && pos + 1 < src_.size()) {
      const char p = static_cast<char>(std::tolower(static_cast<unsigned char>(src_[pos + 1])));
      base = p == 'b' ? 2 : p == 'o' ? 8 : p == 'x' ? 16 : 10;
      if (base != 10) {
        start = pos + 2;
        if (start < src_.size() && src_[start] == '_') ++start;
        end = Digits(start, base);
        if (end == start) base = 10;
      }
      if (base == 10) {
        // "0(_?0)*": a leading zero only continues with zeros.
        end = pos + 1;
        while (end < src_.size() && (src_[end] == '0' || (src_[end] == '_' && end + 1 < src_.size() &&
                                                          src_[end + 1] == '0'))) {
          end += src_[end] == '_' ? 2 : 1;
        }
        start = pos;
      }
    }
    std::string digits;
    for (char c : src_.substr(start, end - start)) {
      if (c != '_') digits.push_back(c);
    }
    Token t;
    t.kind = TokenKind::kInteger;
    errno = 0;
    t.int_value = static_cast<int64_t>(std::strtoll(digits.c_str(), nullptr, base));
    if (errno == ERANGE) {
      t.kind = TokenKind::kFloat;  // Python would keep an exact big int; we degrade to a float.
      t.float_value = std::strtod(digits.c_str(), nullptr);
    }
    t.value = std::string(src_.substr(pos, end - pos));
    t.offset = pos;
    tokens_.push_back(std::move(t));
    return end;
  }

  absl::StatusOr<size_t> LexString(size_t pos) {
    const char quote = src_[pos];
    size_t p = pos + 1;
    while (p < src_.size() && src_[p] != quote) {
      p += src_[p] == '\\' ? 2 : 1;
    }
    if (p >= src_.size()) return Error(pos, "unterminated string literal");
    absl::StatusOr<std::string> value = PyUnicodeEscapeDecode(src_.substr(pos + 1, p - pos - 1));
    if (!value.ok()) return Error(pos, std::string(value.status().message()));
    Emit(TokenKind::kString, std::move(*value), pos);
    return p + 1;
  }

  std::string_view src_;
  const SourceMap& map_;
  std::vector<Token> tokens_;
};

}  // namespace

SourceMap::SourceMap(std::string_view source) : source_(source) {
  line_starts_.push_back(0);
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\n') line_starts_.push_back(i + 1);
  }
}

int SourceMap::Line(size_t offset) const {
  const auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
  return static_cast<int>(it - line_starts_.begin());
}

int SourceMap::Column(size_t offset) const {
  const size_t start = line_starts_[Line(offset) - 1];
  offset = std::min(offset, source_.size());
  return static_cast<int>(CodePointCount(source_.substr(start, offset - start))) + 1;
}

std::string SourceMap::Describe(size_t offset) const {
  return absl::StrCat("line ", Line(offset), ", column ", Column(offset));
}

std::string NormalizeSource(std::string_view source) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out.push_back('\n');
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out.push_back(source[i]);
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

absl::StatusOr<std::vector<Token>> Tokenize(std::string_view source, const SourceMap& map) {
  return Lexer(source, map).Run();
}

}  // namespace qwen::gateway::jinja
