// Python string literal escaping both ways: repr() of a str, and the "unicode-escape" decoding
// jinja2's lexer applies to string literals in templates.
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "gateway/chat_template/py_text.h"

namespace qwen::gateway::jinja {
namespace {

// Python str.isprintable() for one code point, approximated by the non-printable categories
// that occur in practice (Cc, Cf, Zs other than space, Zl, Zp, Co, non-characters).
bool IsPyPrintable(char32_t c) {
  if (c < 0x20 || (c >= 0x7F && c <= 0xA0) || c == 0xAD) return false;
  if (c < 0x100) return true;
  if (c == 0x1680 || (c >= 0x2000 && c <= 0x200F) || (c >= 0x2028 && c <= 0x202F) ||
      (c >= 0x205F && c <= 0x2064) || (c >= 0x2066 && c <= 0x206F) || c == 0x3000 ||
      c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFB) || c == 0xFFFE || c == 0xFFFF ||
      (c >= 0x600 && c <= 0x605) || c == 0x61C || c == 0x6DD || c == 0x70F || c == 0x180E) {
    return false;
  }
  if ((c >= 0xE000 && c <= 0xF8FF) || c >= 0xF0000 || (c >= 0xE0000 && c <= 0xE007F)) return false;
  return true;
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

}  // namespace

std::string PyStringRepr(std::string_view text) {
  const std::u32string s = DecodeUtf8(text);
  const bool has_single = s.find(U'\'') != std::u32string::npos;
  const bool has_double = s.find(U'"') != std::u32string::npos;
  const char quote = (has_single && !has_double) ? '"' : '\'';
  std::string out(1, quote);
  for (char32_t c : s) {
    if (c == static_cast<char32_t>(quote) || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (!IsPyPrintable(c)) {
      char buf[16];
      if (c < 0x100) {
        std::snprintf(buf, sizeof(buf), "\\x%02x", static_cast<unsigned>(c));
      } else if (c < 0x10000) {
        std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(c));
      } else {
        std::snprintf(buf, sizeof(buf), "\\U%08x", static_cast<unsigned>(c));
      }
      out += buf;
    } else {
      AppendUtf8(c, &out);
    }
  }
  out.push_back(quote);
  return out;
}

// Python's "unicode-escape" decoding of a string literal body (what jinja2's lexer applies).
absl::StatusOr<std::string> PyUnicodeEscapeDecode(std::string_view body) {
  std::u32string out;
  const std::u32string s = DecodeUtf8(body);
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 >= s.size()) {
      out.push_back(s[i]);
      continue;
    }
    const char32_t e = s[++i];
    switch (e) {
      case '\n':
        break;  // line continuation
      case '\\':
      case '\'':
      case '"':
        out.push_back(e);
        break;
      case 'a':
        out.push_back(0x07);
        break;
      case 'b':
        out.push_back(0x08);
        break;
      case 'f':
        out.push_back(0x0C);
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'v':
        out.push_back(0x0B);
        break;
      case 'x':
      case 'u':
      case 'U': {
        const size_t digits = e == 'x' ? 2 : (e == 'u' ? 4 : 8);
        char32_t value = 0;
        for (size_t k = 0; k < digits; ++k) {
          unsigned v;
          if (i + 1 + k >= s.size() || s[i + 1 + k] > 0x7F ||
              !HexValue(static_cast<char>(s[i + 1 + k]), &v)) {
            return absl::InvalidArgumentError(
                absl::StrCat("truncated \\", std::string(1, static_cast<char>(e)), "XX escape"));
          }
          value = value * 16 + v;
        }
        i += digits;
        if (value > 0x10FFFF) return absl::InvalidArgumentError("illegal Unicode character");
        // A surrogate pair written as two \u escapes becomes one code point.
        if (value >= 0xDC00 && value <= 0xDFFF && !out.empty() && out.back() >= 0xD800 &&
            out.back() <= 0xDBFF) {
          out.back() = 0x10000 + ((out.back() - 0xD800) << 10) + (value - 0xDC00);
        } else {
          out.push_back(value);
        }
        break;
      }
      default:
        if (e >= '0' && e <= '7') {
          char32_t value = e - '0';
          for (int k = 0; k < 2 && i + 1 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '7'; ++k) {
            value = value * 8 + (s[++i] - '0');
          }
          out.push_back(value);
        } else if (e == 'N') {
          return absl::InvalidArgumentError("\\N{...} escapes are not supported");
        } else {
          out.push_back('\\');
          out.push_back(e);
        }
    }
  }
  for (char32_t& c : out) {
    if (c >= 0xD800 && c <= 0xDFFF) c = 0xFFFD;  // lone surrogates cannot be UTF-8
  }
  return EncodeUtf8(out);
}

}  // namespace qwen::gateway::jinja
