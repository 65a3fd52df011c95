// Template errors carry the line and column of the offending construct; raise_exception keeps the
// template's message verbatim; unsupported Jinja is rejected up front rather than misrendered.
#include <string>

#include "gateway/chat_template/chat_template.h"
#include "gateway/chat_template/template.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace qwen::gateway::jinja {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

absl::Status ParseError(const std::string& source) {
  absl::StatusOr<Template> t = Template::Parse(source);
  return t.ok() ? absl::OkStatus() : t.status();
}

absl::Status RenderError(const std::string& source, const nlohmann::ordered_json& context) {
  absl::StatusOr<Template> t = Template::Parse(source);
  if (!t.ok()) return t.status();
  return t->Render(context).status();
}

TEST(JinjaErrorsTest, UnknownFilterNamesLineAndColumn) {
  const absl::Status s = ParseError("Hello\n{{ name|frobnicate }}");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "line 2, column 9: No filter named 'frobnicate'.");
}

TEST(JinjaErrorsTest, UnknownTest) {
  EXPECT_EQ(ParseError("{% if x is shiny %}{% endif %}").message(),
            "line 1, column 12: No test named 'shiny'.");
}

TEST(JinjaErrorsTest, ColumnsCountCodePoints) {
  EXPECT_THAT(std::string(ParseError("é€{{ x|bad }}").message()), StartsWith("line 1, column 8: "));
}

TEST(JinjaErrorsTest, UnterminatedBlockPointsAtItsOpeningTag) {
  const absl::Status s = ParseError("a\n  {% for x in y %}\n{{ x }}");
  EXPECT_THAT(std::string(s.message()), StartsWith("line 2, column 6: Unexpected end of template."));
  EXPECT_THAT(std::string(s.message()), HasSubstr("'endfor' or 'else'"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("The innermost block that needs to be closed is 'for'."));
}

TEST(JinjaErrorsTest, UnterminatedIfAfterElif) {
  const absl::Status s = ParseError("{% if a %}1{% elif b %}2");
  EXPECT_THAT(std::string(s.message()), StartsWith("line 1, column 4: Unexpected end of template."));
  EXPECT_THAT(std::string(s.message()), HasSubstr("'if'"));
}

TEST(JinjaErrorsTest, MismatchedEndTag) {
  const absl::Status s = ParseError("{% if x %}\n{% endfor %}");
  EXPECT_THAT(std::string(s.message()), StartsWith("line 2, column 4: Encountered unknown tag 'endfor'."));
  EXPECT_THAT(std::string(s.message()), HasSubstr("'elif' or 'else' or 'endif'"));
}

TEST(JinjaErrorsTest, UnsupportedTagsAreRejected) {
  EXPECT_EQ(ParseError("x\n{% extends 'base.html' %}").message(),
            "line 2, column 4: the 'extends' tag is not supported by this interpreter");
  EXPECT_EQ(ParseError("{% include 'a' %}").message(),
            "line 1, column 4: the 'include' tag is not supported by this interpreter");
  EXPECT_EQ(ParseError("{% for x in y recursive %}{% endfor %}").message(),
            "line 1, column 15: recursive for loops are not supported by this interpreter");
  EXPECT_THAT(std::string(ParseError("{% do x.append(1) %}").message()),
              StartsWith("line 1, column 4: Encountered unknown tag 'do'."));
}

TEST(JinjaErrorsTest, LexerErrors) {
  EXPECT_THAT(std::string(ParseError("x\n{{ y").message()), StartsWith("line 2, column 1: unexpected end"));
  EXPECT_EQ(ParseError("{{ 'abc }}").message(), "line 1, column 4: unterminated string literal");
  EXPECT_EQ(ParseError("a {# open").message(), "line 1, column 3: Missing end of comment tag");
  EXPECT_EQ(ParseError("{{ (1 + 2 }}").message(), "line 1, column 11: unexpected '}', expected ')'");
  EXPECT_EQ(ParseError("{{ 1 ? 2 }}").message(), "line 1, column 6: unexpected char '?'");
}

TEST(JinjaErrorsTest, SyntaxErrors) {
  EXPECT_EQ(ParseError("{{ }}").message(),
            "line 1, column 4: Expected an expression, got 'end of print statement'");
  EXPECT_EQ(ParseError("{% break %}").message(), "line 1, column 4: 'break' outside loop");
  EXPECT_EQ(ParseError("{% set 1 = 2 %}").message(), "line 1, column 8: can't assign to 'const'");
  EXPECT_EQ(ParseError("{% macro m(a=1, b) %}{% endmacro %}").message(),
            "line 1, column 18: non-default argument follows default argument");
}

TEST(JinjaErrorsTest, RuntimeErrorsNameTheFailingNode) {
  const nlohmann::ordered_json context = {{"a", nlohmann::ordered_json::object()}};
  EXPECT_EQ(RenderError("line one\n{{ a.b.c }}", context).message(),
            "line 2, column 7: 'dict object' has no attribute 'b'");
  EXPECT_EQ(RenderError("{% if true %}\n  {{ 1 + 'x' }}\n{% endif %}", context).message(),
            "line 2, column 6: unsupported operand type(s) for +: 'int' and 'str'");
  EXPECT_EQ(RenderError("{{ missing + 1 }}", context).message(),
            "line 1, column 4: 'missing' is undefined");
  // Inside a macro, the position is where the macro body failed, not the call site.
  EXPECT_EQ(RenderError("{% macro m() %}\n{{ 1 // 0 }}{% endmacro %}\n{{ m() }}", context).message(),
            "line 2, column 4: integer division or modulo by zero");
}

TEST(JinjaErrorsTest, RaiseExceptionKeepsItsMessage) {
  const absl::Status s = RenderError(
      "{% macro check(x) %}{% if not x %}{{ raise_exception('x must be set, got ' ~ x) }}"
      "{% endif %}{% endmacro %}\n{{ check(0) }}",
      nlohmann::ordered_json::object());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "x must be set, got 0");
  EXPECT_TRUE(IsRaisedException(s));
  EXPECT_FALSE(IsRaisedException(RenderError("{{ 1 / 0 }}", nlohmann::ordered_json::object())));
}

TEST(JinjaErrorsTest, InvalidUtf8TemplateIsRejected) {
  EXPECT_EQ(ParseError("abc\xff").code(), absl::StatusCode::kInvalidArgument);
}

TEST(JinjaErrorsTest, ChatTemplateSyntaxErrorIsFailedPrecondition) {
  absl::StatusOr<ChatTemplate> t = ChatTemplate::Create("{% for m in messages %}");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(t.status().message()), StartsWith("chat template line 1, column 4: "));
}

}  // namespace
}  // namespace qwen::gateway::jinja
