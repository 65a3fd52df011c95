// Replays the chat_template reference cases rendered by Python jinja2 in transformers'
// environment (tests/reference/make_chat_template_cases.py): every case must match byte for byte.
#include <string>

#include "gateway/chat_template/chat_template.h"
#include "gateway/chat_template/template.h"
#include "gtest/gtest.h"
#include "tests/gateway/chat_template/test_util.h"

namespace qwen::gateway {
namespace {

using testing::ReadRepoFile;
using testing::ReadRepoJson;

// {messages, tools, kwargs} -> the request the CLI and the gateway pass.
nlohmann::ordered_json RequestOf(const nlohmann::ordered_json& c) {
  nlohmann::ordered_json request = nlohmann::ordered_json::object();
  request["messages"] = c["messages"];
  if (!c["tools"].is_null()) request["tools"] = c["tools"];
  for (const auto& [key, value] : c["kwargs"].items()) request[key] = value;
  return request;
}

class ChatTemplateReferenceTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ChatTemplateReferenceTest, EveryCaseMatchesJinja2) {
  const std::string dir = "tests/reference/" + GetParam();
  const std::string source = ReadRepoFile(dir + "/chat_template.jinja");
  ASSERT_FALSE(source.empty()) << dir;
  const nlohmann::ordered_json cases = ReadRepoJson(dir + "/cases.json");
  ASSERT_TRUE(cases.is_array()) << dir;
  ASSERT_GE(cases.size(), 40u);
  absl::StatusOr<ChatTemplate> tmpl = ChatTemplate::Create(source);
  ASSERT_TRUE(tmpl.ok()) << tmpl.status();
  int errors = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE(c["name"].get<std::string>());
    absl::StatusOr<std::string> rendered = tmpl->Render(RequestOf(c));
    if (c.contains("error")) {
      ++errors;
      ASSERT_FALSE(rendered.ok());
      EXPECT_TRUE(IsChatTemplateException(rendered.status())) << rendered.status();
      EXPECT_EQ(rendered.status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_EQ(rendered.status().message(), c["error"].get<std::string>());
    } else {
      ASSERT_TRUE(rendered.ok()) << rendered.status();
      EXPECT_EQ(*rendered, c["expected"].get<std::string>());
    }
  }
  EXPECT_GT(errors, 5);  // the template's raise_exception paths are covered
}

INSTANTIATE_TEST_SUITE_P(Qwen35, ChatTemplateReferenceTest,
                         ::testing::Values("chat_template_qwen35", "chat_template_qwen35_small"));

TEST(JinjaUnitReferenceTest, EveryCaseMatchesJinja2) {
  const nlohmann::ordered_json cases = ReadRepoJson("tests/reference/chat_template_units/cases.json");
  ASSERT_TRUE(cases.is_array());
  ASSERT_GE(cases.size(), 100u);
  for (const auto& c : cases) {
    const std::string name = c["name"].get<std::string>();
    SCOPED_TRACE(name);
    absl::StatusOr<jinja::Template> tmpl = jinja::Template::Parse(c["template"].get<std::string>());
    absl::StatusOr<std::string> rendered =
        tmpl.ok() ? tmpl->Render(c["context"]) : absl::StatusOr<std::string>(tmpl.status());
    if (c.contains("error")) {
      EXPECT_FALSE(rendered.ok()) << "jinja2 fails with " << c["error"] << " but we rendered: "
                                  << *rendered;
      if (c.contains("raised") && !rendered.ok()) {
        EXPECT_TRUE(jinja::IsRaisedException(rendered.status())) << rendered.status();
        EXPECT_EQ(rendered.status().message(), c["raised"].get<std::string>());
      } else if (!rendered.ok()) {
        EXPECT_FALSE(jinja::IsRaisedException(rendered.status()));
        EXPECT_NE(rendered.status().message().find("line "), absl::string_view::npos)
            << rendered.status();
      }
    } else {
      ASSERT_TRUE(rendered.ok()) << rendered.status();
      EXPECT_EQ(*rendered, c["expected"].get<std::string>());
    }
  }
}

}  // namespace
}  // namespace qwen::gateway
