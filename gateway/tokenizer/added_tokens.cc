#include "gateway/tokenizer/added_tokens.h"

#include <algorithm>
#include <cstring>

#include "gateway/tokenizer/unicode.h"

namespace qwen::gateway {
namespace {

namespace ut = unicode_tables;

// Start of the code point that ends at `end` (> 0) in valid UTF-8.
size_t PreviousCodepoint(std::string_view text, size_t end) {
  size_t p = end - 1;
  while (p > 0 && (static_cast<unsigned char>(text[p]) & 0xC0) == 0x80) --p;
  return p;
}

uint8_t FlagsAt(std::string_view text, size_t pos) {
  return CodepointFlags(DecodeUtf8(text.data() + pos, text.data() + text.size()).cp);
}

// HF's `is_word_character` is char::is_alphanumeric() || '_'; L | N approximates Alphabetic.
bool IsWordChar(std::string_view text, size_t pos) {
  if (text[pos] == '_') return true;
  return (FlagsAt(text, pos) & (ut::kLetter | ut::kNumber)) != 0;
}

}  // namespace

void AddedTokenMatcher::Add(std::string pattern, size_t token_index) {
  if (pattern.empty()) return;
  patterns_.push_back({std::move(pattern), token_index});
}

void AddedTokenMatcher::Finalize() {
  for (auto& list : by_first_byte_) list.clear();
  first_bytes_.clear();
  for (size_t i = 0; i < patterns_.size(); ++i) {
    const auto b = static_cast<unsigned char>(patterns_[i].text[0]);
    if (by_first_byte_[b].empty()) first_bytes_.push_back(static_cast<char>(b));
    by_first_byte_[b].push_back(i);
  }
  for (auto& list : by_first_byte_) {
    std::stable_sort(list.begin(), list.end(), [&](size_t a, size_t b) {
      return patterns_[a].text.size() > patterns_[b].text.size();
    });
  }
}

std::optional<AddedTokenMatcher::Match> AddedTokenMatcher::Find(std::string_view text,
                                                                size_t from) const {
  size_t pos = from;
  while (pos < text.size()) {
    if (first_bytes_.size() == 1) {
      const void* hit = std::memchr(text.data() + pos, first_bytes_[0], text.size() - pos);
      if (hit == nullptr) return std::nullopt;
      pos = static_cast<const char*>(hit) - text.data();
    }
    for (size_t i : by_first_byte_[static_cast<unsigned char>(text[pos])]) {
      const std::string& p = patterns_[i].text;
      if (text.size() - pos >= p.size() &&
          std::memcmp(text.data() + pos, p.data(), p.size()) == 0) {
        return Match{pos, pos + p.size(), patterns_[i].token_index};
      }
    }
    ++pos;
  }
  return std::nullopt;
}

void AddedTokenMatcher::Split(std::string_view text, const std::vector<AddedToken>& tokens,
                              bool parse_special, std::vector<Segment>* segments) const {
  segments->clear();
  size_t done = 0;  // end of the text already assigned to segments
  size_t search = 0;
  while (std::optional<Match> m = Find(text, search)) {
    search = m->end;  // the scan resumes after the raw match, as HF's find_iter does
    const AddedToken& token = tokens[m->token_index];
    if (token.special && !parse_special) continue;
    size_t start = m->begin;
    size_t stop = m->end;
    if (token.single_word) {
      const bool word_before = start > 0 && IsWordChar(text, PreviousCodepoint(text, start));
      const bool word_after = stop < text.size() && IsWordChar(text, stop);
      if (word_before || word_after) continue;
    }
    if (token.lstrip) {
      while (start > 0) {
        const size_t prev = PreviousCodepoint(text, start);
        if ((FlagsAt(text, prev) & ut::kWhiteSpace) == 0) break;
        start = prev;
      }
    }
    if (token.rstrip) {
      while (stop < text.size()) {
        const DecodedCodepoint d = DecodeUtf8(text.data() + stop, text.data() + text.size());
        if ((CodepointFlags(d.cp) & ut::kWhiteSpace) == 0) break;
        stop += d.length;
      }
    }
    start = std::max(start, done);
    if (done < start) segments->push_back({done, start, -1});
    segments->push_back({start, stop, static_cast<int>(m->token_index)});
    done = stop;
    // HF would also find tokens inside white space an rstrip took (and emit overlapping pieces);
    // resuming after it keeps the segments disjoint. Only tokens that start with white space and
    // follow an rstrip token are affected.
    search = std::max(search, done);
  }
  if (done < text.size()) segments->push_back({done, text.size(), -1});
}

}  // namespace qwen::gateway
