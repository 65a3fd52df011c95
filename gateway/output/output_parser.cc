#include "gateway/output/output_parser.h"

#include <utility>

#include "core/status.h"

namespace qwen::gateway {

absl::StatusOr<OutputParser> OutputParser::Create(OutputParserOptions options) {
  std::optional<ToolCallParser> tool_parser;
  if (options.tools.has_value() && !options.tools->is_null() &&
      !(options.tools->is_array() && options.tools->empty())) {
    QWEN_ASSIGN_OR_RETURN(ToolSchemas schemas, ToolSchemas::Create(*options.tools));
    tool_parser.emplace(std::move(schemas), std::move(options.call_id_generator));
  }
  return OutputParser(options.thinking_enabled, std::move(tool_parser));
}

OutputParser::OutputParser(bool thinking_enabled, std::optional<ToolCallParser> tool_parser)
    : reasoning_parser_(thinking_enabled), tool_parser_(std::move(tool_parser)) {}

ParsedDelta OutputParser::Push(std::string_view delta) {
  if (finished_) return ParsedDelta{};
  ParsedDelta out = reasoning_parser_.Push(delta);
  if (tool_parser_ && !out.content.empty()) {
    ParsedDelta tools = tool_parser_->Push(out.content);
    out.content = std::move(tools.content);
    out.tool_calls = std::move(tools.tool_calls);
  }
  return out;
}

ParsedDelta OutputParser::Finish() {
  if (finished_) return ParsedDelta{};
  finished_ = true;
  ParsedDelta out = reasoning_parser_.Finish();
  if (tool_parser_) {
    ParsedDelta tools = tool_parser_->Push(out.content);
    tools.Append(tool_parser_->Finish());
    out.content = std::move(tools.content);
    out.tool_calls = std::move(tools.tool_calls);
  }
  return out;
}

std::string OutputParser::FinishReason(std::string_view engine_reason) const {
  if (engine_reason == "stop" && num_tool_calls() > 0) return "tool_calls";
  return std::string(engine_reason);
}

}  // namespace qwen::gateway
