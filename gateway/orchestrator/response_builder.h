// Turns the text service's token chunks into ChatDeltas: incremental detokenization (special
// tokens skipped, stop strings matched on the text), then reasoning / content / tool-call
// splitting (OutputParser), plus per-token logprobs. Tokens are fed one at a time so a stop
// string ends the answer at the exact token that completed it (usage and logprobs stop there).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "gateway/output/output_parser.h"
#include "gateway/tokenizer/incremental_detokenizer.h"
#include "gateway/tokenizer/tokenizer.h"
#include "nlohmann/json.hpp"
#include "qwen35/v1/gateway.pb.h"
#include "qwen35/v1/text.pb.h"

namespace qwen::gateway {

struct ResponseOptions {
  std::vector<std::string> stop_strings;
  bool thinking_enabled = true;
  std::optional<nlohmann::json> tools;
  bool logprobs = false;  // the request asked for logprobs or top_logprobs
  CallIdGenerator call_id_generator;  // null = random ids
};

class ResponseBuilder {
 public:
  // InvalidArgument for a bad stop string ("stop: ...") or tools array ("tools_json: ...").
  static absl::StatusOr<ResponseBuilder> Create(const Tokenizer& tokenizer, ResponseOptions options);

  // Consumes one chunk (ignored once stopped). Returns the delta to send (possibly empty: text may
  // be held back). Ids that are not tokens (rows past the tokenizer in a padded vocabulary) carry
  // no text and are skipped for the detokenizer, but still counted.
  qwen35::v1::ChatDelta AddChunk(const qwen35::v1::TokenChunk& chunk);
  // Flushes what is held back; call once when the stream ends (any reason).
  qwen35::v1::ChatDelta Finish();

  bool stopped() const { return detokenizer_.stopped(); }
  const std::string& matched_stop() const { return matched_stop_; }
  int64_t completion_tokens() const { return completion_tokens_; }
  // TOOL_CALLS when the answer ended normally (`engine_reason` STOP) with well-formed calls;
  // otherwise `engine_reason`. Call after Finish().
  qwen35::v1::FinishReason FinishReason(qwen35::v1::FinishReason engine_reason) const;

  static bool Empty(const qwen35::v1::ChatDelta& delta) {
    return delta.content().empty() && delta.reasoning().empty() && delta.tool_calls().empty() &&
           delta.logprobs().empty();
  }

 private:
  ResponseBuilder(const Tokenizer& tokenizer, IncrementalDetokenizer detokenizer, OutputParser parser,
                  ResponseOptions options)
      : tokenizer_(&tokenizer), detokenizer_(std::move(detokenizer)), parser_(std::move(parser)),
        options_(std::move(options)) {}
  void AppendParsed(ParsedDelta parsed, qwen35::v1::ChatDelta* delta) const;

  const Tokenizer* tokenizer_;
  IncrementalDetokenizer detokenizer_;
  OutputParser parser_;
  ResponseOptions options_;
  std::string matched_stop_;
  int64_t completion_tokens_ = 0;
  bool finished_ = false;
};

}  // namespace qwen::gateway
