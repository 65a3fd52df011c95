// The chat front end: request normalisation (tool-call arguments), error mapping, and the rendered
// examples of shared/spec/TOKENIZER_AND_TEMPLATE.md §2.9 (verified there against transformers).
#include <string>
#include <thread>
#include <vector>

#include "gateway/chat_template/chat_template.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/gateway/chat_template/test_util.h"

namespace qwen::gateway {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using json = nlohmann::ordered_json;

class ChatTemplateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<ChatTemplate> t =
        ChatTemplate::Create(testing::ReadRepoFile("tests/reference/chat_template_qwen35/chat_template.jinja"));
    ASSERT_TRUE(t.ok()) << t.status();
    tmpl_.emplace(std::move(*t));
  }

  absl::StatusOr<std::string> Render(const json& request) { return tmpl_->Render(request); }

  std::optional<ChatTemplate> tmpl_;
};

json User(const std::string& text) { return {{"role", "user"}, {"content", text}}; }

TEST_F(ChatTemplateTest, SpecExampleSingleTurn) {
  json request = {{"messages", json::array({User("Hi")})}, {"add_generation_prompt", true}};
  EXPECT_EQ(*Render(request), "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n");
  request["enable_thinking"] = false;
  EXPECT_EQ(*Render(request),
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n");
}

TEST_F(ChatTemplateTest, SpecExampleAgentRound) {
  const json request = {
      {"messages",
       json::array({User("q"),
                    {{"role", "assistant"},
                     {"content", "calling"},
                     {"tool_calls", json::array({{{"type", "function"},
                                                  {"function",
                                                   {{"name", "f"},
                                                    {"arguments", "{\"x\": 1.5, \"s\": \"a\\nb\"}"}}}}})}},
                    {{"role", "tool"}, {"content", "ok"}},
                    {{"role", "assistant"}, {"content", "done"}}})}};
  EXPECT_EQ(*Render(request),
            "<|im_start|>user\nq<|im_end|>\n"
            "<|im_start|>assistant\n<think>\n\n</think>\n\ncalling\n\n<tool_call>\n<function=f>\n"
            "<parameter=x>\n1.5\n</parameter>\n<parameter=s>\na\nb\n</parameter>\n</function>\n"
            "</tool_call><|im_end|>\n<|im_start|>user\n<tool_response>\nok\n</tool_response>"
            "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\ndone<|im_end|>\n");
}

json AssistantCall(const json& arguments, bool wrapped = true) {
  json body = {{"name", "f"}, {"arguments", arguments}};
  json call = wrapped ? json{{"type", "function"}, {"function", body}} : body;
  return {{"role", "assistant"}, {"content", ""}, {"tool_calls", json::array({call})}};
}

TEST_F(ChatTemplateTest, JsonStringArgumentsRenderLikeObjects) {
  const json as_object = {{"messages", json::array({User("go"), AssistantCall({{"b", 2}, {"a", json::array({1, "x"})}})})}};
  const json as_string = {{"messages", json::array({User("go"), AssistantCall("{\"b\": 2, \"a\": [1, \"x\"]}")})}};
  absl::StatusOr<std::string> a = Render(as_object);
  absl::StatusOr<std::string> b = Render(as_string);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(*a, *b);
  EXPECT_THAT(*a, HasSubstr("<parameter=b>\n2\n</parameter>\n<parameter=a>\n[1, \"x\"]\n</parameter>"));
}

TEST_F(ChatTemplateTest, BadArgumentsNameTheMessage) {
  absl::StatusOr<std::string> r =
      Render({{"messages", json::array({User("go"), AssistantCall("{not json")})}});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "messages[1].tool_calls[0].function.arguments is not valid JSON");
  EXPECT_FALSE(IsChatTemplateException(r.status()));

  r = Render({{"messages", json::array({User("go"), User("again"), AssistantCall("[1, 2]")})}});
  EXPECT_EQ(r.status().message(), "messages[2].tool_calls[0].function.arguments must be a JSON object");

  r = Render({{"messages", json::array({User("go"), AssistantCall("oops", /*wrapped=*/false)})}});
  EXPECT_EQ(r.status().message(), "messages[1].tool_calls[0].arguments is not valid JSON");
}

TEST_F(ChatTemplateTest, MalformedRequests) {
  EXPECT_EQ(Render(json::array()).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Render({{"messages", "hi"}}).status().message(), "request.messages must be an array");
}

TEST_F(ChatTemplateTest, TemplateExceptionsAreDistinct) {
  absl::StatusOr<std::string> r = Render({{"messages", json::array()}});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "No messages provided.");
  EXPECT_TRUE(IsChatTemplateException(r.status()));

  // A tool call without a name fails inside the template (string + undefined), not via raise.
  r = Render({{"messages", json::array({User("go"), {{"role", "assistant"},
                                                     {"content", ""},
                                                     {"tool_calls", json::array({{{"function", {{"arguments", json::object()}}}}})}}})}});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(IsChatTemplateException(r.status()));
  EXPECT_THAT(std::string(r.status().message()), StartsWith("chat template line "));
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("has no attribute 'name'"));
}

TEST_F(ChatTemplateTest, ToolSchemaKeyOrderIsKept) {
  const json tool = json::parse(R"({"type": "function", "function": {"name": "z", "parameters":
      {"type": "object", "properties": {"zeta": {"type": "string"}, "alpha": {"type": "integer"}}}}})");
  absl::StatusOr<std::string> r = Render({{"messages", json::array({User("x")})}, {"tools", json::array({tool})}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(*r, HasSubstr("<tools>\n{\"type\": \"function\", \"function\": {\"name\": \"z\", "
                            "\"parameters\": {\"type\": \"object\", \"properties\": {\"zeta\": "
                            "{\"type\": \"string\"}, \"alpha\": {\"type\": \"integer\"}}}}}\n</tools>"));
}

TEST(PrepareChatTemplateContextTest, FillsTransformersDefaultsAndKeepsKwargs) {
  absl::StatusOr<json> ctx = PrepareChatTemplateContext(
      {{"messages", json::array()}, {"enable_thinking", false}, {"custom", 3}});
  ASSERT_TRUE(ctx.ok()) << ctx.status();
  EXPECT_TRUE((*ctx)["tools"].is_null());
  EXPECT_TRUE((*ctx)["documents"].is_null());
  EXPECT_EQ((*ctx)["add_generation_prompt"], false);
  EXPECT_EQ((*ctx)["enable_thinking"], false);
  EXPECT_EQ((*ctx)["custom"], 3);
}

TEST_F(ChatTemplateTest, ConcurrentRendersAgree) {
  const json request = {{"messages", json::array({User("same")})}, {"add_generation_prompt", true}};
  const std::string expected = *Render(request);
  std::vector<std::string> results(8);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] { results[i] = tmpl_->Render(request).value_or("error"); });
  }
  for (std::thread& t : threads) t.join();
  for (const std::string& r : results) EXPECT_EQ(r, expected);
}

TEST(RenderChatTemplateTest, OneShotHelper) {
  absl::StatusOr<std::string> r = RenderChatTemplate(
      "{% for m in messages %}[{{ m.role }}:{{ m.content }}]{% endfor %}{{ add_generation_prompt }}",
      {{"messages", json::array({User("a")})}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, "[user:a]False");
}

}  // namespace
}  // namespace qwen::gateway
