// Case mapping and character classes of Python str (lower/upper/title/isalpha/...), for the
// scripts chat text realistically contains: Latin, Greek, Cyrillic and fullwidth Latin.
#include "gateway/chat_template/py_text.h"

namespace qwen::gateway::jinja {
namespace {

// Appends the lower-case mapping of `c` (possibly several code points, as Python does).
void AppendLower(char32_t c, std::u32string* out) {
  char32_t r = c;
  if (c >= 'A' && c <= 'Z') {
    r = c + 32;
  } else if (c < 0x80) {
    r = c;
  } else if ((c >= 0xC0 && c <= 0xDE && c != 0xD7) || (c >= 0x391 && c <= 0x3AB && c != 0x3A2) ||
             (c >= 0x410 && c <= 0x42F) || (c >= 0xFF21 && c <= 0xFF3A)) {
    r = c + 32;
  } else if (c == 0x130) {
    out->push_back('i');
    out->push_back(0x307);
    return;
  } else if (((c >= 0x100 && c <= 0x12F) || (c >= 0x132 && c <= 0x137) ||
              (c >= 0x14A && c <= 0x177) || (c >= 0x460 && c <= 0x481) ||
              (c >= 0x48A && c <= 0x4BF) || (c >= 0x4D0 && c <= 0x52F)) &&
             c % 2 == 0) {
    r = c + 1;
  } else if (((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E) ||
              (c >= 0x4C1 && c <= 0x4CE)) &&
             c % 2 == 1) {
    r = c + 1;
  } else if (c == 0x178) {
    r = 0xFF;
  } else if (c == 0x4C0) {
    r = 0x4CF;
  } else if (c == 0x386) {
    r = 0x3AC;
  } else if (c >= 0x388 && c <= 0x38A) {
    r = c + 37;
  } else if (c == 0x38C) {
    r = 0x3CC;
  } else if (c == 0x38E || c == 0x38F) {
    r = c + 63;
  } else if (c >= 0x400 && c <= 0x40F) {
    r = c + 80;
  }
  out->push_back(r);
}

// Appends the upper-case mapping of `c` (possibly several code points, as Python does).
void AppendUpper(char32_t c, std::u32string* out) {
  char32_t r = c;
  if (c >= 'a' && c <= 'z') {
    r = c - 32;
  } else if (c < 0x80) {
    r = c;
  } else if ((c >= 0xE0 && c <= 0xFE && c != 0xF7) || (c >= 0x3B1 && c <= 0x3CB && c != 0x3C2) ||
             (c >= 0x430 && c <= 0x44F) || (c >= 0xFF41 && c <= 0xFF5A)) {
    r = c - 32;
  } else if (c == 0xDF) {
    out->push_back('S');
    out->push_back('S');
    return;
  } else if (c == 0x149) {
    out->push_back(0x2BC);
    out->push_back('N');
    return;
  } else if (c == 0xB5) {
    r = 0x39C;
  } else if (c == 0xFF) {
    r = 0x178;
  } else if (c == 0x131) {
    r = 'I';
  } else if (c == 0x17F) {
    r = 'S';
  } else if (((c >= 0x100 && c <= 0x12F) || (c >= 0x132 && c <= 0x137) ||
              (c >= 0x14A && c <= 0x177) || (c >= 0x460 && c <= 0x481) ||
              (c >= 0x48A && c <= 0x4BF) || (c >= 0x4D0 && c <= 0x52F)) &&
             c % 2 == 1) {
    r = c - 1;
  } else if (((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E) ||
              (c >= 0x4C1 && c <= 0x4CE)) &&
             c % 2 == 0) {
    r = c - 1;
  } else if (c == 0x4CF) {
    r = 0x4C0;
  } else if (c == 0x3C2) {
    r = 0x3A3;
  } else if (c == 0x3AC) {
    r = 0x386;
  } else if (c >= 0x3AD && c <= 0x3AF) {
    r = c - 37;
  } else if (c == 0x3CC) {
    r = 0x38C;
  } else if (c == 0x3CD || c == 0x3CE) {
    r = c - 63;
  } else if (c >= 0x450 && c <= 0x45F) {
    r = c - 80;
  }
  out->push_back(r);
}

char32_t LowerOne(char32_t c) {
  std::u32string s;
  AppendLower(c, &s);
  return s.size() == 1 ? s[0] : c;
}

char32_t UpperOne(char32_t c) {
  std::u32string s;
  AppendUpper(c, &s);
  return s.size() == 1 ? s[0] : c;
}

bool IsCased(char32_t c) { return LowerOne(c) != c || UpperOne(c) != c || c == 0xDF; }
bool IsLowerCased(char32_t c) { return UpperOne(c) != c || c == 0xDF; }
bool IsUpperCased(char32_t c) { return LowerOne(c) != c; }

}  // namespace

std::string PyLower(std::string_view text) {
  std::u32string out;
  for (char32_t c : DecodeUtf8(text)) AppendLower(c, &out);
  return EncodeUtf8(out);
}

std::string PyUpper(std::string_view text) {
  std::u32string out;
  for (char32_t c : DecodeUtf8(text)) AppendUpper(c, &out);
  return EncodeUtf8(out);
}

std::string PyCapitalize(std::string_view text) {
  const std::u32string s = DecodeUtf8(text);
  std::u32string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i == 0) {
      AppendUpper(s[i], &out);
    } else {
      AppendLower(s[i], &out);
    }
  }
  return EncodeUtf8(out);
}

std::string PyTitle(std::string_view text) {
  std::u32string out;
  bool previous_is_cased = false;
  for (char32_t c : DecodeUtf8(text)) {
    if (previous_is_cased) {
      AppendLower(c, &out);
    } else {
      AppendUpper(c, &out);
    }
    previous_is_cased = IsCased(c);
  }
  return EncodeUtf8(out);
}

bool PyIsLower(std::string_view text) {
  bool any_cased = false;
  for (char32_t c : DecodeUtf8(text)) {
    if (IsUpperCased(c)) return false;
    any_cased |= IsLowerCased(c);
  }
  return any_cased;
}

bool PyIsUpper(std::string_view text) {
  bool any_cased = false;
  for (char32_t c : DecodeUtf8(text)) {
    if (IsLowerCased(c)) return false;
    any_cased |= IsUpperCased(c);
  }
  return any_cased;
}

bool IsPyAlpha(char32_t c) {
  if (c < 0x80) return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
  if (IsCased(c)) return true;
  return c == 0xAA || c == 0xBA || (c >= 0x5D0 && c <= 0x5EA) || (c >= 0x620 && c <= 0x64A) ||
         (c >= 0x3041 && c <= 0x3096) || (c >= 0x30A1 && c <= 0x30FA) ||
         (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x4E00 && c <= 0x9FFF) ||
         (c >= 0xAC00 && c <= 0xD7A3);
}

bool IsPyDigit(char32_t c) {
  return (c >= '0' && c <= '9') || c == 0xB2 || c == 0xB3 || c == 0xB9 ||
         (c >= 0xFF10 && c <= 0xFF19);
}

}  // namespace qwen::gateway::jinja
