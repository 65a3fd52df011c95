// The text service over real gRPC on loopback: exact token streams, status codes for bad input,
// cancellation and deadlines freeing state, admission limits, drain, health.
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "qwen35/v1/text.grpc.pb.h"
#include "server_common/server_runner.h"
#include "tests/model/reference_case.h"
#include "text_service/engine/engine.h"
#include "text_service/server/text_servicer.h"

namespace qwen::text {
namespace {

using ::testing::HasSubstr;
namespace pb = qwen35::v1;

class TextServiceTest : public ::testing::Test {
 protected:
  void StartServer(EngineOptions engine_options) {
    auto m = TextModel::Load(testing::ReferenceRoot() / "text_cond_untied_hv2" / "model");
    ASSERT_TRUE(m.ok()) << m.status();
    model_ = std::move(*m);
    engine_options_ = engine_options;
    engine_ = std::make_unique<Engine>(model_.get(), engine_options);
    runner_ = std::make_unique<serving::ServerRunner>(serving::ServerOptions{
        .listen_address = "127.0.0.1:0", .drain_timeout = std::chrono::seconds(5),
        .service_name = "qwen35.v1.TextGenerator"});
    metrics_ = std::make_unique<TextMetrics>(runner_->metrics());
    RequestDefaults defaults{.max_tokens = 16, .hidden_size = model_->config().hidden_size};
    service_ = std::make_unique<TextServicer>(engine_.get(), defaults, metrics_.get(), "tiny",
                                              engine_options.max_running);
    ASSERT_TRUE(runner_->Start({service_.get()}).ok());
    runner_->SetReady(true);
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(runner_->bound_port()),
                                   grpc::InsecureChannelCredentials());
    stub_ = pb::TextGenerator::NewStub(channel_);
  }
  void TearDown() override {
    if (runner_) runner_->server()->Shutdown(std::chrono::system_clock::now());
    engine_.reset();
  }

  struct Result {
    grpc::Status status;
    std::vector<int64_t> tokens;
    std::vector<pb::GenerateResponse> messages;
  };
  Result Generate(const pb::GenerateRequest& req, std::chrono::milliseconds deadline = std::chrono::seconds(60),
                  int cancel_after_tokens = -1) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + deadline);
    auto reader = stub_->Generate(&ctx, req);
    Result r;
    pb::GenerateResponse msg;
    while (reader->Read(&msg)) {
      r.messages.push_back(msg);
      if (msg.has_chunk()) r.tokens.insert(r.tokens.end(), msg.chunk().token_ids().begin(), msg.chunk().token_ids().end());
      if (cancel_after_tokens >= 0 && static_cast<int>(r.tokens.size()) >= cancel_after_tokens) ctx.TryCancel();
    }
    r.status = reader->Finish();
    return r;
  }
  static pb::GenerateRequest Greedy(const std::string& id, const std::vector<int64_t>& ids, uint32_t max_tokens) {
    pb::GenerateRequest req;
    req.set_request_id(id);
    for (int64_t t : ids) req.add_input_ids(t);
    req.mutable_sampling()->set_temperature(0);
    req.mutable_stop()->set_max_tokens(max_tokens);
    return req;
  }
  void WaitIdle() {
    for (int i = 0; i < 200 && (engine_->Stats().running || engine_->Stats().waiting); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  std::unique_ptr<TextModel> model_;
  EngineOptions engine_options_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<serving::ServerRunner> runner_;
  std::unique_ptr<TextMetrics> metrics_;
  std::unique_ptr<TextServicer> service_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pb::TextGenerator::Stub> stub_;
};

TEST_F(TextServiceTest, StreamsTheReferenceGreedyTokens) {
  StartServer({});
  const auto dir = testing::ReferenceRoot() / "text_cond_untied_hv2";
  std::vector<int64_t> prompt = testing::ReadIds(dir / "inputs.safetensors", "input_ids");
  std::vector<int64_t> expected = testing::ReadIds(dir / "expected.safetensors", "greedy_ids");
  pb::GenerateRequest req = Greedy("ref", prompt, static_cast<uint32_t>(expected.size()));
  req.mutable_logprobs()->set_logprobs(true);
  req.mutable_logprobs()->set_top_logprobs(3);
  Result r = Generate(req);
  ASSERT_TRUE(r.status.ok()) << r.status.error_message();
  EXPECT_EQ(r.tokens, expected);
  ASSERT_GE(r.messages.size(), 3u);
  EXPECT_TRUE(r.messages.front().has_started());
  EXPECT_EQ(r.messages.front().started().prompt_tokens(), prompt.size());
  const pb::Finished& fin = r.messages.back().finished();
  EXPECT_EQ(fin.reason(), pb::FINISH_REASON_LENGTH);
  EXPECT_EQ(fin.usage().completion_tokens(), expected.size());
  EXPECT_EQ(fin.usage().prompt_tokens(), prompt.size());
  for (const auto& m : r.messages) {
    if (!m.has_chunk()) continue;
    EXPECT_EQ(m.chunk().logprobs_size(), m.chunk().token_ids_size());
    ASSERT_EQ(m.chunk().top_size(), m.chunk().token_ids_size());
    for (int i = 0; i < m.chunk().token_ids_size(); ++i) {
      // Greedy: the chosen token is the most likely one.
      EXPECT_EQ(m.chunk().top(i).token_ids(0), m.chunk().token_ids(i));
      EXPECT_LE(m.chunk().logprobs(i), 0.0f);
    }
  }
}

TEST_F(TextServiceTest, BadInputGetsInvalidArgumentNamingTheProblem) {
  StartServer({});
  Result r = Generate(Greedy("bad-id", {1, 2, 99999}, 4));
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(r.status.error_message(), HasSubstr("id 99999"));
  pb::GenerateRequest req = Greedy("bad-temp", {1, 2}, 4);
  req.mutable_sampling()->set_temperature(-1);
  r = Generate(req);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(r.status.error_message(), HasSubstr("temperature"));
  r = Generate(Greedy("", {1}, 4));
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  r = Generate(Greedy("empty", {}, 4));
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  r = Generate(Greedy("long", std::vector<int64_t>(4000, 3), 200));
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(r.status.error_message(), HasSubstr("context"));
  req = Greedy("emb", {1, 2, 3}, 4);
  auto* span = req.add_embeddings();
  span->set_offset(1);
  span->mutable_embeddings()->set_dtype(pb::DTYPE_F32);
  span->mutable_embeddings()->add_shape(1);
  span->mutable_embeddings()->add_shape(64);
  span->mutable_embeddings()->set_data(std::string(10, '\0'));
  r = Generate(req);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(r.status.error_message(), HasSubstr("embeddings[0] has 10 bytes"));
  // The service still works.
  EXPECT_TRUE(Generate(Greedy("ok", {1, 2, 3}, 2)).status.ok());
}

TEST_F(TextServiceTest, CancelAndDeadlineFreeTheState) {
  StartServer({});
  Result r = Generate(Greedy("cancel", {5, 6, 7}, 3000), std::chrono::seconds(60), 3);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::CANCELLED);
  r = Generate(Greedy("deadline", {5, 6, 7}, 3000), std::chrono::milliseconds(200));
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  WaitIdle();
  EXPECT_EQ(engine_->Stats().running, 0);
  EXPECT_EQ(engine_->Stats().state_bytes, 0);
  EXPECT_TRUE(Generate(Greedy("after", {1, 2}, 2)).status.ok());
}

TEST_F(TextServiceTest, FullQueueIsResourceExhausted) {
  StartServer({.max_running = 1, .max_waiting = 0});
  std::thread hog([&] {
    Result r = Generate(Greedy("hog", {1, 2}, 4000));
    EXPECT_EQ(r.status.error_code(), grpc::StatusCode::CANCELLED);
    EXPECT_GT(r.tokens.size(), 0u);
  });
  for (int i = 0; i < 200 && engine_->Stats().running == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  Result r = Generate(Greedy("second", {1, 2}, 2));
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(engine_->Abort("hog"));
  hog.join();
}

TEST_F(TextServiceTest, AbortRpcAndDuplicateIds) {
  StartServer({});
  std::thread t([&] {
    Result r = Generate(Greedy("victim", {1, 2}, 3000));
    EXPECT_EQ(r.status.error_code(), grpc::StatusCode::CANCELLED);
  });
  for (int i = 0; i < 200 && engine_->Stats().running == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  Result dup = Generate(Greedy("victim", {1, 2}, 2));
  EXPECT_EQ(dup.status.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  grpc::ClientContext ctx;
  pb::AbortRequest req;
  req.add_request_ids("victim");
  req.add_request_ids("nobody");
  pb::AbortResponse resp;
  ASSERT_TRUE(stub_->Abort(&ctx, req, &resp).ok());
  EXPECT_THAT(std::vector<std::string>(resp.aborted().begin(), resp.aborted().end()), ::testing::ElementsAre("victim"));
  EXPECT_THAT(std::vector<std::string>(resp.not_found().begin(), resp.not_found().end()), ::testing::ElementsAre("nobody"));
  t.join();
}

TEST_F(TextServiceTest, ModelInfoLoadAndHealth) {
  StartServer({.max_running = 7});
  grpc::ClientContext c1;
  pb::TextModelInfo info;
  ASSERT_TRUE(stub_->GetModelInfo(&c1, pb::GetModelInfoRequest(), &info).ok());
  EXPECT_EQ(info.vocab_size(), 512u);
  EXPECT_EQ(info.hidden_size(), 64u);
  EXPECT_EQ(info.max_running_requests(), 7u);
  grpc::ClientContext c2;
  pb::LoadReport load;
  ASSERT_TRUE(stub_->GetLoad(&c2, pb::GetLoadRequest(), &load).ok());
  EXPECT_EQ(load.free_state_slots(), 7u);
  EXPECT_FALSE(load.draining());
  auto* health = runner_->server()->GetHealthCheckService();
  ASSERT_NE(health, nullptr);
}

TEST_F(TextServiceTest, DrainingRefusesNewWorkButFinishesOpenStreams) {
  StartServer({});
  std::vector<int64_t> solo;
  std::thread open_stream([&] {
    Result r = Generate(Greedy("inflight", {9, 8, 7}, 40));
    EXPECT_TRUE(r.status.ok()) << r.status.error_message();
    EXPECT_EQ(r.tokens.size(), 40u);
  });
  for (int i = 0; i < 200 && engine_->Stats().running == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  service_->SetDraining();
  engine_->StopAccepting();
  Result r = Generate(Greedy("late", {1}, 2));
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  open_stream.join();
}

}  // namespace
}  // namespace qwen::text
