// End-to-end tests of the combined parser on fixed model outputs, each checked under every
// chunking (tests/gateway/output/parse_harness.h).
#include "gateway/output/output_parser.h"

#include <optional>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/gateway/output/parse_harness.h"

namespace qwen::gateway {
namespace {

using testing::Collected;
using testing::ExpectChunkingInvariant;
using testing::ToolOptions;
using OrderedJson = nlohmann::ordered_json;

OrderedJson Args(const ToolCall& call) { return OrderedJson::parse(call.arguments); }

TEST(OutputParserTest, ThinkingThenContentThenCall) {
  const std::string text =
      "The user wants the weather in 東京.\nI should call the tool.\n</think>\n\n"
      "Let me check.\n\n<tool_call>\n<function=get_weather>\n<parameter=city>\n東京\n"
      "</parameter>\n<parameter=days>\n3\n</parameter>\n</function>\n</tool_call>";
  Collected got = ExpectChunkingInvariant(ToolOptions(true), text);
  EXPECT_EQ(got.reasoning, "The user wants the weather in 東京.\nI should call the tool.");
  EXPECT_EQ(got.content, "Let me check.");
  ASSERT_EQ(got.calls.size(), 1u);
  EXPECT_EQ(got.calls[0].index, 0);
  EXPECT_EQ(got.calls[0].id, "call_0");
  EXPECT_EQ(got.calls[0].name, "get_weather");
  // Compact JSON, parameters in the order the model wrote them.
  EXPECT_EQ(got.calls[0].arguments, R"({"city":"東京","days":3})");
  EXPECT_EQ(got.finish_reason, "tool_calls");
}

TEST(OutputParserTest, PlainAnswerWithThinking) {
  Collected got = ExpectChunkingInvariant(ToolOptions(true),
                                          "\nShort thought.\n\n</think>\n\nThe answer is 42.\n");
  EXPECT_EQ(got.reasoning, "Short thought.");
  EXPECT_EQ(got.content, "The answer is 42.\n");
  EXPECT_TRUE(got.calls.empty());
  EXPECT_EQ(got.finish_reason, "stop");
}

TEST(OutputParserTest, EmptyReasoning) {
  Collected got = ExpectChunkingInvariant(ToolOptions(true), "\n\n</think>\n\nHi!");
  EXPECT_EQ(got.reasoning, "");
  EXPECT_EQ(got.content, "Hi!");
}

TEST(OutputParserTest, MultipleCallsBackToBack) {
  const std::string text =
      "<tool_call>\n<function=get_weather>\n<parameter=city>\nParis\n</parameter>\n</function>\n"
      "</tool_call>\n<tool_call>\n<function=get_weather>\n<parameter=city>\nRome\n</parameter>\n"
      "<parameter=units>\nf\n</parameter>\n</function>\n</tool_call>";
  Collected got = ExpectChunkingInvariant(ToolOptions(false), text);
  EXPECT_EQ(got.content, "");
  ASSERT_EQ(got.calls.size(), 2u);
  EXPECT_EQ(got.calls[0].id, "call_0");
  EXPECT_EQ(got.calls[1].id, "call_1");
  EXPECT_EQ(got.calls[1].index, 1);
  EXPECT_EQ(Args(got.calls[0]), OrderedJson({{"city", "Paris"}}));
  EXPECT_EQ(Args(got.calls[1]), OrderedJson({{"city", "Rome"}, {"units", "f"}}));
  EXPECT_EQ(got.finish_reason, "tool_calls");
}

TEST(OutputParserTest, ContentBeforeAndAfterCalls) {
  const std::string text =
      "I will look this up for you.\n\n<tool_call>\n<function=no_schema>\n</function>\n"
      "</tool_call>\n\nDone.";
  Collected got = ExpectChunkingInvariant(ToolOptions(false), text);
  EXPECT_EQ(got.content, "I will look this up for you.Done.");
  ASSERT_EQ(got.calls.size(), 1u);
  EXPECT_EQ(got.calls[0].name, "no_schema");
  EXPECT_EQ(got.calls[0].arguments, "{}");
}

TEST(OutputParserTest, TypedParametersPerSchema) {
  const std::string text =
      "<tool_call>\n<function=typed>\n"
      "<parameter=i>\n-17\n</parameter>\n"
      "<parameter=f>\n2.5\n</parameter>\n"
      "<parameter=b>\nTrue\n</parameter>\n"
      "<parameter=o>\n{\"k\": [1, {\"x\": null}]}\n</parameter>\n"
      "<parameter=a>\n[\"a\", 2, false]\n</parameter>\n"
      "<parameter=s>\nline one\n\n  line three\n</parameter>\n"
      "<parameter=zip>\n02139\n</parameter>\n"
      "<parameter=n>\nNone\n</parameter>\n"
      "</function>\n</tool_call>";
  Collected got = ExpectChunkingInvariant(ToolOptions(false), text);
  ASSERT_EQ(got.calls.size(), 1u);
  OrderedJson expected = OrderedJson::parse(R"({"i": -17, "f": 2.5, "b": true,
      "o": {"k": [1, {"x": null}]}, "a": ["a", 2, false], "s": "line one\n\n  line three",
      "zip": "02139", "n": null})");
  EXPECT_EQ(Args(got.calls[0]), expected);
  EXPECT_TRUE(Args(got.calls[0])["i"].is_number_integer());
  EXPECT_TRUE(Args(got.calls[0])["zip"].is_string());
}

TEST(OutputParserTest, CallsInsideReasoningAreReasoningText) {
  const std::string text =
      "I could emit <tool_call>\n<function=get_weather>\n<parameter=city>\nParis\n</parameter>\n"
      "</function>\n</tool_call> but I will not.\n</think>\n\nIt is sunny.";
  Collected got = ExpectChunkingInvariant(ToolOptions(true), text);
  EXPECT_EQ(got.reasoning, text.substr(0, text.find("\n</think>")));
  EXPECT_EQ(got.content, "It is sunny.");
  EXPECT_TRUE(got.calls.empty());
  EXPECT_EQ(got.finish_reason, "stop");
}

TEST(OutputParserTest, Utf8MultibyteNextToTags) {
  const std::string text =
      "é🙂</think>\n\n😀\n<tool_call>\n<function=get_weather>\n<parameter=city>\n🏙️\n"
      "</parameter>\n</function>\n</tool_call>\nü";
  Collected got = ExpectChunkingInvariant(ToolOptions(true), text);
  EXPECT_EQ(got.reasoning, "é🙂");
  EXPECT_EQ(got.content, "😀ü");
  ASSERT_EQ(got.calls.size(), 1u);
  EXPECT_EQ(Args(got.calls[0]), OrderedJson({{"city", "🏙️"}}));
}

TEST(OutputParserTest, ThinkingDisabledIsAllContent) {
  const std::string text = "\n\nNo reasoning here; </think> and <think> are just text.\n";
  Collected got = ExpectChunkingInvariant(ToolOptions(false), text);
  EXPECT_EQ(got.reasoning, "");
  EXPECT_EQ(got.content, text);
}

TEST(OutputParserTest, ModelEmitsThinkItself) {
  const std::string text = "<think>\nPlan: answer briefly.\n</think>\n\nBrief answer.";
  for (bool thinking : {true, false}) {
    Collected got = ExpectChunkingInvariant(ToolOptions(thinking), text);
    EXPECT_EQ(got.reasoning, "Plan: answer briefly.") << thinking;
    EXPECT_EQ(got.content, "Brief answer.") << thinking;
  }
  Collected spaced = ExpectChunkingInvariant(ToolOptions(true), "\n <think>r</think>c");
  EXPECT_EQ(spaced.reasoning, "r");
  EXPECT_EQ(spaced.content, "c");
}

TEST(OutputParserTest, TruncatedInsideReasoning) {
  Collected got = ExpectChunkingInvariant(ToolOptions(true), "Still thinking about 🚀\n\n");
  EXPECT_EQ(got.reasoning, "Still thinking about 🚀");
  EXPECT_EQ(got.content, "");
  Collected partial_tag = ExpectChunkingInvariant(ToolOptions(true), "Almost done</thi");
  EXPECT_EQ(partial_tag.reasoning, "Almost done</thi");
}

TEST(OutputParserTest, WithoutToolsEverythingIsText) {
  const std::string text =
      "<tool_call>\n<function=get_weather>\n<parameter=city>\nParis\n</parameter>\n</function>\n"
      "</tool_call>";
  for (auto tools :
       {std::optional<nlohmann::json>(), std::optional<nlohmann::json>(nlohmann::json::array())}) {
    OutputParserOptions options;
    options.thinking_enabled = false;
    options.tools = tools;
    Collected got = ExpectChunkingInvariant(options, text);
    EXPECT_EQ(got.content, text);
    EXPECT_TRUE(got.calls.empty());
    EXPECT_EQ(got.finish_reason, "stop");
  }
}

TEST(OutputParserTest, MalformedCallAfterReasoningBecomesContent) {
  const std::string text =
      "thought</think>\n\nTrying.\n\n<tool_call>\n<function=get_weather>\n<parameter=city>\nPa";
  Collected got = ExpectChunkingInvariant(ToolOptions(true), text);
  EXPECT_EQ(got.reasoning, "thought");
  EXPECT_EQ(got.content, text.substr(text.find("Trying.")));
  EXPECT_TRUE(got.calls.empty());
  EXPECT_EQ(got.finish_reason, "stop");
}

TEST(OutputParserTest, FinishReasonKeepsLengthAndOtherReasons) {
  auto parser = OutputParser::Create(ToolOptions(false));
  ASSERT_TRUE(parser.ok());
  ParsedDelta delta = parser->Push("<tool_call>\n<function=no_schema>\n</function>\n</tool_call>");
  ASSERT_EQ(delta.tool_calls.size(), 1u);  // emitted as soon as </tool_call> arrives
  EXPECT_TRUE(parser->Finish().empty());
  EXPECT_EQ(parser->num_tool_calls(), 1);
  EXPECT_EQ(parser->FinishReason("stop"), "tool_calls");
  EXPECT_EQ(parser->FinishReason("length"), "length");
  EXPECT_EQ(parser->FinishReason("abort"), "abort");
}

TEST(OutputParserTest, PushAfterFinishIsIgnored) {
  auto parser = OutputParser::Create(ToolOptions(false));
  ASSERT_TRUE(parser.ok());
  EXPECT_EQ(parser->Push("abc").content, "abc");
  EXPECT_TRUE(parser->Finish().empty());
  EXPECT_TRUE(parser->Push("more").empty());
}

TEST(OutputParserTest, DefaultCallIdsAreRandomAndDistinct) {
  OutputParserOptions options;
  options.thinking_enabled = false;
  options.tools = testing::TestTools();
  auto parser = OutputParser::Create(options);
  ASSERT_TRUE(parser.ok());
  const std::string call = "<tool_call>\n<function=no_schema>\n</function>\n</tool_call>";
  ParsedDelta delta = parser->Push(call + "\n" + call);
  ASSERT_EQ(delta.tool_calls.size(), 2u);
  for (const ToolCall& c : delta.tool_calls) {
    ASSERT_EQ(c.id.size(), 5u + 24u) << c.id;
    EXPECT_EQ(c.id.substr(0, 5), "call_");
    EXPECT_EQ(c.id.find_first_not_of("0123456789abcdef", 5), std::string::npos) << c.id;
  }
  EXPECT_NE(delta.tool_calls[0].id, delta.tool_calls[1].id);
}

TEST(OutputParserTest, InvalidToolsAreRejected) {
  for (const char* tools : {R"({"name": "f"})", R"([1])", R"([{"function": {"name": ""}}])",
                            R"([{"function": {"name": "f", "parameters": []}}])"}) {
    OutputParserOptions options;
    options.tools = nlohmann::json::parse(tools);
    auto parser = OutputParser::Create(options);
    EXPECT_EQ(parser.status().code(), absl::StatusCode::kInvalidArgument) << tools;
  }
}

TEST(OutputParserFuzzTest, RandomReasoningAndCalls) {
  const std::vector<std::string> pieces = {
      "<think>",
      "</think>",
      "</thi",
      "<thi",
      "\n",
      "\n\n",
      " ",
      "word",
      "é",
      "🚀",
      "<",
      "</",
      "<tool_call>",
      "</tool_call>",
      "<tool_call>\n<function=get_weather>\n<parameter=days>\n2\n</parameter>\n</function>\n"
      "</tool_call>"};
  std::mt19937 rng(7);
  std::uniform_int_distribution<size_t> piece(0, pieces.size() - 1);
  std::uniform_int_distribution<int> count(0, 25);
  for (int trial = 0; trial < 300; ++trial) {
    std::string text;
    for (int k = count(rng); k > 0; --k) text += pieces[piece(rng)];
    SCOPED_TRACE(text);
    ExpectChunkingInvariant(ToolOptions(trial % 2 == 0), text, /*three_way=*/false,
                            /*random_trials=*/10);
    if (::testing::Test::HasFailure()) break;
  }
}

}  // namespace
}  // namespace qwen::gateway

namespace qwen::gateway {
namespace {

// A degenerate generation that repeats whitespace must be parsed in linear time: with per-delta
// rescans of the held run these loops would take minutes, not milliseconds.
TEST(OutputParserTest, WhitespaceFloodsOneByteAtATime) {
  constexpr size_t kFlood = 400000;
  struct Case {
    bool thinking;
    std::string prefix;
    std::string filler;
    std::string suffix;
  };
  const std::vector<Case> cases = {
      {true, "r", "\n", "x</think>c"},        // newlines inside reasoning
      {false, "", " ", "<think>r</think>c"},  // whitespace before a possible <think>
      {false, "c", " ", "d"},                 // whitespace in content with tools on
      {false, "<tool_call>", "\n", "<function=no_schema>\n</function>\n</tool_call>"},
      {false, "<tool_call>\n<function=typed>\n<parameter=s>\n", "\n",
       "\n</parameter>\n</function>\n</tool_call>"},
      {false, "<tool_call>\n<function=typed>\n<parameter=s>\nv\n</parameter>", "\n",
       "</function>\n</tool_call>"},
  };
  for (const Case& c : cases) {
    auto parser = OutputParser::Create(ToolOptions(c.thinking));
    ASSERT_TRUE(parser.ok());
    ParsedDelta all = parser->Push(c.prefix);
    for (size_t i = 0; i < kFlood; ++i) all.Append(parser->Push(c.filler));
    all.Append(parser->Push(c.suffix));
    all.Append(parser->Finish());
    const std::string expected_text = c.prefix + std::string(kFlood, c.filler[0]) + c.suffix;
    EXPECT_EQ(all.reasoning + all.content,
              testing::RunWhole(ToolOptions(c.thinking), expected_text).reasoning +
                  testing::RunWhole(ToolOptions(c.thinking), expected_text).content);
    EXPECT_EQ(all.tool_calls.size(), c.prefix.find("<tool_call>") == 0 ? 1u : 0u);
  }
}

}  // namespace
}  // namespace qwen::gateway
