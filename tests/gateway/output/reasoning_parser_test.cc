#include "gateway/output/reasoning_parser.h"

#include <string>

#include "gateway/output/text_scan.h"
#include "gtest/gtest.h"

namespace qwen::gateway {
namespace {

TEST(ReasoningParserTest, HoldsBackOnlyPartialTagsAndTrailingNewlines) {
  ReasoningParser parser(/*thinking_enabled=*/true);
  EXPECT_EQ(parser.Push("Step one").reasoning, "Step one");
  EXPECT_EQ(parser.Push(".\n</th").reasoning, ".");
  EXPECT_FALSE(parser.reasoning_ended());
  ParsedDelta d = parser.Push("ink>\n\nAns");
  EXPECT_EQ(d.reasoning, "");
  EXPECT_EQ(d.content, "Ans");
  EXPECT_TRUE(parser.reasoning_ended());
  EXPECT_EQ(parser.Push("wer\n").content, "wer\n");
  EXPECT_TRUE(parser.Finish().empty());
}

TEST(ReasoningParserTest, FalseTagPrefixIsReleased) {
  ReasoningParser parser(/*thinking_enabled=*/true);
  EXPECT_EQ(parser.Push("a </thi").reasoning, "a ");
  EXPECT_EQ(parser.Push("s is not it").reasoning, "</this is not it");
}

TEST(ReasoningParserTest, IncompleteUtf8IsHeldBack) {
  ReasoningParser parser(/*thinking_enabled=*/false);
  const std::string rocket = "🚀";
  std::string first = "x";
  first.append(rocket, 0, 2);  // (not `"x" + substr`: GCC 12 -Wrestrict false positive)
  EXPECT_EQ(parser.Push(first).content, "x");
  EXPECT_EQ(parser.Push(rocket.substr(2)).content, rocket);
}

TEST(ReasoningParserTest, ThinkingDisabledLeadingThinkDecision) {
  ReasoningParser parser(/*thinking_enabled=*/false);
  EXPECT_TRUE(parser.Push("\n<thi").empty());  // might still be `<think>`
  EXPECT_EQ(parser.Push("s").content, "\n<this");
  EXPECT_TRUE(parser.reasoning_ended());
}

TEST(ReasoningParserTest, SecondCloseTagIsContent) {
  ReasoningParser parser(/*thinking_enabled=*/true);
  ParsedDelta d = parser.Push("r</think>\n\nc</think>d");
  d.Append(parser.Finish());
  EXPECT_EQ(d.reasoning, "r");
  EXPECT_EQ(d.content, "c</think>d");
}

TEST(TextScanTest, Helpers) {
  using output_internal::MatchTag;
  using output_internal::PartialTagSuffix;
  using output_internal::TagMatch;
  using output_internal::Utf8SafePrefixLength;
  EXPECT_EQ(MatchTag("<tool_call>x", "<tool_call>"), TagMatch::kFull);
  EXPECT_EQ(MatchTag("<tool", "<tool_call>"), TagMatch::kPartial);
  EXPECT_EQ(MatchTag("", "<tool_call>"), TagMatch::kPartial);
  EXPECT_EQ(MatchTag("<tox", "<tool_call>"), TagMatch::kNone);
  EXPECT_EQ(PartialTagSuffix("abc<tool_ca", "<tool_call>"), 8u);
  EXPECT_EQ(PartialTagSuffix("abc<", "<tool_call>"), 1u);
  EXPECT_EQ(PartialTagSuffix("abc<tool_call>", "<tool_call>"), 0u);  // full tags are not partial
  EXPECT_EQ(Utf8SafePrefixLength("ab\xF0\x9F\x9A"), 2u);
  EXPECT_EQ(Utf8SafePrefixLength("ab\xF0\x9F\x9A\x80"), 6u);
  EXPECT_EQ(Utf8SafePrefixLength("ab\xC3"), 2u);
  EXPECT_EQ(Utf8SafePrefixLength("ab\x80\x80\x80\x80"), 6u);  // invalid: not held
  EXPECT_EQ(Utf8SafePrefixLength("\xFF"), 1u);
}

}  // namespace
}  // namespace qwen::gateway
