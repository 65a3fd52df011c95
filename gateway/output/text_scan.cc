#include "gateway/output/text_scan.h"

#include <algorithm>

namespace qwen::gateway::output_internal {

TagMatch MatchTag(std::string_view text, std::string_view tag) {
  if (text.size() >= tag.size()) {
    return text.substr(0, tag.size()) == tag ? TagMatch::kFull : TagMatch::kNone;
  }
  return tag.substr(0, text.size()) == text ? TagMatch::kPartial : TagMatch::kNone;
}

size_t PartialTagSuffix(std::string_view text, std::string_view tag) {
  if (tag.empty()) return 0;
  size_t longest = std::min(text.size(), tag.size() - 1);
  for (size_t len = longest; len > 0; --len) {
    if (text.substr(text.size() - len) == tag.substr(0, len)) return len;
  }
  return 0;
}

size_t Utf8SafePrefixLength(std::string_view text) {
  // Walk back over at most 3 continuation bytes to the lead byte of the last character.
  size_t n = text.size();
  size_t i = n;
  size_t continuation = 0;
  while (i > 0 && continuation < 3) {
    unsigned char c = static_cast<unsigned char>(text[i - 1]);
    if ((c & 0xC0) != 0x80) break;
    --i;
    ++continuation;
  }
  if (i == 0) return n;  // only continuation bytes: invalid, do not hold back
  unsigned char lead = static_cast<unsigned char>(text[i - 1]);
  size_t expected;
  if (lead < 0x80) {
    expected = 1;
  } else if ((lead & 0xE0) == 0xC0) {
    expected = 2;
  } else if ((lead & 0xF0) == 0xE0) {
    expected = 3;
  } else if ((lead & 0xF8) == 0xF0) {
    expected = 4;
  } else {
    return n;  // invalid lead byte: nothing to wait for
  }
  size_t have = continuation + 1;
  return have < expected ? i - 1 : n;
}

}  // namespace qwen::gateway::output_internal
