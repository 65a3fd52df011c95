// Byte-level scanning helpers shared by the streaming output parsers. All tags the parsers look
// for are ASCII, and ASCII bytes never occur inside a multi-byte UTF-8 sequence, so matching on
// bytes is exact even when a delta boundary falls inside a character.
#pragma once

#include <cstddef>
#include <string_view>

namespace qwen::gateway::output_internal {

// How the text at some position relates to a tag.
enum class TagMatch {
  kFull,     // the text starts with the whole tag
  kPartial,  // the text is a proper prefix of the tag (possibly empty): more input could match
  kNone,     // the text can never match the tag
};

// Classifies `text` (the remaining input from some position) against `tag`.
TagMatch MatchTag(std::string_view text, std::string_view tag);

// Length of the longest proper prefix of `tag` that is a suffix of `text` (0 when none). This is
// exactly what must be held back so that a tag split across deltas is still recognized.
size_t PartialTagSuffix(std::string_view text, std::string_view tag);

// Length of the longest prefix of `text` that does not end inside a truncated multi-byte UTF-8
// sequence. Only the last (at most 3) bytes are inspected; invalid bytes are not held back, so a
// genuinely invalid stream cannot stall the parsers.
size_t Utf8SafePrefixLength(std::string_view text);

// ASCII whitespace as Python's str.strip() sees it for ASCII: space, \t, \n, \v, \f, \r.
constexpr bool IsAsciiSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

}  // namespace qwen::gateway::output_internal
