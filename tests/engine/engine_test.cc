// Continuous batching: every request gets exactly the tokens it would get alone, through prefill
// chunks, mixed batches, aborts and errors; state is freed on every exit path.
#include "text_service/engine/engine.h"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "core/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/engine/stream_collector.h"
#include "tests/model/reference_case.h"
#include "tools/qwen35/greedy_decode.h"

namespace qwen::text {
namespace {

using ::testing::HasSubstr;
using testing::ReferenceRoot;

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto m = TextModel::Load(ReferenceRoot() / "text_cond_untied_hv2" / "model");
    ASSERT_TRUE(m.ok()) << m.status();
    model_ = std::move(*m);
  }
  std::vector<int64_t> Prompt(int64_t n, int64_t seed) const {
    std::vector<int64_t> ids;
    for (int64_t i = 0; i < n; ++i)
      ids.push_back((seed * 131 + i * 17 + i * i) % model_->config().vocab_size);
    return ids;
  }
  std::vector<int64_t> Solo(const std::vector<int64_t>& prompt, int64_t n) const {
    auto r = tools::GreedyDecode(*model_, prompt, {.max_new_tokens = n});
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? r->ids : std::vector<int64_t>{};
  }
  static GenerateRequest Greedy(std::string id, std::vector<int64_t> prompt, int64_t n) {
    GenerateRequest r;
    r.request_id = std::move(id);
    r.prompt = std::move(prompt);
    r.sampling = SamplingParams{.temperature = 0, .max_tokens = n};
    return r;
  }
  std::unique_ptr<TextModel> model_;
};

TEST_F(EngineTest, GreedyStreamMatchesTransformers) {
  const auto dir = ReferenceRoot() / "text_cond_untied_hv2";
  std::vector<int64_t> prompt = testing::ReadIds(dir / "inputs.safetensors", "input_ids");
  std::vector<int64_t> expected = testing::ReadIds(dir / "expected.safetensors", "greedy_ids");
  // A small token budget forces the 150-token prompt through several prefill chunks.
  Engine engine(model_.get(), {.max_batched_tokens = 40});
  Collector c;
  ASSERT_TRUE(
      engine.Submit(Greedy("a", prompt, static_cast<int64_t>(expected.size())), c.Callback()).ok());
  StreamUpdate end = c.Wait();
  EXPECT_EQ(c.tokens(), expected);
  EXPECT_EQ(end.finish_reason, FinishReason::kLength);
  EXPECT_EQ(end.prompt_tokens, 150);
  EXPECT_EQ(end.completion_tokens, static_cast<int64_t>(expected.size()));
}

TEST_F(EngineTest, ConcurrentRequestsEachGetTheirSoloTokens) {
  Engine engine(model_.get(), {.max_running = 3, .max_batched_tokens = 48, .num_threads = 2});
  constexpr int kRequests = 8;
  std::vector<std::unique_ptr<Collector>> collectors;
  std::vector<std::vector<int64_t>> prompts;
  for (int i = 0; i < kRequests; ++i) {
    prompts.push_back(Prompt(1 + 23 * i % 97, i));
    collectors.push_back(std::make_unique<Collector>());
    ASSERT_TRUE(
        engine.Submit(Greedy("r" + std::to_string(i), prompts[i], 5 + i), collectors[i]->Callback())
            .ok());
  }
  for (int i = 0; i < kRequests; ++i) {
    collectors[i]->Wait();
    EXPECT_EQ(collectors[i]->tokens(), Solo(prompts[i], 5 + i)) << "request " << i;
  }
  EngineStats stats = engine.Stats();
  EXPECT_EQ(stats.running, 0);
  EXPECT_EQ(stats.waiting, 0);
  EXPECT_EQ(stats.state_bytes, 0);
}

TEST_F(EngineTest, SeededSamplingIsReproducibleAcrossBatchCompositions) {
  auto run = [&](bool with_neighbours) {
    Engine engine(model_.get(), {});
    Collector c, n1, n2;
    GenerateRequest r = Greedy("s", Prompt(30, 1), 12);
    r.sampling = SamplingParams{.temperature = 1.0, .top_p = 0.9, .seed = 1234, .max_tokens = 12};
    if (with_neighbours) {
      GenerateRequest a = Greedy("n1", Prompt(70, 2), 20);
      a.sampling.temperature = 0.8;
      EXPECT_TRUE(engine.Submit(a, n1.Callback()).ok());
      EXPECT_TRUE(engine.Submit(Greedy("n2", Prompt(5, 3), 20), n2.Callback()).ok());
    }
    EXPECT_TRUE(engine.Submit(r, c.Callback()).ok());
    c.Wait();
    if (with_neighbours) {
      n1.Wait();
      n2.Wait();
    }
    return c.tokens();
  };
  std::vector<int64_t> alone = run(false);
  EXPECT_EQ(alone.size(), 12u);
  EXPECT_EQ(run(true), alone);
}

TEST_F(EngineTest, StopTokenAndEosEndTheStream) {
  std::vector<int64_t> prompt = Prompt(20, 5);
  std::vector<int64_t> solo = Solo(prompt, 6);
  {
    Engine engine(model_.get(), {});
    Collector c;
    GenerateRequest r = Greedy("stop", prompt, 50);
    r.sampling.stop_token_ids = {solo[3]};
    ASSERT_TRUE(engine.Submit(r, c.Callback()).ok());
    StreamUpdate end = c.Wait();
    EXPECT_EQ(end.finish_reason, FinishReason::kStop);
    EXPECT_EQ(end.matched_stop_token, solo[3]);
    std::vector<int64_t> got = c.tokens();
    ASSERT_FALSE(got.empty());
    EXPECT_EQ(got.back(), solo[3]);
    EXPECT_LE(got.size(), 4u);
  }
  {
    Engine engine(model_.get(), {.eos_token_ids = {solo[2]}});
    Collector c, ignoring;
    ASSERT_TRUE(engine.Submit(Greedy("eos", prompt, 50), c.Callback()).ok());
    GenerateRequest r = Greedy("ignore", prompt, 6);
    r.sampling.ignore_eos = true;
    ASSERT_TRUE(engine.Submit(r, ignoring.Callback()).ok());
    EXPECT_EQ(c.Wait().finish_reason, FinishReason::kStop);
    EXPECT_EQ(ignoring.Wait().finish_reason, FinishReason::kLength);
    EXPECT_EQ(ignoring.tokens(), solo);
  }
}

TEST_F(EngineTest, AbortFreesTheSequenceAndLeavesOthersAlone) {
  Engine engine(model_.get(), {.max_running = 2});
  Collector victim, other, queued;
  std::vector<int64_t> other_prompt = Prompt(40, 9);
  ASSERT_TRUE(engine.Submit(Greedy("victim", Prompt(40, 8), 1000), victim.Callback()).ok());
  ASSERT_TRUE(engine.Submit(Greedy("other", other_prompt, 20), other.Callback()).ok());
  ASSERT_TRUE(engine.Submit(Greedy("queued", Prompt(10, 10), 1000), queued.Callback()).ok());
  victim.WaitForTokens(3);
  EXPECT_TRUE(engine.Abort("victim"));
  EXPECT_TRUE(engine.Abort("queued"));
  EXPECT_EQ(victim.Wait().finish_reason, FinishReason::kAbort);
  EXPECT_EQ(queued.Wait().finish_reason, FinishReason::kAbort);
  other.Wait();
  EXPECT_EQ(other.tokens(), Solo(other_prompt, 20));
  EXPECT_FALSE(engine.Abort("victim"));  // already gone
  EXPECT_EQ(engine.Stats().running, 0);
  // The id is free again.
  Collector again;
  EXPECT_TRUE(engine.Submit(Greedy("victim", Prompt(3, 1), 2), again.Callback()).ok());
  again.Wait();
}

TEST_F(EngineTest, BadRequestsAreRejectedWithPreciseErrors) {
  Engine engine(model_.get(), {.max_context = 100});
  auto submit = [&](GenerateRequest r) {
    return engine.Submit(std::move(r), [](const StreamUpdate&) {});
  };
  EXPECT_THAT(std::string(submit(Greedy("e", {}, 1)).message()), HasSubstr("no tokens"));
  absl::Status s = submit(Greedy("v", {1, 2, 512}, 1));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("prompt token 2 has id 512"));
  s = submit(Greedy("c", Prompt(90, 1), 11));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("the context is 100 tokens"));
  GenerateRequest bad = Greedy("t", {1}, 1);
  bad.sampling.top_p = 0;
  EXPECT_THAT(std::string(submit(bad).message()), HasSubstr("top_p"));
  GenerateRequest pos = Greedy("p", {1, 2}, 1);
  pos.positions = {0, 1};
  EXPECT_THAT(std::string(submit(pos).message()), HasSubstr("positions has 2 entries"));
  GenerateRequest emb = Greedy("m", {1, 2, 3}, 1);
  emb.embeddings.push_back({2, core::Tensor::Zeros({2, 64}, core::DType::kF32)});
  EXPECT_THAT(std::string(submit(emb).message()), HasSubstr("leave the 3-token prompt"));
}

TEST_F(EngineTest, FullQueueIsResourceExhaustedAndDuplicateIdsAreRefused) {
  Engine engine(model_.get(), {.max_running = 1, .max_waiting = 1});
  Collector a, b;
  ASSERT_TRUE(engine.Submit(Greedy("a", Prompt(10, 1), 500), a.Callback()).ok());
  a.WaitForTokens(1);  // "a" is running; the queue is empty
  ASSERT_TRUE(engine.Submit(Greedy("b", Prompt(10, 2), 500), b.Callback()).ok());
  absl::Status s = engine.Submit(Greedy("c", Prompt(10, 3), 5), [](const StreamUpdate&) {});
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  s = engine.Submit(Greedy("a", Prompt(10, 3), 5), [](const StreamUpdate&) {});
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists);
  engine.Abort("a");
  engine.Abort("b");
  a.Wait();
  b.Wait();
}

TEST_F(EngineTest, InjectedEmbeddingsReplaceTokenEmbeddings) {
  std::vector<int64_t> prompt = Prompt(12, 4);
  const int64_t h = model_->config().hidden_size;
  // Rows 3..6 get the embeddings of other tokens: the result must equal a prompt with those tokens.
  std::vector<int64_t> swapped = prompt;
  for (int i = 3; i < 7; ++i) swapped[i] = (prompt[i] + 101) % model_->config().vocab_size;
  core::Tensor e = core::Tensor::Zeros({4, h}, core::DType::kF32);
  model_->EmbedTokens(std::span<const int64_t>(swapped).subspan(3, 4), e.data<float>());
  Engine engine(model_.get(), {});
  Collector c;
  GenerateRequest r = Greedy("mm", prompt, 6);
  r.embeddings.push_back({3, e});
  ASSERT_TRUE(engine.Submit(r, c.Callback()).ok());
  c.Wait();
  EXPECT_EQ(c.tokens(), Solo(swapped, 6));
}

}  // namespace
}  // namespace qwen::text

namespace qwen::text {
namespace {

// The CPU decoder behind a bounded cache of `capacity` tokens (as the CUDA backend's KV pages):
// NewState and Reserve take room or say ResourceExhausted; destroying the state gives it back.
class BoundedCacheBackend : public DecoderBackend {
 public:
  BoundedCacheBackend(const TextModel* model, int64_t capacity)
      : cpu_(model, 1), capacity_(capacity) {}
  const core::ModelConfig& model_config() const override { return cpu_.model_config(); }
  std::string Describe() const override { return "bounded"; }
  int64_t max_sequences() const override { return 8; }
  int64_t max_step_tokens() const override { return 1 << 20; }
  int64_t max_sequence_tokens() const override { return capacity_; }
  absl::StatusOr<std::unique_ptr<DecoderState>> NewState(int64_t rope_delta,
                                                         int64_t reserve_tokens) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (used_ + reserve_tokens > capacity_) {
      ++refusals_;
      return absl::ResourceExhaustedError("bounded cache full");
    }
    QWEN_ASSIGN_OR_RETURN(std::unique_ptr<DecoderState> inner,
                          cpu_.NewState(rope_delta, reserve_tokens));
    used_ += reserve_tokens;
    peak_ = std::max(peak_, used_);
    return std::make_unique<State>(std::move(inner), this, reserve_tokens);
  }
  absl::Status Reserve(DecoderState* state, int64_t total_tokens) override {
    auto* s = static_cast<State*>(state);
    std::lock_guard<std::mutex> lock(mu_);
    const int64_t more = total_tokens - s->tokens;
    if (more <= 0) return absl::OkStatus();
    if (used_ + more > capacity_) {
      ++refusals_;
      return absl::ResourceExhaustedError("bounded cache full");
    }
    used_ += more;
    s->tokens = total_tokens;
    peak_ = std::max(peak_, used_);
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<SampleResult>> Step(std::span<const BackendRow> rows) override {
    std::vector<BackendRow> inner(rows.begin(), rows.end());
    for (BackendRow& r : inner) {
      auto* s = static_cast<State*>(r.state);
      // The engine reserves before every step; a step past the reservation is its bug.
      if (s->inner->num_tokens() + static_cast<int64_t>(r.ids.size()) > s->tokens) {
        return absl::InternalError("a step past the sequence's reservation");
      }
      r.state = s->inner.get();
    }
    return cpu_.Step(inner);
  }
  int64_t peak() {
    std::lock_guard<std::mutex> lock(mu_);
    return peak_;
  }
  int64_t refusals() {
    std::lock_guard<std::mutex> lock(mu_);
    return refusals_;
  }
  int64_t used() {
    std::lock_guard<std::mutex> lock(mu_);
    return used_;
  }

 private:
  struct State : DecoderState {
    State(std::unique_ptr<DecoderState> s, BoundedCacheBackend* o, int64_t t)
        : inner(std::move(s)), owner(o), tokens(t) {}
    ~State() override {
      std::lock_guard<std::mutex> lock(owner->mu_);
      owner->used_ -= tokens;
    }
    int64_t num_tokens() const override { return inner->num_tokens(); }
    size_t MemoryBytes() const override { return inner->MemoryBytes(); }
    std::unique_ptr<DecoderState> inner;
    BoundedCacheBackend* owner;
    int64_t tokens;
  };
  CpuBackend cpu_;
  int64_t capacity_;
  std::mutex mu_;
  int64_t used_ = 0, peak_ = 0, refusals_ = 0;
};

// Submits every request to `engine`; their streams, in order.
std::vector<std::unique_ptr<Collector>> SubmitAll(Engine& engine,
                                                  const std::vector<GenerateRequest>& requests) {
  std::vector<std::unique_ptr<Collector>> streams;
  for (const GenerateRequest& r : requests) {
    streams.push_back(std::make_unique<Collector>());
    const absl::Status s = engine.Submit(r, streams.back()->Callback());
    EXPECT_TRUE(s.ok()) << r.request_id << ": " << s;
  }
  return streams;
}

// Each stream ends with its whole token budget (kLength) and exactly the expected tokens.
void ExpectStreams(const std::vector<std::unique_ptr<Collector>>& streams,
                   const std::vector<std::vector<int64_t>>& expected) {
  ASSERT_EQ(streams.size(), expected.size());
  for (size_t i = 0; i < streams.size(); ++i) {
    const StreamUpdate last = streams[i]->Wait();
    EXPECT_EQ(last.finish_reason, FinishReason::kLength) << "request " << i << ": " << last.error;
    EXPECT_EQ(streams[i]->tokens(), expected[i]) << "request " << i;
  }
}

class BoundedEngineTest : public EngineTest {
 protected:
  // The tokens each request streams alone on an unbounded decoder, one after another.
  std::vector<std::vector<int64_t>> AloneStreams(const std::vector<GenerateRequest>& requests) {
    Engine alone(model_.get(), EngineOptions{});
    std::vector<std::vector<int64_t>> tokens;
    for (const GenerateRequest& r : requests) {
      Collector c;
      EXPECT_TRUE(alone.Submit(r, c.Callback()).ok());
      EXPECT_EQ(c.Wait().finish_reason, FinishReason::kLength) << r.request_id;
      tokens.push_back(c.tokens());
    }
    return tokens;
  }
};

TEST_F(BoundedEngineTest, AFullCacheQueuesRequestsInsteadOfFailingThem) {
  // Room for two of these requests at a time (20 prompt + 10 new = 30 tokens each).
  BoundedCacheBackend backend(model_.get(), 70);
  EngineOptions options;
  options.max_running = 8;
  Engine engine(&backend, options);
  std::vector<GenerateRequest> requests;
  for (int i = 0; i < 5; ++i)
    requests.push_back(Greedy("r" + std::to_string(i), Prompt(20, 40 + i), 10));
  // Never more than the cache at once, and every request still streams its solo greedy tokens.
  ExpectStreams(SubmitAll(engine, requests), AloneStreams(requests));
  EXPECT_LE(backend.peak(), 70);
  EXPECT_GT(backend.refusals(), 0);
  EXPECT_EQ(backend.used(), 0);
  // The default generation reserve covers these budgets: nothing was preempted.
  EXPECT_EQ(engine.Stats().preemptions, 0);

  // A request that could never fit is rejected at submission, naming the numbers.
  Collector never;
  const absl::Status too_big = engine.Submit(Greedy("big", Prompt(60, 9), 20), never.Callback());
  EXPECT_EQ(too_big.code(), absl::StatusCode::kInvalidArgument) << too_big;
  EXPECT_THAT(std::string(too_big.message()), HasSubstr("at most 70 tokens"));
}

TEST_F(BoundedEngineTest, PreemptedSequencesRecomputeAndStreamTheirSoloTokens) {
  // 20 prompt + 30 new tokens each = 50 at the end, in a cache of 70, admitting each with 4 tokens
  // of generation room: two run until the cache is out, then the newer one is preempted,
  // requeued, and replays its prompt and its tokens so far when readmitted.
  BoundedCacheBackend backend(model_.get(), 70);
  EngineOptions options;
  options.max_running = 8;
  options.max_batched_tokens = 16;  // prompt and replay in several chunks
  options.decode_reserve_tokens = 4;
  Engine engine(&backend, options);
  std::vector<GenerateRequest> requests;
  std::vector<std::vector<int64_t>> solo;
  for (int i = 0; i < 4; ++i) {
    requests.push_back(Greedy("p" + std::to_string(i), Prompt(20, 60 + i), 30));
    solo.push_back(Solo(requests.back().prompt, 30));
  }
  ExpectStreams(SubmitAll(engine, requests), solo);
  EXPECT_GT(engine.Stats().preemptions, 0);
  EXPECT_LE(backend.peak(), 70);
  EXPECT_EQ(backend.used(), 0);
}

TEST_F(BoundedEngineTest, SeededSamplingSurvivesPreemption) {
  // The same seeded requests, alone on an unbounded decoder and squeezed through a cache that
  // forces preemptions, draw the same tokens: a replay samples nothing, so each request's random
  // stream advances only at its real draws.
  std::vector<GenerateRequest> requests;
  for (int i = 0; i < 3; ++i) {
    GenerateRequest r = Greedy("s" + std::to_string(i), Prompt(18, 80 + i), 24);
    r.sampling.temperature = 0.9;
    r.sampling.top_p = 0.95;
    r.sampling.seed = 1234 + i;
    requests.push_back(std::move(r));
  }
  const std::vector<std::vector<int64_t>> expected = AloneStreams(requests);
  BoundedCacheBackend backend(model_.get(), 60);
  EngineOptions options;
  options.decode_reserve_tokens = 2;
  Engine engine(&backend, options);
  ExpectStreams(SubmitAll(engine, requests), expected);
  EXPECT_GT(engine.Stats().preemptions, 0);
  EXPECT_EQ(backend.used(), 0);
}

TEST_F(BoundedEngineTest, AbortsDuringPreemptionFreeEverything) {
  BoundedCacheBackend backend(model_.get(), 60);
  EngineOptions options;
  options.decode_reserve_tokens = 1;
  Engine engine(&backend, options);
  std::vector<GenerateRequest> requests;
  for (int i = 0; i < 3; ++i)
    requests.push_back(Greedy("a" + std::to_string(i), Prompt(18, 90 + i), 40));
  std::vector<std::unique_ptr<Collector>> streams = SubmitAll(engine, requests);
  // Abort the newest once something was preempted (it is then running or queued again).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (engine.Stats().preemptions == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_GT(engine.Stats().preemptions, 0);
  engine.Abort("a2");
  const StreamUpdate aborted = streams[2]->Wait();
  EXPECT_TRUE(aborted.finish_reason == FinishReason::kAbort ||
              aborted.finish_reason == FinishReason::kLength)
      << FinishReasonName(aborted.finish_reason);
  streams.pop_back();
  ExpectStreams(streams, {Solo(requests[0].prompt, 40), Solo(requests[1].prompt, 40)});
  EXPECT_EQ(backend.used(), 0);
}

TEST_F(BoundedEngineTest, PreemptedMultimodalRequestsReplayTheirPositionsAndEmbeddings) {
  // Prompts with injected rows and M-RoPE positions (a 2 x 2 "image" at rows 3..6, then text
  // shifted by the rope delta): a preempted request replays its prompt with those positions and
  // embeddings, and its generated tokens at text positions, as when it decoded them.
  const int64_t h = model_->config().hidden_size, n = 20;
  std::vector<GenerateRequest> requests;
  for (int i = 0; i < 3; ++i) {
    GenerateRequest r = Greedy("mm" + std::to_string(i), Prompt(n, 120 + i), 24);
    r.positions.assign(3 * n, 0);
    for (int64_t t = 0; t < n; ++t) {
      int64_t p[3] = {t, t, t};
      if (t >= 3 && t < 7) {
        p[0] = 3;
        p[1] = 3 + (t - 3) / 2;
        p[2] = 3 + (t - 3) % 2;
      } else if (t >= 7) {
        p[0] = p[1] = p[2] = t - 2;
      }
      for (int axis = 0; axis < 3; ++axis) r.positions[axis * n + t] = p[axis];
    }
    r.rope_delta = -2;
    std::vector<int64_t> other(4);
    for (int k = 0; k < 4; ++k) {
      other[k] = (r.prompt[3 + k] + 7 * (i + 1)) % model_->config().vocab_size;
    }
    core::Tensor e = core::Tensor::Zeros({4, h}, core::DType::kF32);
    model_->EmbedTokens(other, e.data<float>());
    r.embeddings.push_back({3, e});
    requests.push_back(std::move(r));
  }
  const std::vector<std::vector<int64_t>> expected = AloneStreams(requests);
  BoundedCacheBackend backend(model_.get(), 64);
  EngineOptions options;
  options.max_batched_tokens = 8;
  options.decode_reserve_tokens = 2;
  Engine engine(&backend, options);
  ExpectStreams(SubmitAll(engine, requests), expected);
  EXPECT_GT(engine.Stats().preemptions, 0);
  EXPECT_EQ(backend.used(), 0);
}

}  // namespace
}  // namespace qwen::text
