#include "gateway/orchestrator/response_builder.h"

#include "absl/strings/str_cat.h"
#include "core/logging.h"

namespace qwen::gateway {

namespace pb = qwen35::v1;

absl::StatusOr<ResponseBuilder> ResponseBuilder::Create(const Tokenizer& tokenizer, ResponseOptions options) {
  // Special tokens (<|im_end|>, ...) never reach the answer text; <think>, <tool_call> are not
  // special and stay visible to the output parser.
  absl::StatusOr<IncrementalDetokenizer> detokenizer = IncrementalDetokenizer::Create(
      tokenizer, {.skip_special_tokens = true, .stop_strings = options.stop_strings});
  if (!detokenizer.ok()) return absl::InvalidArgumentError(absl::StrCat("stop: ", detokenizer.status().message()));
  absl::StatusOr<OutputParser> parser = OutputParser::Create({.thinking_enabled = options.thinking_enabled,
                                                              .tools = options.tools,
                                                              .call_id_generator = options.call_id_generator});
  if (!parser.ok()) return absl::InvalidArgumentError(absl::StrCat("tools_json: ", parser.status().message()));
  return ResponseBuilder(tokenizer, std::move(*detokenizer), std::move(*parser), std::move(options));
}

void ResponseBuilder::AppendParsed(ParsedDelta parsed, pb::ChatDelta* delta) const {
  delta->mutable_reasoning()->append(parsed.reasoning);
  delta->mutable_content()->append(parsed.content);
  for (ToolCall& call : parsed.tool_calls) {
    pb::ToolCall* out = delta->add_tool_calls();
    out->set_id(std::move(call.id));
    out->set_name(std::move(call.name));
    out->set_arguments_json(std::move(call.arguments));
  }
}

pb::ChatDelta ResponseBuilder::AddChunk(const pb::TokenChunk& chunk) {
  pb::ChatDelta delta;
  std::string text;
  for (int i = 0; i < chunk.token_ids_size() && !detokenizer_.stopped(); ++i) {
    const int64_t id = chunk.token_ids(i);
    ++completion_tokens_;
    const bool is_token = id >= 0 && id < tokenizer_->id_limit() &&
                          tokenizer_->DecodedBytes(static_cast<int32_t>(id)).has_value();
    if (is_token) {
      absl::StatusOr<IncrementalDetokenizer::Delta> d = detokenizer_.Add(static_cast<int32_t>(id));
      if (d.ok()) {
        text += d->text;
        if (d->stopped && d->stop_index >= 0) matched_stop_ = options_.stop_strings[d->stop_index];
      }
    } else {
      QWEN_LOG(Warning) << "generated id " << id << " is not a tokenizer token; it has no text";
    }
    if (options_.logprobs) {
      pb::TokenLogprob* lp = delta.add_logprobs();
      lp->set_token_id(id);
      if (is_token) {
        // A lone token may hold part of a character: the replacement keeps the field valid UTF-8.
        const int32_t one = static_cast<int32_t>(id);
        absl::StatusOr<std::string> token_text = tokenizer_->Decode(std::span<const int32_t>(&one, 1));
        if (token_text.ok()) lp->set_token(*token_text);
      }
      if (i < chunk.logprobs_size()) lp->set_logprob(chunk.logprobs(i));
      if (i < chunk.top_size()) *lp->mutable_top() = chunk.top(i);
    }
  }
  if (!text.empty()) AppendParsed(parser_.Push(text), &delta);
  return delta;
}

pb::ChatDelta ResponseBuilder::Finish() {
  pb::ChatDelta delta;
  if (finished_) return delta;
  finished_ = true;
  IncrementalDetokenizer::Delta tail = detokenizer_.Finish();
  if (tail.stopped && tail.stop_index >= 0 && matched_stop_.empty()) {
    matched_stop_ = options_.stop_strings[tail.stop_index];
  }
  ParsedDelta parsed = parser_.Push(tail.text);
  parsed.Append(parser_.Finish());
  AppendParsed(std::move(parsed), &delta);
  return delta;
}

pb::FinishReason ResponseBuilder::FinishReason(pb::FinishReason engine_reason) const {
  if (engine_reason == pb::FINISH_REASON_STOP && parser_.FinishReason("stop") == "tool_calls") {
    return pb::FINISH_REASON_TOOL_CALLS;
  }
  return engine_reason;
}

}  // namespace qwen::gateway
