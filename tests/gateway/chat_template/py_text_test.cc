// Python semantics the output depends on: float and string repr, Unicode strip/split, json.dumps.
#include <cmath>
#include <limits>

#include "gateway/chat_template/json_dump.h"
#include "gateway/chat_template/py_text.h"
#include "gateway/chat_template/value.h"
#include "gtest/gtest.h"

namespace qwen::gateway::jinja {
namespace {

TEST(PyTextTest, FloatReprMatchesPython) {
  EXPECT_EQ(PyFloatRepr(1.0), "1.0");
  EXPECT_EQ(PyFloatRepr(0.1), "0.1");
  EXPECT_EQ(PyFloatRepr(0.1 + 0.2), "0.30000000000000004");
  EXPECT_EQ(PyFloatRepr(1e16), "1e+16");
  EXPECT_EQ(PyFloatRepr(1e15), "1000000000000000.0");
  EXPECT_EQ(PyFloatRepr(1.5e16), "1.5e+16");
  EXPECT_EQ(PyFloatRepr(1e-5), "1e-05");
  EXPECT_EQ(PyFloatRepr(0.0001), "0.0001");
  EXPECT_EQ(PyFloatRepr(-0.0), "-0.0");
  EXPECT_EQ(PyFloatRepr(123.456), "123.456");
  EXPECT_EQ(PyFloatRepr(-2.5e-7), "-2.5e-07");
  EXPECT_EQ(PyFloatRepr(1.5e300), "1.5e+300");
  EXPECT_EQ(PyFloatRepr(5e-324), "5e-324");
  EXPECT_EQ(PyFloatRepr(std::nan("")), "nan");
  EXPECT_EQ(PyFloatRepr(-std::numeric_limits<double>::infinity()), "-inf");
}

TEST(PyTextTest, StringReprMatchesPython) {
  EXPECT_EQ(PyStringRepr("abc"), "'abc'");
  EXPECT_EQ(PyStringRepr("it's"), "\"it's\"");
  EXPECT_EQ(PyStringRepr("a'b\"c"), "'a\\'b\"c'");
  EXPECT_EQ(PyStringRepr("\n\t\x01\\"), "'\\n\\t\\x01\\\\'");
  EXPECT_EQ(PyStringRepr("é😀\u3000\u00a0"), "'é😀\\u3000\\xa0'");
}

TEST(PyTextTest, StripAndSplitUseUnicodeWhitespace) {
  EXPECT_EQ(PyStrip("\u3000\u00a0 x y\u2003\n", true, true), "x y");
  EXPECT_EQ(PyStrip("  x  ", true, false), "x  ");
  EXPECT_EQ(PyStrip("xxaxx", true, true, std::string("x")), "a");
  EXPECT_EQ(PySplit(" a\u3000b  c ", std::nullopt, -1), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(PySplit("a b c", std::nullopt, 1), (std::vector<std::string>{"a", "b c"}));
  EXPECT_EQ(PySplit("a,,b", std::string(","), -1), (std::vector<std::string>{"a", "", "b"}));
  EXPECT_EQ(PyRSplit("a,b,c", std::string(","), 1), (std::vector<std::string>{"a,b", "c"}));
}

TEST(PyTextTest, CaseMapping) {
  EXPECT_EQ(PyUpper("straße ǆ é"), "STRASSE ǆ É");
  EXPECT_EQ(PyLower("ÀÉÎ ΑΒΓ АБВ"), "àéî αβγ абв");
  EXPECT_EQ(PyTitle("hello wORLD"), "Hello World");
}

TEST(JsonDumpTest, MatchesTransformersToJson) {
  const Value v = FromJson(nlohmann::ordered_json::parse(
      R"({"b": 1, "a": [1.0, 2.5e-7, null, true, "é<>&'\n\u0001"], "c": {}})"));
  EXPECT_EQ(*PyJsonDumps(v, {}),
            "{\"b\": 1, \"a\": [1.0, 2.5e-07, null, true, \"é<>&'\\n\\u0001\"], \"c\": {}}");
  JsonDumpOptions pretty;
  pretty.indent = "  ";
  pretty.sort_keys = true;
  EXPECT_EQ(*PyJsonDumps(v, pretty),
            "{\n  \"a\": [\n    1.0,\n    2.5e-07,\n    null,\n    true,\n    \"é<>&'\\n\\u0001\"\n  ],\n"
            "  \"b\": 1,\n  \"c\": {}\n}");
  JsonDumpOptions ascii;
  ascii.ensure_ascii = true;
  EXPECT_EQ(*PyJsonDumps(Value::String("é😀\x7f"), ascii), "\"\\u00e9\\ud83d\\ude00\\u007f\"");
  EXPECT_FALSE(PyJsonDumps(Value::Undefined("x"), {}).ok());
}

}  // namespace
}  // namespace qwen::gateway::jinja
