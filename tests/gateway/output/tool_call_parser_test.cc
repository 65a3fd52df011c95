// Grammar, recovery and malformed-output rules of the Qwen XML tool-call parser. Texts go
// through OutputParser with thinking disabled (content-only, so the tool parser sees the text
// unchanged) and are checked under every chunking.
#include "gateway/output/tool_call_parser.h"

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

// A rejected block must come back as content byte for byte, with no call and no tool_calls.
void ExpectAllContent(const std::string& text) {
  Collected got = ExpectChunkingInvariant(ToolOptions(false), text);
  EXPECT_EQ(got.content, text);
  EXPECT_TRUE(got.calls.empty());
  EXPECT_EQ(got.finish_reason, "stop");
}

TEST(ToolCallParserTest, UnclosedBlocksAtEndOfStreamAreContent) {
  const std::string full =
      "Checking.\n\n<tool_call>\n<function=get_weather>\n<parameter=city>\nParis\n</parameter>\n"
      "</function>";
  // Every truncation before `</function>` completes is content; `</function>` itself completes
  // the call (the missing `</tool_call>` is tolerated at the end of the stream).
  size_t complete = full.size();
  for (size_t len = full.find("<tool_call>"); len < complete; len += 7) {
    SCOPED_TRACE(len);
    Collected got = testing::RunWhole(ToolOptions(false), full.substr(0, len));
    EXPECT_EQ(got.content, full.substr(0, len));
    EXPECT_TRUE(got.calls.empty());
  }
  ExpectAllContent(full.substr(0, full.size() - 3));
  ExpectAllContent("Checking.\n\n<tool_call>\n<function=get_weather>\n<parameter=city>\nPar");
  ExpectAllContent("<tool_call");
  ExpectAllContent("<tool_call>\n<function=get_wea");
}

TEST(ToolCallParserTest, MissingToolCallCloseAtEndIsStillACall) {
  for (const char* tail : {"", "\n", "\n</tool_", "\n</tool_call"}) {
    Collected got = ExpectChunkingInvariant(
        ToolOptions(false),
        "<tool_call>\n<function=get_weather>\n<parameter=city>\nParis\n</parameter>\n"
        "</function>" +
            std::string(tail));
    EXPECT_EQ(got.content, "") << tail;
    ASSERT_EQ(got.calls.size(), 1u) << tail;
    EXPECT_EQ(Args(got.calls[0]), OrderedJson({{"city", "Paris"}}));
    EXPECT_EQ(got.finish_reason, "tool_calls");
  }
}

TEST(ToolCallParserTest, UnknownFunctionIsContent) {
  ExpectAllContent(
      "<tool_call>\n<function=launch_rockets>\n<parameter=count>\n3\n</parameter>\n</function>\n"
      "</tool_call>");
}

TEST(ToolCallParserTest, InvalidNamesAreContent) {
  ExpectAllContent("<tool_call>\n<function={{ tc.name }}>\n</function>\n</tool_call>");
  ExpectAllContent("<tool_call>\n<function=>\n</function>\n</tool_call>");
  ExpectAllContent(
      "<tool_call>\n<function=get_weather>\n<parameter=a b>\n1\n</parameter>\n"
      "</function>\n</tool_call>");
  ExpectAllContent("<tool_call>\n<function=" + std::string(300, 'x') + ">\n</function>");
}

TEST(ToolCallParserTest, GarbageInsideBlockIsContent) {
  ExpectAllContent("Use the <tool_call> tag to call tools.");
  ExpectAllContent("<tool_call>hello</tool_call>");
  ExpectAllContent("<tool_call>\n<function=get_weather>\nrandom words\n</function>\n</tool_call>");
  ExpectAllContent("<tool_call>\n<function=get_weather>\n</function>\nextra\n</tool_call>");
  // Missing `</function>`: the block departs from the grammar at `</tool_call>`.
  ExpectAllContent(
      "<tool_call>\n<function=get_weather>\n<parameter=city>\nParis\n</parameter>\n"
      "</tool_call>");
}

TEST(ToolCallParserTest, MissingParameterCloseBeforeFunctionEndIsContent) {
  ExpectAllContent(
      "<tool_call>\n<function=get_weather>\n<parameter=city>\nParis\n</function>\n"
      "</tool_call>");
}

TEST(ToolCallParserTest, MissingParameterCloseRecoveredByNextDeclaredParameter) {
  Collected got = ExpectChunkingInvariant(
      ToolOptions(false),
      "<tool_call>\n<function=get_weather>\n<parameter=city>\nParis\n<parameter=days>\n2\n"
      "</parameter>\n</function>\n</tool_call>");
  ASSERT_EQ(got.calls.size(), 1u);
  EXPECT_EQ(Args(got.calls[0]), OrderedJson({{"city", "Paris"}, {"days", 2}}));
}

TEST(ToolCallParserTest, MissingParameterCloseWithUndeclaredNextIsContent) {
  // `<parameter=other>` is not declared, so it is a literal nested tag that takes the only
  // `</parameter>`; the value never closes and the block is rejected at the end.
  ExpectAllContent(
      "<tool_call>\n<function=get_weather>\n<parameter=city>\nA\n<parameter=other>\n"
      "B\n</parameter>\n</function>\n</tool_call>");
}

TEST(ToolCallParserTest, NestedLiteralParameterBlockStaysInValue) {
  const std::string value =
      "Example:\n<tool_call>\n<function=f>\n<parameter=x>\n1\n</parameter>\n</function>\n"
      "</tool_call>";
  Collected got = ExpectChunkingInvariant(
      ToolOptions(false),
      "<tool_call>\n<function=typed>\n<parameter=s>\n" + value +
          "\n</parameter>\n<parameter=i>\n5\n</parameter>\n</function>\n</tool_call>");
  ASSERT_EQ(got.calls.size(), 1u);
  EXPECT_EQ(Args(got.calls[0]), OrderedJson({{"s", value}, {"i", 5}}));
}

TEST(ToolCallParserTest, LiteralTagsInsideValues) {
  // `</parameter>` not followed by a structural tag is value text; so are `</tool_call>` and
  // `<tool_call>` inside a value.
  const std::string value = "if x </parameter> y:\n  s = \"<tool_call></tool_call>\"";
  Collected got = ExpectChunkingInvariant(ToolOptions(false),
                                          "<tool_call>\n<function=typed>\n<parameter=s>\n" + value +
                                              "\n</parameter>\n</function>\n</tool_call>");
  ASSERT_EQ(got.calls.size(), 1u);
  EXPECT_EQ(Args(got.calls[0]), OrderedJson({{"s", value}}));
}

TEST(ToolCallParserTest, MalformedBlockThenGoodCall) {
  const std::string bad = "<tool_call>\n<function=nope>\n</function>\n</tool_call>";
  const std::string good =
      "<tool_call>\n<function=get_weather>\n<parameter=days>\n4\n</parameter>\n</function>\n"
      "</tool_call>";
  Collected got = ExpectChunkingInvariant(ToolOptions(false), bad + "\n" + good);
  EXPECT_EQ(got.content, bad);  // the newline before the good call is the call's separator
  ASSERT_EQ(got.calls.size(), 1u);
  EXPECT_EQ(got.calls[0].index, 0);
  EXPECT_EQ(Args(got.calls[0]), OrderedJson({{"days", 4}}));
  EXPECT_EQ(got.finish_reason, "tool_calls");
}

TEST(ToolCallParserTest, UnclosedValueSwallowingALaterCallIsRecoveredAtEnd) {
  // The first value never closes, so at the end the first block is rejected and the text after
  // its `<tool_call>` is scanned again, which finds the second, well-formed call.
  const std::string first = "<tool_call>\n<function=get_weather>\n<parameter=city>\nPa";
  const std::string second =
      "<tool_call>\n<function=no_schema>\n<parameter=x>\n1\n</parameter>\n</function>\n"
      "</tool_call>";
  Collected got = ExpectChunkingInvariant(ToolOptions(false), first + "\n" + second);
  EXPECT_EQ(got.content, first);
  ASSERT_EQ(got.calls.size(), 1u);
  EXPECT_EQ(got.calls[0].name, "no_schema");
  EXPECT_EQ(Args(got.calls[0]), OrderedJson({{"x", 1}}));
}

TEST(ToolCallParserTest, RepeatedParameterOverwritesInPlace) {
  Collected got = ExpectChunkingInvariant(
      ToolOptions(false),
      "<tool_call>\n<function=get_weather>\n<parameter=city>\nA\n</parameter>\n<parameter=days>"
      "\n1\n</parameter>\n<parameter=city>\nB\n</parameter>\n</function>\n</tool_call>");
  ASSERT_EQ(got.calls.size(), 1u);
  EXPECT_EQ(got.calls[0].arguments, R"({"city":"B","days":1})");
}

TEST(ToolCallParserTest, ValueNewlineConventionStripsExactlyOne) {
  Collected got = ExpectChunkingInvariant(
      ToolOptions(false),
      "<tool_call>\n<function=typed>\n<parameter=s>\n\n  two blank-edged lines  \n\n</parameter>"
      "\n<parameter=zip>1</parameter>\n</function>\n</tool_call>");
  ASSERT_EQ(got.calls.size(), 1u);
  EXPECT_EQ(Args(got.calls[0]),
            OrderedJson({{"s", "\n  two blank-edged lines  \n"}, {"zip", "1"}}));
}

TEST(ToolCallParserTest, NoSchemaTriesJsonThenString) {
  Collected got = ExpectChunkingInvariant(
      ToolOptions(false),
      "<tool_call>\n<function=no_schema>\n<parameter=n>\n42\n</parameter>\n<parameter=t>\nhello"
      "\n</parameter>\n<parameter=o>\n{\"a\": [1]}\n</parameter>\n<parameter=b>\ntrue\n"
      "</parameter>\n</function>\n</tool_call>");
  ASSERT_EQ(got.calls.size(), 1u);
  EXPECT_EQ(got.calls[0].arguments, R"({"n":42,"t":"hello","o":{"a":[1]},"b":true})");
}

TEST(ToolCallParserTest, InvalidUtf8InValueDoesNotThrow) {
  ToolCallParser parser(ToolSchemas::AcceptAny(), testing::SequentialIds());
  ParsedDelta out = parser.Push(
      "<tool_call>\n<function=f>\n<parameter=s>\nbad \xff byte\n</parameter>\n</function>\n"
      "</tool_call>");
  ASSERT_EQ(out.tool_calls.size(), 1u);
  EXPECT_EQ(out.tool_calls[0].arguments, "{\"s\":\"bad \xEF\xBF\xBD byte\"}");
}

TEST(ToolCallParserTest, AcceptAnyTakesAnyValidName) {
  ToolCallParser parser(ToolSchemas::AcceptAny(), testing::SequentialIds());
  ParsedDelta out = parser.Push("<tool_call>\n<function=ns/tool.v2>\n</function>\n</tool_call>");
  out.Append(parser.Finish());
  ASSERT_EQ(out.tool_calls.size(), 1u);
  EXPECT_EQ(out.tool_calls[0].name, "ns/tool.v2");
  EXPECT_EQ(parser.num_calls(), 1);
}

TEST(ToolCallParserTest, HoldsBackOnlyWhatIsNeeded) {
  ToolCallParser parser(ToolSchemas::AcceptAny(), testing::SequentialIds());
  EXPECT_EQ(parser.Push("Hello <tool").content, "Hello");  // " <tool" might start a call
  EXPECT_EQ(parser.Push("box> world").content, " <toolbox> world");
  EXPECT_EQ(parser.Push("\n").content, "");  // whitespace before a possible call waits
  EXPECT_EQ(parser.Push("x").content, "\nx");
  EXPECT_EQ(parser.Finish().content, "");
}

TEST(ToolCallParserTest, LongValueInTinyDeltas) {
  std::string value(200000, 'v');
  for (size_t i = 0; i < value.size(); i += 97) value[i] = '\n';
  std::string text = "<tool_call>\n<function=typed>\n<parameter=s>\n" + value +
                     "\n</parameter>\n</function>\n</tool_call>";
  ToolCallParser parser(*ToolSchemas::Create(testing::TestTools()), testing::SequentialIds());
  ParsedDelta all;
  for (size_t i = 0; i < text.size(); i += 3) all.Append(parser.Push(text.substr(i, 3)));
  all.Append(parser.Finish());
  ASSERT_EQ(all.tool_calls.size(), 1u);
  EXPECT_EQ(Args(all.tool_calls[0])["s"], value);
  EXPECT_EQ(all.content, "");
}

}  // namespace
}  // namespace qwen::gateway

namespace qwen::gateway {
namespace {

// Random texts built from tag fragments, partial tags, whitespace and multibyte characters:
// every chunking must agree, and when no call is accepted nothing may be lost or altered.
TEST(ToolCallParserFuzzTest, RandomTagSoup) {
  const std::vector<std::string> pieces = {
      "<tool_call>",
      "</tool_call>",
      "<function=get_weather>",
      "<function=no_schema>",
      "<function=bad>",
      "</function>",
      "<parameter=city>",
      "<parameter=days>",
      "<parameter=x>",
      "</parameter>",
      "\n",
      "\n\n",
      " ",
      "Paris",
      "42",
      "é",
      "😀",
      "<",
      "</",
      "<tool",
      "</think>",
      "text",
      "{\"a\":1}",
      "<parameter=",
      "<function=",
      "<tool_call>\n<function=get_weather>\n<parameter=city>\nOslo\n</parameter>\n</function>\n"
      "</tool_call>"};
  std::mt19937 rng(2024);
  std::uniform_int_distribution<size_t> piece(0, pieces.size() - 1);
  std::uniform_int_distribution<int> count(1, 30);
  int with_calls = 0;
  for (int trial = 0; trial < 300; ++trial) {
    std::string text = "x";  // never a leading `<think>`
    for (int k = count(rng); k > 0; --k) text += pieces[piece(rng)];
    SCOPED_TRACE(text);
    Collected got = ExpectChunkingInvariant(ToolOptions(false), text, /*three_way=*/false,
                                            /*random_trials=*/10);
    if (got.calls.empty()) {
      EXPECT_EQ(got.content, text);
      EXPECT_EQ(got.finish_reason, "stop");
    } else {
      ++with_calls;
      EXPECT_EQ(got.finish_reason, "tool_calls");
      for (const ToolCall& call : got.calls) {
        EXPECT_TRUE(OrderedJson::parse(call.arguments, nullptr, false).is_object());
      }
    }
    if (::testing::Test::HasFailure()) break;
  }
  EXPECT_GT(with_calls, 20);  // the generator does exercise accepted calls
}

}  // namespace
}  // namespace qwen::gateway
