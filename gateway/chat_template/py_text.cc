#include "gateway/chat_template/py_text.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace qwen::gateway::jinja {
namespace {

constexpr char32_t kReplacement = 0xFFFD;

// Decodes one code point at `text[*pos]` and advances `*pos`. Returns false on malformed input
// (then `*cp` is U+FFFD and `*pos` advanced by one byte).
bool DecodeOne(std::string_view text, size_t* pos, char32_t* cp) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char b0 = byte(*pos);
  if (b0 < 0x80) {
    *cp = b0;
    ++*pos;
    return true;
  }
  int len = 0;
  char32_t value = 0;
  char32_t min_value = 0;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2, value = b0 & 0x1F, min_value = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, value = b0 & 0x0F, min_value = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, value = b0 & 0x07, min_value = 0x10000;
  } else {
    *cp = kReplacement;
    ++*pos;
    return false;
  }
  if (*pos + len > text.size()) {
    *cp = kReplacement;
    ++*pos;
    return false;
  }
  for (int i = 1; i < len; ++i) {
    const unsigned char b = byte(*pos + i);
    if ((b & 0xC0) != 0x80) {
      *cp = kReplacement;
      ++*pos;
      return false;
    }
    value = (value << 6) | (b & 0x3F);
  }
  if (value < min_value || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) {
    *cp = kReplacement;
    ++*pos;
    return false;
  }
  *cp = value;
  *pos += len;
  return true;
}

bool IsLineBreak(char32_t c) {
  return c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x1C || c == 0x1D || c == 0x1E ||
         c == 0x85 || c == 0x2028 || c == 0x2029;
}

// Removes '_' that separate digits (Python numeric literal rules); nullopt if misplaced.
std::optional<std::string> StripDigitUnderscores(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '_') {
      const bool ok = i > 0 && i + 1 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i - 1])) &&
                      std::isxdigit(static_cast<unsigned char>(s[i + 1]));
      if (!ok) return std::nullopt;
      continue;
    }
    out.push_back(s[i]);
  }
  return out;
}

}  // namespace

std::u32string DecodeUtf8(std::string_view text) {
  std::u32string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    char32_t cp;
    DecodeOne(text, &pos, &cp);
    out.push_back(cp);
  }
  return out;
}

void AppendUtf8(char32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::string EncodeUtf8(std::u32string_view code_points) {
  std::string out;
  out.reserve(code_points.size());
  for (char32_t c : code_points) AppendUtf8(c, &out);
  return out;
}

bool IsValidUtf8(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    char32_t cp;
    if (!DecodeOne(text, &pos, &cp)) return false;
  }
  return true;
}

size_t CodePointCount(std::string_view text) {
  size_t n = 0;
  for (char c : text) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

size_t ByteOffsetOfCodePoint(std::string_view text, size_t index) {
  size_t seen = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      if (seen == index) return i;
      ++seen;
    }
  }
  return text.size();
}

bool IsPySpace(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
         c == 0x202F || c == 0x205F || c == 0x3000;
}

std::string PyStrip(std::string_view text, bool left, bool right,
                    const std::optional<std::string>& chars) {
  const std::u32string s = DecodeUtf8(text);
  const std::u32string set = chars ? DecodeUtf8(*chars) : std::u32string();
  auto strip_it = [&](char32_t c) { return chars ? set.find(c) != std::u32string::npos : IsPySpace(c); };
  size_t begin = 0, end = s.size();
  if (left) {
    while (begin < end && strip_it(s[begin])) ++begin;
  }
  if (right) {
    while (end > begin && strip_it(s[end - 1])) --end;
  }
  return EncodeUtf8(std::u32string_view(s).substr(begin, end - begin));
}

std::vector<std::string> PySplit(std::string_view text, const std::optional<std::string>& sep,
                                 int64_t maxsplit) {
  std::vector<std::string> parts;
  if (sep) {
    size_t start = 0;
    while (maxsplit < 0 || static_cast<int64_t>(parts.size()) < maxsplit) {
      const size_t hit = text.find(*sep, start);
      if (hit == std::string_view::npos) break;
      parts.emplace_back(text.substr(start, hit - start));
      start = hit + sep->size();
    }
    parts.emplace_back(text.substr(start));
    return parts;
  }
  const std::u32string s = DecodeUtf8(text);
  size_t i = 0;
  while (true) {
    while (i < s.size() && IsPySpace(s[i])) ++i;
    if (i >= s.size()) break;
    if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) >= maxsplit) {
      size_t end = s.size();
      while (end > i && IsPySpace(s[end - 1])) --end;
      parts.push_back(EncodeUtf8(std::u32string_view(s).substr(i, end - i)));
      break;
    }
    size_t j = i;
    while (j < s.size() && !IsPySpace(s[j])) ++j;
    parts.push_back(EncodeUtf8(std::u32string_view(s).substr(i, j - i)));
    i = j;
  }
  return parts;
}

std::vector<std::string> PyRSplit(std::string_view text, const std::optional<std::string>& sep,
                                  int64_t maxsplit) {
  if (maxsplit < 0) return PySplit(text, sep, maxsplit);
  std::vector<std::string> parts;
  if (sep) {
    size_t end = text.size();
    while (static_cast<int64_t>(parts.size()) < maxsplit) {
      if (end < sep->size()) break;
      const size_t hit = text.rfind(*sep, end - sep->size());
      if (hit == std::string_view::npos) break;
      parts.emplace_back(text.substr(hit + sep->size(), end - hit - sep->size()));
      end = hit;
    }
    parts.emplace_back(text.substr(0, end));
  } else {
    const std::u32string s = DecodeUtf8(text);
    size_t end = s.size();
    while (true) {
      while (end > 0 && IsPySpace(s[end - 1])) --end;
      if (end == 0) break;
      if (static_cast<int64_t>(parts.size()) >= maxsplit) {
        size_t begin = 0;
        while (begin < end && IsPySpace(s[begin])) ++begin;
        parts.push_back(EncodeUtf8(std::u32string_view(s).substr(begin, end - begin)));
        break;
      }
      size_t begin = end;
      while (begin > 0 && !IsPySpace(s[begin - 1])) --begin;
      parts.push_back(EncodeUtf8(std::u32string_view(s).substr(begin, end - begin)));
      end = begin;
    }
  }
  return std::vector<std::string>(parts.rbegin(), parts.rend());
}

std::vector<std::string> PySplitLines(std::string_view text) {
  const std::u32string s = DecodeUtf8(text);
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (!IsLineBreak(s[i])) continue;
    lines.push_back(EncodeUtf8(std::u32string_view(s).substr(start, i - start)));
    if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
    start = i + 1;
  }
  if (start < s.size()) lines.push_back(EncodeUtf8(std::u32string_view(s).substr(start)));
  return lines;
}

std::string PyFloatRepr(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  // Shortest round-trip digits, as CPython's repr (float_repr_style 'short').
  char buf[64];
  const auto result = std::to_chars(buf, buf + sizeof(buf), value, std::chars_format::scientific);
  std::string sci(buf, result.ptr);
  std::string out;
  size_t i = 0;
  if (sci[0] == '-') {
    out.push_back('-');
    i = 1;
  }
  const size_t e_pos = sci.find('e');
  std::string digits;
  for (size_t k = i; k < e_pos; ++k) {
    if (sci[k] != '.') digits.push_back(sci[k]);
  }
  const int exponent = std::atoi(sci.c_str() + e_pos + 1);
  if (exponent >= -4 && exponent < 16) {
    if (exponent >= 0) {
      const size_t int_len = static_cast<size_t>(exponent) + 1;
      if (digits.size() <= int_len) {
        out += digits;
        out.append(int_len - digits.size(), '0');
        out += ".0";
      } else {
        out.append(digits, 0, int_len);
        out.push_back('.');
        out.append(digits, int_len, std::string::npos);
      }
    } else {
      out += "0.";
      out.append(static_cast<size_t>(-exponent - 1), '0');
      out += digits;
    }
    return out;
  }
  out.push_back(digits[0]);
  if (digits.size() > 1) {
    out.push_back('.');
    out.append(digits, 1, std::string::npos);
  }
  char exp_buf[16];
  std::snprintf(exp_buf, sizeof(exp_buf), "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
  out += exp_buf;
  return out;
}

std::optional<double> ParsePyFloat(std::string_view text) {
  std::string s = PyStrip(text, true, true);
  if (s.empty()) return std::nullopt;
  double sign = 1.0;
  std::string body = s;
  if (body[0] == '+' || body[0] == '-') {
    if (body[0] == '-') sign = -1.0;
    body = body.substr(1);
  }
  const std::string lower = PyLower(body);
  if (lower == "inf" || lower == "infinity") return sign * HUGE_VAL;
  if (lower == "nan") return std::nan("");
  for (char c : body) {
    if (!(std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == 'e' || c == 'E' ||
          c == '+' || c == '-' || c == '_')) {
      return std::nullopt;
    }
  }
  std::optional<std::string> cleaned = StripDigitUnderscores(body);
  if (!cleaned || cleaned->empty()) return std::nullopt;
  double value = 0;
  const char* begin = cleaned->data();
  const char* end = begin + cleaned->size();
  const auto result = std::from_chars(begin, end, value, std::chars_format::general);
  if (result.ec == std::errc::result_out_of_range) {
    // Python float() overflows to inf and underflows to 0 instead of failing.
    value = std::strtod(cleaned->c_str(), nullptr);
  } else if (result.ec != std::errc() || result.ptr != end) {
    return std::nullopt;
  }
  return sign * value;
}

std::optional<int64_t> ParsePyInt(std::string_view text, int base) {
  std::string s = PyStrip(text, true, true);
  if (s.empty()) return std::nullopt;
  bool negative = false;
  if (s[0] == '+' || s[0] == '-') {
    negative = s[0] == '-';
    s = s.substr(1);
  }
  if (s.size() > 2 && s[0] == '0') {
    const char p = static_cast<char>(std::tolower(static_cast<unsigned char>(s[1])));
    if ((p == 'x' && base == 16) || (p == 'o' && base == 8) || (p == 'b' && base == 2)) {
      s = s.substr(2);
      if (!s.empty() && s[0] == '_') s = s.substr(1);
    }
  }
  std::optional<std::string> cleaned = StripDigitUnderscores(s);
  if (!cleaned || cleaned->empty()) return std::nullopt;
  int64_t value = 0;
  const char* begin = cleaned->data();
  const char* end = begin + cleaned->size();
  const auto result = std::from_chars(begin, end, value, base);
  if (result.ec != std::errc() || result.ptr != end) return std::nullopt;
  return negative ? -value : value;
}

}  // namespace qwen::gateway::jinja
