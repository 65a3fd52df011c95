// The gateway end to end over loopback: a text chat against the engine's own greedy answer, a
// multimodal chat against an independently built text request, stop strings, ChatComplete,
// readiness against the text tier's model info, and the drain.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "gateway/server/readiness.h"
#include "tests/services/gateway_stack_test.h"

namespace qwen::gateway::testing {
namespace {

using ::testing::HasSubstr;
using nlohmann::ordered_json;

// The prompt the gateway should render, built here by hand (not through PrepareChat).
std::vector<int64_t> RenderAndTokenize(const ModelBundle& bundle, const ordered_json& request) {
  auto tmpl = ChatTemplate::Create(ReadRepoFile("tests/reference/chat_template_qwen35/chat_template.jinja"));
  EXPECT_TRUE(tmpl.ok());
  auto text = tmpl->Render(request);
  EXPECT_TRUE(text.ok()) << text.status();
  auto ids = bundle.tokenizer().Encode(*text);
  EXPECT_TRUE(ids.ok());
  return std::vector<int64_t>(ids->begin(), ids->end());
}

std::string DecodeText(const ModelBundle& bundle, const std::vector<int64_t>& ids) {
  std::vector<int32_t> i32(ids.begin(), ids.end());
  return *bundle.tokenizer().Decode(i32, /*skip_special_tokens=*/true);
}

TEST(GatewayChatTest, TextChatStreamsTheEnginesGreedyAnswer) {
  GatewayStack stack;
  pb::ChatRequest req;
  pb::ChatMessage* system = req.add_messages();
  system->set_role("system");
  system->add_content()->set_text("You are terse.");
  req.MergeFrom(UserChat("Hello there, how are you?", 24));  // appends the user message

  GatewayStack::Result r = stack.Chat(req);
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();

  const std::vector<int64_t> prompt = RenderAndTokenize(
      stack.bundle(), {{"messages", {{{"role", "system"}, {"content", "You are terse."}},
                                     {{"role", "user"}, {"content", "Hello there, how are you?"}}}},
                       {"add_generation_prompt", true},
                       {"enable_thinking", false}});
  const std::vector<int64_t> expected = stack.DirectGreedy(prompt, 24);
  ASSERT_FALSE(expected.empty());
  EXPECT_EQ(r.content, DecodeText(stack.bundle(), expected));
  EXPECT_EQ(r.reasoning, "");
  // Every message carries the gateway's id, and the downstream call used it too.
  ASSERT_GE(r.messages.size(), 2u);
  const std::string id = r.messages.front().request_id();
  EXPECT_THAT(id, ::testing::StartsWith("req-"));
  for (const auto& m : r.messages) EXPECT_EQ(m.request_id(), id);
  ASSERT_EQ(stack.text[0]->service->requests.size(), 1u);
  EXPECT_EQ(stack.text[0]->service->requests[0].request_id(), id);
  EXPECT_EQ(stack.text[0]->service->metadata_ids[0], id);
  EXPECT_EQ(std::vector<int64_t>(stack.text[0]->service->requests[0].input_ids().begin(),
                                 stack.text[0]->service->requests[0].input_ids().end()),
            prompt);
  EXPECT_FALSE(stack.text[0]->service->requests[0].has_positions());
  // Unset sampling fields stay unset: the text service applies generation_config.json.
  EXPECT_TRUE(stack.text[0]->service->requests[0].sampling().has_temperature());
  EXPECT_FALSE(stack.text[0]->service->requests[0].sampling().has_top_p());

  ASSERT_TRUE(r.messages.back().has_finished());
  const pb::ChatFinished& fin = r.finished;
  EXPECT_EQ(fin.reason(), expected.size() == 24 ? pb::FINISH_REASON_LENGTH : pb::FINISH_REASON_STOP);
  EXPECT_EQ(fin.usage().prompt_tokens(), prompt.size());
  EXPECT_EQ(fin.usage().completion_tokens(), expected.size());
  EXPECT_EQ(fin.usage().image_tokens(), 0u);
  EXPECT_GT(fin.timing().ttft_s(), 0.0);
  EXPECT_GE(fin.timing().total_s(), fin.timing().ttft_s());
}

TEST(GatewayChatTest, ChatCompleteCollectsTheSameAnswerWithLogprobs) {
  GatewayStack stack;
  pb::ChatRequest req = UserChat("Count to three.", 12);
  req.mutable_logprobs()->set_logprobs(true);
  req.mutable_logprobs()->set_top_logprobs(2);
  GatewayStack::Result streamed = stack.Chat(req);
  ASSERT_TRUE(streamed.status.ok());
  grpc::ClientContext ctx;
  pb::ChatCompletion completion;
  ASSERT_TRUE(stack.stub->ChatComplete(&ctx, req, &completion).ok());
  EXPECT_THAT(completion.request_id(), ::testing::StartsWith("req-"));
  EXPECT_EQ(completion.content(), streamed.content);
  EXPECT_EQ(completion.finished().usage().completion_tokens(), streamed.finished.usage().completion_tokens());
  ASSERT_EQ(completion.logprobs_size(), static_cast<int>(completion.finished().usage().completion_tokens()));
  for (const pb::TokenLogprob& lp : completion.logprobs()) {
    EXPECT_LE(lp.logprob(), 0.0f);
    ASSERT_EQ(lp.top().token_ids_size(), 2);
    EXPECT_EQ(lp.top().token_ids(0), lp.token_id());  // greedy
  }
}

TEST(GatewayChatTest, MultimodalRequestCarriesExpandedPromptEmbeddingsAndPositions) {
  GatewayStack stack;
  pb::ChatRequest req = UserChat("Look: ", 4);
  pb::ChatMessage* m = req.mutable_messages(0);
  m->add_content()->mutable_image()->set_data("image:4:4");   // 4 tokens
  m->add_content()->set_text(" and ");
  m->add_content()->mutable_image()->set_data("image:2:6");   // 3 tokens
  m->add_content()->mutable_video()->set_data("video:2:4:2");  // 2 groups of 2 tokens
  m->add_content()->set_text(" what?");
  GatewayStack::Result r = stack.Chat(req);
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  const std::string id = r.messages.front().request_id();

  // One Encode per item, all with the request's id.
  {
    std::lock_guard<std::mutex> lock(stack.vision.mu);
    EXPECT_THAT(stack.vision.items, ::testing::UnorderedElementsAre("image:4:4", "image:2:6", "video:2:4:2"));
    for (int n : stack.vision.items_per_call) EXPECT_EQ(n, 1);
    for (const auto& v : stack.vision.request_ids) EXPECT_EQ(v, id);
    for (const auto& v : stack.vision.metadata_ids) EXPECT_EQ(v, id);
  }

  // The text request, built independently: template -> tokens -> expansion -> positions.
  const ModelBundle& b = stack.bundle();
  const std::vector<int64_t> prompt = RenderAndTokenize(
      b, {{"messages", {{{"role", "user"},
                         {"content", {{{"type", "text"}, {"text", "Look: "}}, {{"type", "image"}},
                                      {{"type", "text"}, {"text", " and "}}, {{"type", "image"}},
                                      {{"type", "video"}}, {{"type", "text"}, {"text", " what?"}}}}}}},
          {"add_generation_prompt", true},
          {"enable_thinking", false}});
  const std::vector<text::MmGrid> images = {{1, 4, 4}, {1, 2, 6}};
  text::VideoPrompt video;
  video.grid = {2, 4, 2};
  for (int g = 0; g < 2; ++g) {
    auto ts = b.tokenizer().Encode(text::FormatTimestamp(FakeTimestamp(g)));
    video.timestamp_tokens.emplace_back(ts->begin(), ts->end());
  }
  auto expanded = text::ExpandPlaceholders(prompt, images, std::vector<text::VideoPrompt>{video}, b.placeholders(),
                                           {.spatial_merge_size = 2});
  ASSERT_TRUE(expanded.ok()) << expanded.status();
  auto positions = text::GetRopeIndex(expanded->mm_token_type_ids, images, std::vector<text::MmGrid>{video.grid}, 2);
  ASSERT_TRUE(positions.ok());

  ASSERT_EQ(stack.text[0]->service->requests.size(), 1u);
  const pb::GenerateRequest& g = stack.text[0]->service->requests[0];
  EXPECT_EQ(std::vector<int64_t>(g.input_ids().begin(), g.input_ids().end()), expanded->input_ids);
  const int64_t n = static_cast<int64_t>(expanded->input_ids.size());
  const std::vector<int64_t>& p = positions->positions;
  EXPECT_EQ(std::vector<int64_t>(g.positions().t().begin(), g.positions().t().end()),
            std::vector<int64_t>(p.begin(), p.begin() + n));
  EXPECT_EQ(std::vector<int64_t>(g.positions().h().begin(), g.positions().h().end()),
            std::vector<int64_t>(p.begin() + n, p.begin() + 2 * n));
  EXPECT_EQ(std::vector<int64_t>(g.positions().w().begin(), g.positions().w().end()),
            std::vector<int64_t>(p.begin() + 2 * n, p.end()));
  EXPECT_EQ(g.rope_delta(), positions->rope_delta);
  EXPECT_LT(g.rope_delta(), 0);

  // Spans: image 1, image 2, video group 0, video group 1 — at the first row of each pad run.
  std::vector<int64_t> run_starts;
  for (int64_t i = 0; i < n; ++i) {
    if (expanded->mm_token_type_ids[i] != 0 && (i == 0 || expanded->mm_token_type_ids[i - 1] == 0)) run_starts.push_back(i);
  }
  ASSERT_EQ(run_starts.size(), 4u);
  ASSERT_EQ(g.embeddings_size(), 4);
  const std::string video_bytes = FakeEmbeddings("video:2:4:2", 4, /*bf16=*/true);
  const std::vector<std::string> want = {FakeEmbeddings("image:4:4", 4, false), FakeEmbeddings("image:2:6", 3, false),
                                         video_bytes.substr(0, 2 * kHidden * 2), video_bytes.substr(2 * kHidden * 2)};
  const std::vector<int64_t> rows = {4, 3, 2, 2};
  for (int k = 0; k < 4; ++k) {
    SCOPED_TRACE(k);
    const pb::EmbeddingSpan& s = g.embeddings(k);
    EXPECT_EQ(s.offset(), run_starts[k]);
    EXPECT_EQ(s.modality(), k < 2 ? pb::MODALITY_IMAGE : pb::MODALITY_VIDEO);
    EXPECT_EQ(s.embeddings().dtype(), k < 2 ? pb::DTYPE_F32 : pb::DTYPE_BF16);
    EXPECT_THAT(s.embeddings().shape(), ::testing::ElementsAre(rows[k], kHidden));
    EXPECT_TRUE(s.embeddings().data() == want[k]);
    for (int64_t i = 0; i < rows[k]; ++i) EXPECT_EQ(g.input_ids(s.offset() + i), k < 2 ? 2048 : 2049);
  }
  EXPECT_EQ(r.finished.usage().image_tokens(), 7u);
  EXPECT_EQ(r.finished.usage().video_tokens(), 4u);
  EXPECT_EQ(r.finished.usage().prompt_tokens(), static_cast<uint32_t>(n));
  EXPECT_GT(r.finished.timing().vision_s(), 0.0);
}

TEST(GatewayChatTest, StopStringEndsTheStreamAndCancelsGeneration) {
  GatewayStack stack;
  const std::string question = "Tell me a long story.";
  const std::vector<int64_t> prompt = RenderAndTokenize(
      stack.bundle(),
      {{"messages", {{{"role", "user"}, {"content", question}}}}, {"add_generation_prompt", true}, {"enable_thinking", false}});
  // The random-weight model's plain greedy answer repeats one token; a strong repetition penalty
  // makes the greedy answer a varied (and still deterministic) text.
  text::SamplingParams sampling;
  sampling.temperature = 0;
  sampling.repetition_penalty = 10;
  sampling.presence_penalty = 2;
  sampling.max_tokens = 40;
  const std::vector<int64_t> sampled = stack.Direct(prompt, sampling);
  // A stop string from the middle of the answer: the text of one token that decodes cleanly.
  std::string stop;
  for (size_t k = 4; k < sampled.size() && stop.empty(); ++k) {
    std::string piece = DecodeText(stack.bundle(), {sampled[k]});
    if (!piece.empty() && piece.find("\xEF\xBF\xBD") == std::string::npos && piece.find_first_not_of(" \n") != std::string::npos) {
      stop = piece;
    }
  }
  ASSERT_FALSE(stop.empty()) << "the sampled answer has no usable token: " << ::testing::PrintToString(sampled) << " \""
                             << DecodeText(stack.bundle(), sampled) << "\"";
  const std::string full = DecodeText(stack.bundle(), sampled);
  const size_t at = full.find(stop);
  ASSERT_NE(at, std::string::npos);
  // The token that completes the first occurrence.
  size_t completing = 0;
  while (DecodeText(stack.bundle(), std::vector<int64_t>(sampled.begin(), sampled.begin() + completing + 1)).size() <
         at + stop.size()) {
    ++completing;
  }

  pb::ChatRequest req = UserChat(question, 2000);
  req.mutable_sampling()->set_repetition_penalty(10);
  req.mutable_sampling()->set_presence_penalty(2);
  req.add_stop(stop);
  req.add_stop("never-appears-anywhere");
  GatewayStack::Result r = stack.Chat(req);
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_EQ(r.content, full.substr(0, at));
  EXPECT_EQ(r.finished.reason(), pb::FINISH_REASON_STOP);
  EXPECT_EQ(r.finished.matched_stop(), stop);
  EXPECT_EQ(r.finished.usage().completion_tokens(), completing + 1);
  // The text stream was cancelled: the engine let go of the sequence long before 2000 tokens.
  text::Engine& engine = *stack.text[0]->engine;
  for (int i = 0; i < 200 && (engine.Stats().running > 0 || stack.text[0]->aborted() < 1); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(engine.Stats().running, 0);
  EXPECT_EQ(engine.Stats().state_bytes, 0);
  EXPECT_GE(stack.text[0]->aborted(), 1);
  EXPECT_LT(engine.Stats().generated_tokens, 2000);
}

TEST(GatewayChatTest, ReadinessProbeChecksTheTextReplicasModel) {
  GatewayStack stack;
  EXPECT_TRUE(ProbeTextReplica(stack.text_pool(), stack.bundle(), std::chrono::seconds(5)).ok());
  // A gateway whose config.json disagrees with the replica refuses.
  core::ModelConfig other = stack.bundle().config();
  other.text.vocab_size += 1;
  auto tokenizer = Tokenizer::FromFile((BundleDir() / "tokenizer.json").string());
  auto tmpl = ChatTemplate::Create(ReadRepoFile("tests/reference/chat_template_qwen35/chat_template.jinja"));
  auto mismatched = ModelBundle::Create(std::move(*tokenizer), std::move(*tmpl), other, "other");
  ASSERT_TRUE(mismatched.ok()) << mismatched.status();
  absl::Status s = ProbeTextReplica(stack.text_pool(), **mismatched, std::chrono::seconds(5));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), HasSubstr("vocab_size 2069 != 2070"));
}

TEST(GatewayChatTest, DrainingRefusesNewRequests) {
  GatewayStack stack;
  stack.service->SetDraining();
  GatewayStack::Result r = stack.Chat(UserChat("hi", 2));
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(stack.service->inflight(), 0);
}

}  // namespace
}  // namespace qwen::gateway::testing
