#include "gateway/output/tool_call_parser.h"

#include <algorithm>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include "gateway/output/text_scan.h"

namespace qwen::gateway {
namespace {

using output_internal::IsAsciiSpace;
using output_internal::MatchTag;
using output_internal::PartialTagSuffix;
using output_internal::TagMatch;
using output_internal::Utf8SafePrefixLength;

constexpr std::string_view kToolCallOpen = "<tool_call>";
constexpr std::string_view kToolCallClose = "</tool_call>";
constexpr std::string_view kFunctionOpen = "<function=";
constexpr std::string_view kFunctionClose = "</function>";
constexpr std::string_view kParamOpen = "<parameter=";
constexpr std::string_view kParamClose = "</parameter>";
// A line-initial parameter tag inside a value: the "implicit end" candidate.
constexpr std::string_view kLineParamOpen = "\n<parameter=";
// Bounds the bytes held while waiting for a name's closing '>'.
constexpr size_t kMaxNameLength = 256;

bool IsNameByte(char c) {
  switch (c) {
    case '<':
    case '>':
    case '{':
    case '}':
    case '"':
    case '\'':
      return false;
    default:
      return !IsAsciiSpace(c);
  }
}

bool AnyIs(TagMatch match, std::initializer_list<TagMatch> matches) {
  return std::find(matches.begin(), matches.end(), match) != matches.end();
}

}  // namespace

ToolCallParser::ToolCallParser(ToolSchemas schemas, CallIdGenerator id_generator)
    : schemas_(std::move(schemas)), id_generator_(std::move(id_generator)) {}

ParsedDelta ToolCallParser::Push(std::string_view delta) {
  ParsedDelta out;
  if (finished_) return out;
  buffer_.append(delta);
  Drain(/*finished=*/false, out);
  Compact();
  return out;
}

ParsedDelta ToolCallParser::Finish() {
  ParsedDelta out;
  if (finished_) return out;
  Drain(/*finished=*/true, out);
  finished_ = true;
  buffer_.clear();
  pos_ = 0;
  return out;
}

void ToolCallParser::Drain(bool finished, ParsedDelta& out) {
  while (true) {
    if (StepOnce(finished, out) == Step::kProgress) continue;
    if (!finished || !ResolveAtEnd(out)) return;
  }
}

bool ToolCallParser::ResolveAtEnd(ParsedDelta& out) {
  switch (mode_) {
    case Mode::kContent:
      out.content.append(buffer_, pos_);
      pos_ = buffer_.size();
      return false;
    case Mode::kAfterCall:
      pos_ = buffer_.size();
      return false;
    case Mode::kAfterFunction:
      // Only whitespace or a prefix of `</tool_call>` is left: the call itself is complete.
      EmitCall(out);
      pos_ = buffer_.size();
      mode_ = Mode::kAfterCall;
      return false;
    default:
      Reject(out);
      return true;
  }
}

ToolCallParser::Step ToolCallParser::StepOnce(bool finished, ParsedDelta& out) {
  switch (mode_) {
    case Mode::kContent:
      return ScanContent(finished, out);
    case Mode::kAfterCall: {
      pos_ = SkipSpace(pos_);
      if (pos_ == buffer_.size()) return Step::kNeedMore;
      known_space_end_ = 0;
      mode_ = Mode::kContent;
      return Step::kProgress;
    }
    case Mode::kExpectFunction: {
      size_t p = pos_ = SkipSpace(pos_);
      TagMatch match = MatchTag(std::string_view(buffer_).substr(p), kFunctionOpen);
      if (match == TagMatch::kPartial) return Step::kNeedMore;
      if (match == TagMatch::kNone) {
        Reject(out);
        return Step::kProgress;
      }
      pos_ = p + kFunctionOpen.size();
      mode_ = Mode::kFunctionName;
      return Step::kProgress;
    }
    case Mode::kFunctionName: {
      size_t end = 0;
      NameResult result = ReadName(pos_, function_name_, end);
      if (result == NameResult::kNeedMore) return Step::kNeedMore;
      if (result == NameResult::kInvalid || !schemas_.HasFunction(function_name_)) {
        Reject(out);
        return Step::kProgress;
      }
      pos_ = end;
      arguments_ = nlohmann::ordered_json::object();
      mode_ = Mode::kBody;
      return Step::kProgress;
    }
    case Mode::kBody: {
      size_t p = pos_ = SkipSpace(pos_);
      std::string_view rest = std::string_view(buffer_).substr(p);
      TagMatch param = MatchTag(rest, kParamOpen);
      TagMatch close = MatchTag(rest, kFunctionClose);
      if (param == TagMatch::kFull) {
        pos_ = p + kParamOpen.size();
        mode_ = Mode::kParamName;
      } else if (close == TagMatch::kFull) {
        pos_ = p + kFunctionClose.size();
        mode_ = Mode::kAfterFunction;
      } else if (param == TagMatch::kPartial || close == TagMatch::kPartial) {
        return Step::kNeedMore;
      } else {
        Reject(out);
      }
      return Step::kProgress;
    }
    case Mode::kParamName: {
      size_t end = 0;
      NameResult result = ReadName(pos_, param_name_, end);
      if (result == NameResult::kNeedMore) return Step::kNeedMore;
      if (result == NameResult::kInvalid) {
        Reject(out);
        return Step::kProgress;
      }
      pos_ = end;
      value_start_ = end;
      value_scan_ = end;
      close_from_ = end;
      line_open_from_ = end;
      close_space_end_ = 0;
      value_depth_ = 0;
      mode_ = Mode::kParamValue;
      return Step::kProgress;
    }
    case Mode::kParamValue:
      return ScanParamValue(finished);
    case Mode::kAfterFunction: {
      size_t p = pos_ = SkipSpace(pos_);
      TagMatch match = MatchTag(std::string_view(buffer_).substr(p), kToolCallClose);
      if (match == TagMatch::kPartial) return Step::kNeedMore;
      if (match == TagMatch::kNone) {
        Reject(out);
        return Step::kProgress;
      }
      EmitCall(out);
      pos_ = p + kToolCallClose.size();
      mode_ = Mode::kAfterCall;
      return Step::kProgress;
    }
  }
  return Step::kNeedMore;
}

ToolCallParser::Step ToolCallParser::ScanContent(bool finished, ParsedDelta& out) {
  // [pos_, known_space_end_) is held whitespace already examined: no tag starts there, and a
  // backward whitespace scan that reaches it covers it whole. This keeps a flood of whitespace
  // (a degenerate generation) linear instead of rescanning it on every delta.
  size_t known = std::max(pos_, known_space_end_);
  auto space_run_start = [this, known](size_t end) {
    while (end > pos_ && IsAsciiSpace(buffer_[end - 1])) {
      if (end <= known) return pos_;
      --end;
    }
    return end;
  };
  size_t open = buffer_.find(kToolCallOpen, known);
  if (open != std::string::npos) {
    size_t ws = space_run_start(open);
    out.content.append(buffer_, pos_, ws - pos_);
    block_ws_start_ = ws;
    block_start_ = open;
    pos_ = open + kToolCallOpen.size();
    known_space_end_ = 0;
    mode_ = Mode::kExpectFunction;
    return Step::kProgress;
  }
  if (finished) return Step::kNeedMore;  // ResolveAtEnd flushes the rest
  std::string_view rest = std::string_view(buffer_).substr(pos_);
  size_t unstripped = buffer_.size() - PartialTagSuffix(rest, kToolCallOpen);
  size_t stripped = space_run_start(unstripped);
  size_t end = pos_ + Utf8SafePrefixLength(rest.substr(0, stripped - pos_));
  out.content.append(buffer_, pos_, end - pos_);
  pos_ = end;
  known_space_end_ = end == stripped ? unstripped : 0;
  return Step::kNeedMore;
}

ToolCallParser::Step ToolCallParser::ScanParamValue(bool finished) {
  std::string_view text(buffer_);
  // Each search resumes where the previous one left off (no tag starts before close_from_ /
  // line_open_from_), so a long value costs linear time whatever its delta sizes.
  auto search = [&](std::string_view tag, size_t& from) {
    from = std::max(from, value_scan_);
    size_t found = text.find(tag, from);
    if (found != std::string_view::npos) {
      from = found;
    } else if (text.size() >= tag.size()) {
      from = std::max(from, text.size() - tag.size() + 1);  // a split tag may start there
    }
    return found;
  };
  size_t close = search(kParamClose, close_from_);
  size_t line_open = search(kLineParamOpen, line_open_from_);
  if (close == std::string_view::npos && line_open == std::string_view::npos) {
    return Step::kNeedMore;
  }
  if (line_open < close) {
    std::string name;
    size_t end = 0;
    NameResult result = ReadName(line_open + kLineParamOpen.size(), name, end);
    if (result == NameResult::kNeedMore) {
      value_scan_ = line_open;
      return Step::kNeedMore;
    }
    if (result == NameResult::kOk) {
      if (name != param_name_ && !arguments_.contains(name) &&
          schemas_.DeclaresParameter(function_name_, name)) {
        FinishParameter(line_open + 1);  // the '\n' is the value's closing line break
        pos_ = line_open + 1;
        mode_ = Mode::kBody;
        return Step::kProgress;
      }
      ++value_depth_;  // a literal nested tag: its `</parameter>` is literal too
    }
    value_scan_ = line_open + 1;
    return Step::kProgress;
  }
  if (value_depth_ > 0) {
    --value_depth_;
    value_scan_ = close + 1;
    return Step::kProgress;
  }
  // Whitespace after this `</parameter>` examined by an earlier undecided lookahead is skipped
  // directly (a stale value from an earlier candidate is always before this tag's end).
  size_t after = SkipSpace(std::max(close + kParamClose.size(), close_space_end_));
  std::string_view rest = text.substr(after);
  TagMatch next_param = MatchTag(rest, kParamOpen);
  TagMatch function_close = MatchTag(rest, kFunctionClose);
  TagMatch call_close = MatchTag(rest, kToolCallClose);
  if (AnyIs(TagMatch::kFull, {next_param, function_close, call_close})) {
    FinishParameter(close);
    pos_ = close + kParamClose.size();
    mode_ = Mode::kBody;
    return Step::kProgress;
  }
  if (AnyIs(TagMatch::kPartial, {next_param, function_close, call_close})) {
    // Undecidable yet; at the end of the stream the block can no longer complete and
    // ResolveAtEnd rejects it.
    if (!finished) {
      value_scan_ = close;
      close_space_end_ = after;
    }
    return Step::kNeedMore;
  }
  value_scan_ = close + 1;
  return Step::kProgress;
}

ToolCallParser::NameResult ToolCallParser::ReadName(size_t begin, std::string& name,
                                                    size_t& end) const {
  size_t limit = std::min(buffer_.size(), begin + kMaxNameLength + 1);
  for (size_t k = begin; k < limit; ++k) {
    char c = buffer_[k];
    if (c == '>') {
      if (k == begin) return NameResult::kInvalid;
      name.assign(buffer_, begin, k - begin);
      end = k + 1;
      return NameResult::kOk;
    }
    if (!IsNameByte(c)) return NameResult::kInvalid;
  }
  return limit < buffer_.size() || buffer_.size() - begin > kMaxNameLength ? NameResult::kInvalid
                                                                           : NameResult::kNeedMore;
}

size_t ToolCallParser::SkipSpace(size_t p) const {
  while (p < buffer_.size() && IsAsciiSpace(buffer_[p])) ++p;
  return p;
}

void ToolCallParser::FinishParameter(size_t value_end) {
  std::string_view value = std::string_view(buffer_).substr(value_start_, value_end - value_start_);
  if (!value.empty() && value.front() == '\n') value.remove_prefix(1);
  if (!value.empty() && value.back() == '\n') value.remove_suffix(1);
  arguments_[param_name_] = schemas_.Convert(function_name_, param_name_, std::string(value));
}

void ToolCallParser::EmitCall(ParsedDelta& out) {
  ToolCall call;
  call.index = num_calls_;
  call.id = NextCallId();
  call.name = function_name_;
  // `replace` keeps invalid UTF-8 in a value from throwing: it becomes U+FFFD.
  call.arguments = arguments_.dump(-1, ' ', /*ensure_ascii=*/false,
                                   nlohmann::ordered_json::error_handler_t::replace);
  out.tool_calls.push_back(std::move(call));
  ++num_calls_;
}

void ToolCallParser::Reject(ParsedDelta& out) {
  size_t resume = block_start_ + kToolCallOpen.size();
  out.content.append(buffer_, block_ws_start_, resume - block_ws_start_);
  pos_ = resume;
  known_space_end_ = 0;
  mode_ = Mode::kContent;
}

std::string ToolCallParser::NextCallId() {
  if (id_generator_) return id_generator_(num_calls_);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id = "call_";
  for (int i = 0; i < 24; ++i) id.push_back(kHex[absl::Uniform(bitgen_, 0, 16)]);
  return id;
}

void ToolCallParser::Compact() {
  bool in_block = mode_ != Mode::kContent && mode_ != Mode::kAfterCall;
  size_t keep_from = in_block ? block_ws_start_ : pos_;
  // Dropping consumed bytes only once they are half the buffer keeps this amortized O(1) per byte
  // even while a long parameter value is being held.
  if (keep_from == 0 || keep_from * 2 < buffer_.size()) return;
  buffer_.erase(0, keep_from);
  auto shift = [keep_from](size_t& index) { index = index >= keep_from ? index - keep_from : 0; };
  for (size_t* index : {&pos_, &known_space_end_, &block_ws_start_, &block_start_, &value_start_,
                        &value_scan_, &close_from_, &line_open_from_, &close_space_end_}) {
    shift(*index);
  }
}

}  // namespace qwen::gateway
