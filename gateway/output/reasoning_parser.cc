#include "gateway/output/reasoning_parser.h"

#include <algorithm>
#include <string>
#include <string_view>

#include "gateway/output/text_scan.h"

namespace qwen::gateway {
namespace {

using output_internal::IsAsciiSpace;
using output_internal::MatchTag;
using output_internal::PartialTagSuffix;
using output_internal::TagMatch;
using output_internal::Utf8SafePrefixLength;

constexpr std::string_view kThinkOpen = "<think>";
constexpr std::string_view kThinkClose = "</think>";

}  // namespace

ReasoningParser::ReasoningParser(bool thinking_enabled) : thinking_enabled_(thinking_enabled) {}

ParsedDelta ReasoningParser::Push(std::string_view delta) {
  ParsedDelta out;
  if (finished_) return out;
  buffer_.append(delta);
  Drain(/*finished=*/false, out);
  Compact();
  return out;
}

ParsedDelta ReasoningParser::Finish() {
  ParsedDelta out;
  if (finished_) return out;
  Drain(/*finished=*/true, out);
  finished_ = true;
  buffer_.clear();
  pos_ = 0;
  return out;
}

void ReasoningParser::Drain(bool finished, ParsedDelta& out) {
  while (true) {
    std::string_view rest = std::string_view(buffer_).substr(pos_);
    switch (state_) {
      case State::kLeading: {
        // Rule 1: optional whitespace, then `<think>`. Nothing is consumed until decided; the
        // whitespace already examined is remembered so a long run is not rescanned.
        size_t skip = std::max(pos_, known_newline_end_) - pos_;
        while (skip < rest.size() && IsAsciiSpace(rest[skip])) ++skip;
        TagMatch match = MatchTag(rest.substr(skip), kThinkOpen);
        if (match == TagMatch::kPartial && !finished) {
          known_newline_end_ = pos_ + skip;
          return;
        }
        known_newline_end_ = 0;
        if (match == TagMatch::kFull) {
          pos_ += skip + kThinkOpen.size();
          state_ = State::kReasoningStart;
        } else {
          state_ = thinking_enabled_ ? State::kReasoningStart : State::kContent;
        }
        break;
      }
      case State::kReasoningStart: {
        size_t skip = 0;
        while (skip < rest.size() && rest[skip] == '\n') ++skip;
        pos_ += skip;
        if (skip == rest.size()) return;  // only newlines so far (or a reasoning of newlines)
        state_ = State::kReasoning;
        break;
      }
      case State::kReasoning: {
        // [pos_, known_newline_end_) is held '\n' already examined: no tag starts there, and a
        // backward newline scan that reaches it covers it whole. This keeps a flood of newlines
        // (a degenerate generation) linear instead of rescanning it on every delta.
        size_t known = std::max(pos_, known_newline_end_);
        auto newline_run_start = [this, known](size_t end) {
          while (end > pos_ && buffer_[end - 1] == '\n') {
            if (end <= known) return pos_;
            --end;
          }
          return end;
        };
        size_t close = buffer_.find(kThinkClose, known);
        if (close != std::string::npos) {
          out.reasoning.append(buffer_, pos_, newline_run_start(close) - pos_);
          pos_ = close + kThinkClose.size();
          state_ = State::kContentStart;
          break;
        }
        if (finished) {
          // Trailing newlines end the reasoning here; a partial `</thi` is reasoning text.
          out.reasoning.append(buffer_, pos_, newline_run_start(buffer_.size()) - pos_);
          pos_ = buffer_.size();
          return;
        }
        // Trailing newlines are dropped if the reasoning ends right after them (rule 5), so
        // they wait for the next byte that is not a newline.
        size_t unstripped = buffer_.size() - PartialTagSuffix(rest, kThinkClose);
        size_t stripped = newline_run_start(unstripped);
        size_t end = pos_ + Utf8SafePrefixLength(rest.substr(0, stripped - pos_));
        out.reasoning.append(buffer_, pos_, end - pos_);
        pos_ = end;
        known_newline_end_ = end == stripped ? unstripped : 0;
        return;
      }
      case State::kContentStart: {
        size_t skip = 0;
        while (skip < rest.size() && rest[skip] == '\n') ++skip;
        pos_ += skip;
        if (skip == rest.size()) return;
        state_ = State::kContent;
        break;
      }
      case State::kContent: {
        size_t end = finished ? rest.size() : Utf8SafePrefixLength(rest);
        out.content.append(rest.substr(0, end));
        pos_ += end;
        return;
      }
    }
  }
}

void ReasoningParser::Compact() {
  // Consumed bytes are dropped once they are at least half the buffer: amortized O(1) per byte.
  if (pos_ > 0 && pos_ * 2 >= buffer_.size()) {
    buffer_.erase(0, pos_);
    known_newline_end_ = known_newline_end_ >= pos_ ? known_newline_end_ - pos_ : 0;
    pos_ = 0;
  }
}

}  // namespace qwen::gateway
