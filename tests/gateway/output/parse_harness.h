// Test helpers: run an OutputParser over a chunking of a model output, collect the result, and
// check that every chunking of the same text gives the same result as a single-chunk parse.
#pragma once

#include <cstddef>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/output/output_parser.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace qwen::gateway::testing {

// Everything a client would assemble from the stream.
struct Collected {
  std::string reasoning;
  std::string content;
  std::vector<ToolCall> calls;
  std::string finish_reason;  // for an engine reason of "stop"

  friend bool operator==(const Collected&, const Collected&) = default;
};

inline void PrintTo(const Collected& c, std::ostream* os) {
  *os << "{reasoning=\"" << c.reasoning << "\", content=\"" << c.content << "\", calls=[";
  for (const ToolCall& call : c.calls) {
    *os << "{" << call.index << "," << call.id << "," << call.name << "," << call.arguments << "}";
  }
  *os << "], finish=" << c.finish_reason << "}";
}

// OpenAI tool definitions used across the tests.
inline nlohmann::json TestTools() {
  return nlohmann::json::parse(R"([
    {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object",
      "properties": {"city": {"type": "string"}, "days": {"type": "integer"},
                     "units": {"type": "string", "enum": ["c", "f"]}}}}},
    {"type": "function", "function": {"name": "typed", "parameters": {"type": "object",
      "properties": {"i": {"type": "integer"}, "f": {"type": "number"}, "b": {"type": "boolean"},
                     "o": {"type": "object"}, "a": {"type": "array"}, "s": {"type": "string"},
                     "zip": {"type": "string"}, "n": {"type": ["integer", "null"]}}}}},
    {"type": "function", "function": {"name": "no_schema"}}
  ])");
}

inline OutputParserOptions ToolOptions(bool thinking_enabled) {
  OutputParserOptions options;
  options.thinking_enabled = thinking_enabled;
  options.tools = TestTools();
  options.call_id_generator = [](int index) { return "call_" + std::to_string(index); };
  return options;
}

// Deterministic ids so results of different chunkings compare equal.
inline CallIdGenerator SequentialIds() {
  return [](int index) { return "call_" + std::to_string(index); };
}

inline bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xE  ? 3
                 : (c >> 3) == 0x1E ? 4
                                    : 0;
    if (len == 0 || i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += len;
  }
  return true;
}

// Feeds `chunks` in order, then Finish(). Also checks per-delta invariants: valid UTF-8 deltas
// (when the whole input is valid UTF-8) and consecutive call indices.
inline Collected Run(const OutputParserOptions& options, const std::vector<std::string>& chunks) {
  auto parser = OutputParser::Create(options);
  EXPECT_TRUE(parser.ok()) << parser.status();
  Collected out;
  if (!parser.ok()) return out;
  std::string whole;
  for (const std::string& chunk : chunks) whole += chunk;
  bool check_utf8 = IsValidUtf8(whole);
  auto absorb = [&](ParsedDelta delta) {
    if (check_utf8) {
      EXPECT_TRUE(IsValidUtf8(delta.reasoning)) << delta.reasoning;
      EXPECT_TRUE(IsValidUtf8(delta.content)) << delta.content;
    }
    out.reasoning += delta.reasoning;
    out.content += delta.content;
    for (ToolCall& call : delta.tool_calls) {
      EXPECT_EQ(call.index, static_cast<int>(out.calls.size()));
      out.calls.push_back(std::move(call));
    }
  };
  for (const std::string& chunk : chunks) absorb(parser->Push(chunk));
  absorb(parser->Finish());
  EXPECT_TRUE(parser->Finish().empty());
  out.finish_reason = parser->FinishReason("stop");
  return out;
}

inline Collected RunWhole(const OutputParserOptions& options, const std::string& text) {
  return Run(options, {text});
}

// Asserts that splitting `text` at every byte boundary (2 chunks), at every pair of boundaries
// (3 chunks, texts up to 160 bytes, if `three_way`), into single bytes, and into
// `random_trials` random chunkings all give the result of the single-chunk parse. Returns it.
inline Collected ExpectChunkingInvariant(const OutputParserOptions& options,
                                         const std::string& text, bool three_way = true,
                                         int random_trials = 200) {
  Collected expected = RunWhole(options, text);
  const size_t n = text.size();
  for (size_t i = 0; i <= n; ++i) {
    Collected got = Run(options, {text.substr(0, i), text.substr(i)});
    EXPECT_EQ(got, expected) << "split at byte " << i;
    if (got != expected) return expected;
  }
  if (three_way && n <= 160) {
    for (size_t i = 0; i <= n; ++i) {
      for (size_t j = i; j <= n; ++j) {
        Collected got = Run(options, {text.substr(0, i), text.substr(i, j - i), text.substr(j)});
        EXPECT_EQ(got, expected) << "split at bytes " << i << ", " << j;
        if (got != expected) return expected;
      }
    }
  }
  std::vector<std::string> bytes;
  for (char c : text) bytes.emplace_back(1, c);
  EXPECT_EQ(Run(options, bytes), expected) << "one byte per chunk";
  std::mt19937 rng(12345);
  std::uniform_int_distribution<size_t> size_dist(0, 9);  // empty deltas included
  for (int trial = 0; trial < random_trials; ++trial) {
    std::vector<std::string> chunks;
    size_t pos = 0;
    while (pos < n) {
      size_t len = std::min(size_dist(rng), n - pos);
      chunks.push_back(text.substr(pos, len));
      pos += len;
    }
    Collected got = Run(options, chunks);
    EXPECT_EQ(got, expected) << "random chunking #" << trial;
    if (got != expected) return expected;
  }
  return expected;
}

}  // namespace qwen::gateway::testing
