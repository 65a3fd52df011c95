// The gateway pipeline's pure parts, without a network: ChatRequest -> template request, prompt
// assembly (placeholders, spans, M-RoPE positions), target parsing, the model check, and the
// streamed response (stop strings, logprobs, tool calls).
#include <fstream>
#include <sstream>

#include "gateway/orchestrator/chat_request.h"
#include "gateway/orchestrator/model_bundle.h"
#include "gateway/orchestrator/prompt_assembly.h"
#include "gateway/orchestrator/replica_pool.h"
#include "gateway/orchestrator/response_builder.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace qwen::gateway {
namespace {

namespace pb = qwen35::v1;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using nlohmann::ordered_json;

std::string ReadRepoFile(const std::string& rel) {
  std::ifstream f(std::string(QWEN_SOURCE_DIR) + "/" + rel, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

// The small test tokenizer and the official template, with config ids matching the tokenizer.
std::unique_ptr<ModelBundle> SmallBundle() {
  auto tokenizer = Tokenizer::FromFile(std::string(QWEN_SOURCE_DIR) + "/tests/reference/tokenizer_qwen35_small/tokenizer.json");
  EXPECT_TRUE(tokenizer.ok()) << tokenizer.status();
  auto tmpl = ChatTemplate::Create(ReadRepoFile("tests/reference/chat_template_qwen35/chat_template.jinja"));
  EXPECT_TRUE(tmpl.ok());
  core::ModelConfig config;
  config.text.vocab_size = 2069;
  config.text.hidden_size = 4;
  config.image_token_id = 2048;
  config.video_token_id = 2049;
  config.vision_start_token_id = 2045;
  config.vision_end_token_id = 2046;
  auto bundle = ModelBundle::Create(std::move(*tokenizer), std::move(*tmpl), config, "small");
  EXPECT_TRUE(bundle.ok()) << bundle.status();
  return std::move(*bundle);
}

TEST(PrepareChatTest, BuildsTheTemplateRequest) {
  pb::ChatRequest req;
  pb::ChatMessage* user = req.add_messages();
  user->set_role("user");
  user->add_content()->set_text("What is ");
  user->add_content()->mutable_image()->set_data("png");
  user->add_content()->mutable_video()->set_data("mp4");
  pb::ChatMessage* assistant = req.add_messages();
  assistant->set_role("assistant");
  assistant->set_reasoning_content("Let me look.");
  pb::ToolCall* call = assistant->add_tool_calls();
  call->set_id("call_1");
  call->set_name("lookup");
  call->set_arguments_json(R"({"b": 2, "a": [1]})");
  pb::ChatMessage* tool = req.add_messages();
  tool->set_role("tool");
  tool->set_tool_call_id("call_1");
  tool->add_content()->set_text("result");
  req.set_tools_json(R"([{"type": "function", "function": {"name": "lookup", "parameters": {}}}])");
  req.set_enable_thinking(false);

  auto prepared = PrepareChat(req, {});
  ASSERT_TRUE(prepared.ok()) << prepared.status();
  const ordered_json& j = prepared->template_request;
  EXPECT_EQ(j["messages"][0]["content"].dump(),
            R"([{"type":"text","text":"What is "},{"type":"image"},{"type":"video"}])");
  EXPECT_EQ(j["messages"][1]["reasoning_content"], "Let me look.");
  EXPECT_EQ(j["messages"][1]["tool_calls"][0].dump(),
            R"({"id":"call_1","type":"function","function":{"name":"lookup","arguments":{"b":2,"a":[1]}}})");
  EXPECT_EQ(j["messages"][2].dump(), R"({"role":"tool","content":"result","tool_call_id":"call_1"})");
  EXPECT_EQ(j["tools"][0]["function"]["name"], "lookup");
  EXPECT_EQ(j["add_generation_prompt"], true);
  EXPECT_EQ(j["enable_thinking"], false);
  EXPECT_FALSE(prepared->thinking_enabled);
  ASSERT_TRUE(prepared->tools.has_value());
  ASSERT_EQ(prepared->media.size(), 2u);
  EXPECT_EQ(prepared->media[0].Where(), "messages[0].content[1]");
  EXPECT_EQ(prepared->media[1].modality, pb::MODALITY_VIDEO);
  EXPECT_EQ(*prepared->media[1].data, "mp4");

  // enable_thinking unset: not passed, thinking on (the template opens <think>).
  req.clear_enable_thinking();
  auto thinking = PrepareChat(req, {});
  EXPECT_FALSE(thinking->template_request.contains("enable_thinking"));
  EXPECT_TRUE(thinking->thinking_enabled);
}

TEST(PrepareChatTest, ErrorsNameTheField) {
  auto error = [](const pb::ChatRequest& req, RequestLimits limits = {}) {
    auto r = PrepareChat(req, limits);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(r.status().message());
  };
  pb::ChatRequest req;
  pb::ChatMessage* m = req.add_messages();
  m->set_role("user");
  m->add_content()->mutable_image();
  EXPECT_EQ(error(req), "messages[0].content[0] has an image with empty data");
  m->mutable_content(0)->mutable_image()->set_data("x");
  m->add_content()->mutable_image()->set_data("y");
  EXPECT_EQ(error(req, {.max_images = 1}), "the request has 2 images; the limit is 1");
  EXPECT_EQ(error(req, {.max_messages = 0}), "messages has 1 entries; the limit is 0");
  m->add_tool_calls()->set_name("f");
  EXPECT_EQ(error(req), "messages[0].tool_calls is only allowed on assistant messages");
  m->set_role("assistant");
  m->mutable_tool_calls(0)->set_arguments_json("[1, 2]");
  EXPECT_EQ(error(req), "messages[0].tool_calls[0].arguments_json must be a JSON object, got array");
  m->mutable_tool_calls(0)->set_arguments_json("{}");
  req.set_tools_json("{}");
  EXPECT_EQ(error(req), "tools_json must be a JSON array, got object");
  req.set_tools_json(R"([{"type": "function"}])");
  EXPECT_THAT(error(req), HasSubstr("tools_json: "));
  req.clear_tools_json();
  req.add_stop("");
  EXPECT_EQ(error(req), "stop[0] is empty");
}

TEST(AssemblePromptTest, ImageMatchesTheWorkedExampleOfModelMd) {
  std::unique_ptr<ModelBundle> b = SmallBundle();
  // [A, <vs>, <image_pad>, <ve>, B] with an image of grid (1, 4, 6): h' = 2, w' = 3, 6 tokens.
  const std::vector<int32_t> prompt = {100, 2045, 2048, 2046, 101};
  VisionOutput image{.modality = pb::MODALITY_IMAGE, .grid = {1, 4, 6}, .num_tokens = 6, .hidden_size = 4,
                     .dtype = pb::DTYPE_F32, .timestamps_s = {}, .data = std::string(6 * 4 * 4, 'x')};
  pb::GenerateRequest req;
  PromptCounts counts;
  ASSERT_TRUE(AssemblePrompt(prompt, {image}, *b, {}, &req, &counts).ok());
  EXPECT_THAT(req.input_ids(), ElementsAre(100, 2045, 2048, 2048, 2048, 2048, 2048, 2048, 2046, 101));
  EXPECT_THAT(req.positions().t(), ElementsAre(0, 1, 2, 2, 2, 2, 2, 2, 5, 6));
  EXPECT_THAT(req.positions().h(), ElementsAre(0, 1, 2, 2, 2, 3, 3, 3, 5, 6));
  EXPECT_THAT(req.positions().w(), ElementsAre(0, 1, 2, 3, 4, 2, 3, 4, 5, 6));
  EXPECT_EQ(req.rope_delta(), -3);
  ASSERT_EQ(req.embeddings_size(), 1);
  EXPECT_EQ(req.embeddings(0).offset(), 2u);
  EXPECT_THAT(req.embeddings(0).embeddings().shape(), ElementsAre(6, 4));
  EXPECT_EQ(req.embeddings(0).embeddings().data().size(), 96u);
  EXPECT_EQ(counts.image_tokens, 6);
}

TEST(AssemblePromptTest, VideoGroupsBecomeTimestampedBlocksWithOneSpanEach) {
  std::unique_ptr<ModelBundle> b = SmallBundle();
  const std::vector<int32_t> prompt = {100, 2045, 2049, 2046};
  std::string data;
  for (char row : {'a', 'b'}) data += std::string(4 * 2, row);  // 2 groups x 1 row, BF16, hidden 4
  VisionOutput video{.modality = pb::MODALITY_VIDEO, .grid = {2, 2, 2}, .num_tokens = 2, .hidden_size = 4,
                     .dtype = pb::DTYPE_BF16, .timestamps_s = {0.5, 1.5}, .data = data};
  pb::GenerateRequest req;
  PromptCounts counts;
  ASSERT_TRUE(AssemblePrompt(prompt, {video}, *b, {}, &req, &counts).ok());
  auto ts0 = b->tokenizer().Encode("<0.5 seconds>");
  auto ts1 = b->tokenizer().Encode("<1.5 seconds>");
  std::vector<int64_t> want = {100, 2045};
  want.insert(want.end(), ts0->begin(), ts0->end());
  want.insert(want.end(), {2045, 2049, 2046});
  want.insert(want.end(), ts1->begin(), ts1->end());
  want.insert(want.end(), {2045, 2049, 2046, 2046});
  EXPECT_EQ(std::vector<int64_t>(req.input_ids().begin(), req.input_ids().end()), want);
  ASSERT_EQ(req.embeddings_size(), 2);
  EXPECT_EQ(req.embeddings(0).offset(), 2 + ts0->size() + 1);
  EXPECT_EQ(req.embeddings(0).embeddings().data(), std::string(8, 'a'));
  EXPECT_EQ(req.embeddings(1).embeddings().data(), std::string(8, 'b'));
  EXPECT_EQ(req.embeddings(1).offset(), want.size() - 3);
  EXPECT_EQ(counts.video_tokens, 2);
  EXPECT_EQ(req.positions().t_size(), static_cast<int>(want.size()));
}

TEST(AssemblePromptTest, PlaceholdersMustMatchTheMedia) {
  std::unique_ptr<ModelBundle> b = SmallBundle();
  pb::GenerateRequest req;
  PromptCounts counts;
  absl::Status s = AssemblePrompt(std::vector<int32_t>{100, 2048, 101}, {}, *b, {}, &req, &counts);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("no media"));
  VisionOutput image{.modality = pb::MODALITY_IMAGE, .grid = {1, 2, 2}, .num_tokens = 1, .hidden_size = 4,
                     .dtype = pb::DTYPE_F32, .timestamps_s = {}, .data = std::string(16, 'x')};
  s = AssemblePrompt(std::vector<int32_t>{100, 2048, 2048}, {image}, *b, {}, &req, &counts);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("2 image and 0 video placeholders for 1 images"));
  // Text only: no positions, rope delta 0.
  pb::GenerateRequest text;
  ASSERT_TRUE(AssemblePrompt(std::vector<int32_t>{1, 2, 3}, {}, *b, {}, &text, &counts).ok());
  EXPECT_FALSE(text.has_positions());
  EXPECT_EQ(text.input_ids_size(), 3);
}

TEST(ModelBundleTest, ChecksTheReplicasModelInfo) {
  std::unique_ptr<ModelBundle> b = SmallBundle();
  pb::TextModelInfo info;
  info.set_model_id("m");
  info.set_vocab_size(2069);
  info.set_hidden_size(4);
  info.set_image_token_id(2048);
  info.set_video_token_id(2049);
  info.set_vision_start_token_id(2045);
  info.set_vision_end_token_id(2046);
  EXPECT_TRUE(CheckTextModelInfo(info, *b).ok());
  info.set_hidden_size(8);
  info.set_image_token_id(7);
  absl::Status s = CheckTextModelInfo(info, *b);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), HasSubstr("hidden_size 8 != 4, image_token_id 7 != 2048"));
}

TEST(ReplicaTargetsTest, ParsesUrisAndLists) {
  auto dns = ParseTargetSpec("dns:///text.qwen.svc.cluster.local:50052");
  ASSERT_TRUE(dns.ok());
  EXPECT_FALSE(dns->is_list);
  EXPECT_EQ(dns->uri, "dns:///text.qwen.svc.cluster.local:50052");
  ASSERT_EQ(dns->watched.size(), 1u);
  EXPECT_EQ(dns->watched[0].host, "text.qwen.svc.cluster.local");
  auto list = ParseTargetSpec(" 10.0.0.1:50052, [::1]:7 ,text-0.text:50052");
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_TRUE(list->is_list);
  ASSERT_EQ(list->watched.size(), 3u);
  EXPECT_EQ(list->watched[1].host, "::1");
  EXPECT_EQ(list->watched[2].port, "50052");
  EXPECT_FALSE(ParseTargetSpec("").ok());
  EXPECT_THAT(std::string(ParseTargetSpec("a:1,,b:2").status().message()), HasSubstr("empty entry"));
  EXPECT_THAT(std::string(ParseTargetSpec("a:99999").status().message()), HasSubstr("no valid port"));
  EXPECT_THAT(std::string(ParseTargetSpec("http://a:1").status().message()), HasSubstr("unsupported scheme"));

  auto resolved = ResolveAll({{"127.0.0.2", "1"}, {"127.0.0.1", "2"}, {"127.0.0.1", "2"}});
  ASSERT_TRUE(resolved.ok());
  EXPECT_THAT(*resolved, ElementsAre("127.0.0.1:2", "127.0.0.2:1"));
  EXPECT_EQ(*AddressListUri(*resolved), "ipv4:///127.0.0.1:2,127.0.0.2:1");
  EXPECT_EQ(*AddressListUri({"[::1]:5"}), "ipv6:///[::1]:5");
}

TEST(ReplicaTargetsTest, PoolsDialAResolvedListOrTheUri) {
  ReplicaPoolOptions options{.health_service_name = "qwen35.v1.TextGenerator",
                             .refresh_interval = std::chrono::milliseconds(0)};
  // Names in a list are resolved here (one address family per channel; IPv4 preferred).
  auto list = ReplicaPool::Create("localhost:5001, 127.0.0.2:5002", options);
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ((*list)->target(), "ipv4:///127.0.0.1:5001,127.0.0.2:5002");
  EXPECT_NE((*list)->channel(), nullptr);
  // A URI goes to gRPC's own resolver unchanged.
  auto dns = ReplicaPool::Create("dns:///localhost:5003", options);
  ASSERT_TRUE(dns.ok()) << dns.status();
  EXPECT_EQ((*dns)->target(), "dns:///localhost:5003");
  EXPECT_FALSE(ReplicaPool::Create("localhost", options).ok());
}

TEST(ResponseBuilderTest, StopStringsLogprobsAndToolCalls) {
  std::unique_ptr<ModelBundle> b = SmallBundle();
  const Tokenizer& tok = b->tokenizer();
  auto ids = tok.Encode("Hello world, and more text");
  ASSERT_TRUE(ids.ok());
  auto builder = ResponseBuilder::Create(tok, {.stop_strings = {"and"}, .thinking_enabled = false, .tools = std::nullopt, .logprobs = true,
                                                .call_id_generator = nullptr});
  ASSERT_TRUE(builder.ok());
  pb::TokenChunk chunk;
  for (int32_t id : *ids) {
    chunk.add_token_ids(id);
    chunk.add_logprobs(-0.5f);
  }
  pb::ChatDelta d = builder->AddChunk(chunk);
  d.MergeFrom(builder->Finish());
  EXPECT_EQ(d.content(), "Hello world, ");
  EXPECT_TRUE(builder->stopped());
  EXPECT_EQ(builder->matched_stop(), "and");
  EXPECT_EQ(builder->completion_tokens(), d.logprobs_size());  // counting stops at the stop string
  EXPECT_LT(builder->completion_tokens(), static_cast<int64_t>(ids->size()));
  EXPECT_EQ(d.logprobs(0).token(), "Hello");
  EXPECT_EQ(builder->FinishReason(pb::FINISH_REASON_STOP), pb::FINISH_REASON_STOP);

  const std::string tools = R"([{"type":"function","function":{"name":"get_weather",
      "parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}])";
  auto with_tools = ResponseBuilder::Create(
      tok, {.stop_strings = {},
            .thinking_enabled = true,
            .tools = nlohmann::json::parse(tools),
            .logprobs = false,
            .call_id_generator = [](int i) { return "call_" + std::to_string(i); }});
  ASSERT_TRUE(with_tools.ok());
  auto answer = tok.Encode(
      "Checking.\n</think>\n\n<tool_call>\n<function=get_weather>\n<parameter=city>\nParis\n</parameter>\n"
      "</function>\n</tool_call><|im_end|>");
  pb::TokenChunk all;
  for (int32_t id : *answer) all.add_token_ids(id);
  pb::ChatDelta t = with_tools->AddChunk(all);
  t.MergeFrom(with_tools->Finish());
  EXPECT_EQ(t.reasoning(), "Checking.");
  EXPECT_EQ(t.content(), "");
  ASSERT_EQ(t.tool_calls_size(), 1);
  EXPECT_EQ(t.tool_calls(0).id(), "call_0");
  EXPECT_EQ(t.tool_calls(0).name(), "get_weather");
  EXPECT_EQ(t.tool_calls(0).arguments_json(), R"({"city":"Paris"})");
  EXPECT_EQ(with_tools->FinishReason(pb::FINISH_REASON_STOP), pb::FINISH_REASON_TOOL_CALLS);
  EXPECT_EQ(with_tools->FinishReason(pb::FINISH_REASON_LENGTH), pb::FINISH_REASON_LENGTH);
}

}  // namespace
}  // namespace qwen::gateway
