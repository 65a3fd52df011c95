#include "gateway/output/tool_schema.h"

#include <string>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace qwen::gateway {
namespace {

using OrderedJson = nlohmann::ordered_json;

OrderedJson Convert(const std::string& raw, const char* schema_json) {
  nlohmann::json schema = nlohmann::json::parse(schema_json);
  return ConvertParameterValue(raw, &schema);
}

TEST(ConvertParameterValueTest, Integers) {
  const char* schema = R"({"type": "integer"})";
  EXPECT_EQ(Convert("42", schema), OrderedJson(42));
  EXPECT_EQ(Convert(" -7 ", schema), OrderedJson(-7));
  EXPECT_EQ(Convert("+5", schema), OrderedJson(5));
  EXPECT_EQ(Convert("18446744073709551615", schema), OrderedJson(18446744073709551615ull));
  EXPECT_EQ(Convert("4.0", schema), OrderedJson("4.0"));  // Python int("4.0") fails too
  EXPECT_EQ(Convert("+-5", schema), OrderedJson("+-5"));
  EXPECT_EQ(Convert("twelve", schema), OrderedJson("twelve"));
  EXPECT_EQ(Convert("None", schema), OrderedJson(nullptr));
  EXPECT_EQ(Convert("9", R"({"type": "uint32"})"), OrderedJson(9));
}

TEST(ConvertParameterValueTest, Numbers) {
  const char* schema = R"({"type": "number"})";
  EXPECT_EQ(Convert("3.25", schema), OrderedJson(3.25));
  EXPECT_EQ(Convert("5.0", schema), OrderedJson(5));  // integral -> integer, like vLLM
  EXPECT_TRUE(Convert("5.0", schema).is_number_integer());
  EXPECT_EQ(Convert("1e3", schema), OrderedJson(1000));
  EXPECT_EQ(Convert("-0.5", schema), OrderedJson(-0.5));
  EXPECT_EQ(Convert("inf", schema), OrderedJson("inf"));
  EXPECT_EQ(Convert("1.5kg", schema), OrderedJson("1.5kg"));
  EXPECT_EQ(Convert("2.5", R"({"type": "float"})"), OrderedJson(2.5));
}

TEST(ConvertParameterValueTest, Booleans) {
  const char* schema = R"({"type": "boolean"})";
  EXPECT_EQ(Convert("true", schema), OrderedJson(true));
  EXPECT_EQ(Convert("True", schema), OrderedJson(true));
  EXPECT_EQ(Convert(" FALSE ", schema), OrderedJson(false));
  EXPECT_EQ(Convert("yes", schema), OrderedJson("yes"));
}

TEST(ConvertParameterValueTest, Containers) {
  EXPECT_EQ(Convert(R"({"k": [1, 2]})", R"({"type": "object"})"),
            OrderedJson::parse(R"({"k": [1, 2]})"));
  EXPECT_EQ(Convert(R"([1, "a"])", R"({"type": "array"})"), OrderedJson::parse(R"([1, "a"])"));
  // A double-encoded object is decoded once more.
  EXPECT_EQ(Convert(R"("{\"a\": 1}")", R"({"type": "object"})"), OrderedJson({{"a", 1}}));
  EXPECT_EQ(Convert("{'a': 1}", R"({"type": "object"})"), OrderedJson("{'a': 1}"));
  EXPECT_EQ(Convert("null", R"({"type": "array"})"), OrderedJson(nullptr));
  // Key order is preserved.
  EXPECT_EQ(Convert(R"({"z": 1, "a": 2})", R"({"type": "object"})").dump(), R"({"z":1,"a":2})");
}

TEST(ConvertParameterValueTest, StringsStayVerbatim) {
  const char* schema = R"({"type": "string"})";
  EXPECT_EQ(Convert("123", schema), OrderedJson("123"));
  EXPECT_EQ(Convert("true", schema), OrderedJson("true"));
  EXPECT_EQ(Convert("null", schema), OrderedJson("null"));
  EXPECT_EQ(Convert("  padded\nlines  ", schema), OrderedJson("  padded\nlines  "));
  EXPECT_EQ(Convert("{\"a\":1}", R"({"type": "string", "enum": ["x"]})"), OrderedJson("{\"a\":1}"));
}

TEST(ConvertParameterValueTest, Nullability) {
  EXPECT_EQ(Convert("null", R"({"type": ["string", "null"]})"), OrderedJson(nullptr));
  EXPECT_EQ(Convert("None", R"({"anyOf": [{"type": "string"}, {"type": "null"}]})"),
            OrderedJson(nullptr));
  EXPECT_EQ(Convert("text", R"({"anyOf": [{"type": "string"}, {"type": "null"}]})"),
            OrderedJson("text"));
  EXPECT_EQ(Convert("7", R"({"oneOf": [{"type": "null"}, {"type": "integer"}]})"), OrderedJson(7));
  EXPECT_EQ(Convert("7", R"({"type": ["null", "integer"]})"), OrderedJson(7));
}

TEST(ConvertParameterValueTest, UntypedTriesJsonThenString) {
  EXPECT_EQ(ConvertParameterValue("42", nullptr), OrderedJson(42));
  EXPECT_EQ(ConvertParameterValue("[1, 2]", nullptr), OrderedJson::parse("[1, 2]"));
  EXPECT_EQ(ConvertParameterValue("\"quoted\"", nullptr), OrderedJson("quoted"));
  EXPECT_EQ(ConvertParameterValue("hello world", nullptr), OrderedJson("hello world"));
  EXPECT_EQ(ConvertParameterValue("", nullptr), OrderedJson(""));
  EXPECT_EQ(Convert("1.5", R"({"description": "no type"})"), OrderedJson(1.5));
  EXPECT_EQ(Convert("x", R"({"type": "mystery"})"), OrderedJson("x"));
}

TEST(ToolSchemasTest, LooksUpFunctionsAndParameters) {
  auto schemas = ToolSchemas::Create(nlohmann::json::parse(R"([
    {"type": "function", "function": {"name": "f", "parameters": {"type": "object",
      "properties": {"n": {"type": "integer"}}}}},
    {"name": "bare", "parameters": {"properties": {"s": {"type": "string"}}}},
    {"type": "function", "function": {"name": "f", "parameters": {"type": "object",
      "properties": {"m": {"type": "integer"}}}}}
  ])"));
  ASSERT_TRUE(schemas.ok()) << schemas.status();
  EXPECT_TRUE(schemas->HasFunction("f"));
  EXPECT_TRUE(schemas->HasFunction("bare"));
  EXPECT_FALSE(schemas->HasFunction("g"));
  EXPECT_TRUE(schemas->DeclaresParameter("f", "n"));
  EXPECT_FALSE(schemas->DeclaresParameter("f", "m"));  // first definition wins
  EXPECT_EQ(schemas->Convert("f", "n", "3"), OrderedJson(3));
  EXPECT_EQ(schemas->Convert("bare", "s", "3"), OrderedJson("3"));
  EXPECT_EQ(schemas->Convert("f", "undeclared", "3"), OrderedJson(3));
  EXPECT_TRUE(ToolSchemas::AcceptAny().HasFunction("anything"));
}

}  // namespace
}  // namespace qwen::gateway
