// The engine on the CUDA model (CudaBackend; each test skips without a GPU): one request's greedy
// stream equals the CUDA model's own greedy decode (same kernels, same batch shapes), concurrent
// requests with sampling, logprobs and penalties all finish with their token budgets, an abort
// frees its slot, bad requests are rejected before they reach the GPU, and a full KV cache
// preempts and recomputes instead of failing.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "core/cuda/device_context.h"
#include "tests/engine/stream_collector.h"
#include "tests/model/reference_case.h"
#include "text_service/engine/cuda/cuda_backend.h"
#include "text_service/engine/engine.h"
#include "text_service/model/cuda/greedy_decode.h"

namespace qwen::text {
namespace {

class EngineCudaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!core::cuda::CudaDeviceAvailable(0)) {
      GTEST_SKIP() << "no CUDA device: the CUDA engine tests run only on the GPU machine";
    }
    auto ctx = core::cuda::DeviceContext::Create();
    ASSERT_TRUE(ctx.ok()) << ctx.status();
    ctx_ = std::move(*ctx);
    dir_ = testing::ReferenceRoot() / "text_cond_untied_hv2";
    auto model = cuda::CudaTextModel::Load(*ctx_, dir_ / "model",
                                           {.max_batched_tokens = 256,
                                            .max_seqs = 8,
                                            .max_slots = 8,
                                            .num_pages = 128,
                                            .max_logits_rows = 8});
    ASSERT_TRUE(model.ok()) << model.status();
    model_ = std::move(*model);
  }
  void TearDown() override {
    engine_.reset();
    backend_.reset();
  }
  Engine& StartEngine(EngineOptions options) {
    backend_ = std::make_unique<CudaBackend>(model_.get());
    engine_ = std::make_unique<Engine>(backend_.get(), std::move(options));
    return *engine_;
  }

  std::unique_ptr<core::cuda::DeviceContext> ctx_;
  std::filesystem::path dir_;
  std::unique_ptr<cuda::CudaTextModel> model_;
  std::unique_ptr<CudaBackend> backend_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(EngineCudaTest, OneGreedyRequestStreamsTheModelsGreedyDecode) {
  const std::vector<int64_t> prompt = testing::ReadIds(dir_ / "inputs.safetensors", "input_ids");
  auto expected = cuda::GreedyDecode(
      *model_, prompt,
      {.max_new_tokens = 12, .keep_prefill_logits = false, .keep_step_logits = false});
  ASSERT_TRUE(expected.ok()) << expected.status();
  Engine& engine = StartEngine({.max_running = 4, .max_batched_tokens = 256});
  EXPECT_EQ(engine.backend().max_sequences(), 8);
  Collector c;
  GenerateRequest req{.request_id = "greedy", .prompt = prompt};
  req.sampling.temperature = 0.0;
  req.sampling.max_tokens = 12;
  req.sampling.ignore_eos = true;
  ASSERT_TRUE(engine.Submit(std::move(req), c.Callback()).ok());
  const StreamUpdate last = c.Wait();
  EXPECT_EQ(last.finish_reason, FinishReason::kLength);
  EXPECT_EQ(c.tokens(), expected->ids);
}

TEST_F(EngineCudaTest, ConcurrentSampledRequestsFinishAndFreeTheirState) {
  Engine& engine = StartEngine({.max_running = 6, .max_waiting = 16, .max_batched_tokens = 96});
  const int64_t vocab = model_->config().vocab_size;
  const int64_t free_before = model_->cache().num_free_slots();
  std::vector<std::unique_ptr<Collector>> collectors;
  for (int i = 0; i < 10; ++i) {
    GenerateRequest req{.request_id = "r" + std::to_string(i)};
    for (int64_t t = 0; t < 20 + 13 * i; ++t) req.prompt.push_back((t * 7919 + i * 31) % vocab);
    req.sampling.temperature = i % 3 == 0 ? 0.0 : 0.9;
    req.sampling.top_k = i % 2 == 0 ? 20 : 0;
    req.sampling.top_p = 0.9;
    req.sampling.seed = 100 + i;
    req.sampling.repetition_penalty = i % 4 == 1 ? 1.3 : 1.0;
    req.sampling.frequency_penalty = i % 4 == 2 ? 0.5 : 0.0;
    req.sampling.logprobs = 1;
    req.sampling.top_logprobs = i % 2 == 0 ? 3 : 0;
    req.sampling.max_tokens = 5 + i;
    req.sampling.ignore_eos = true;
    collectors.push_back(std::make_unique<Collector>());
    ASSERT_TRUE(engine.Submit(std::move(req), collectors.back()->Callback()).ok());
  }
  for (int i = 0; i < 10; ++i) {
    const StreamUpdate last = collectors[i]->Wait();
    EXPECT_EQ(last.finish_reason, FinishReason::kLength) << "request " << i << ": " << last.error;
    EXPECT_EQ(collectors[i]->tokens().size(), static_cast<size_t>(5 + i)) << "request " << i;
    for (int64_t t : collectors[i]->tokens()) {
      EXPECT_GE(t, 0);
      EXPECT_LT(t, vocab);
    }
  }
  // Every state went back to the pools.
  EXPECT_EQ(model_->cache().num_free_slots(), free_before);
  EXPECT_GE(engine.Stats().steps, 10);
}

TEST_F(EngineCudaTest, AbortAndBadRequestsLeaveOthersRunning) {
  Engine& engine = StartEngine({.max_running = 2, .max_batched_tokens = 64});
  const int64_t vocab = model_->config().vocab_size;
  Collector slow, fine;
  GenerateRequest long_req{.request_id = "long", .prompt = {1, 2, 3}};
  long_req.sampling.max_tokens = 200;
  long_req.sampling.ignore_eos = true;
  ASSERT_TRUE(engine.Submit(std::move(long_req), slow.Callback()).ok());
  GenerateRequest bad{.request_id = "bad", .prompt = {1, vocab}};
  Collector unused;
  EXPECT_EQ(engine.Submit(std::move(bad), unused.Callback()).code(),
            absl::StatusCode::kInvalidArgument);
  slow.WaitForTokens(3);
  EXPECT_TRUE(engine.Abort("long"));
  EXPECT_EQ(slow.Wait().finish_reason, FinishReason::kAbort);
  GenerateRequest ok_req{.request_id = "fine", .prompt = {4, 5, 6, 7}};
  ok_req.sampling.max_tokens = 4;
  ok_req.sampling.ignore_eos = true;
  ASSERT_TRUE(engine.Submit(std::move(ok_req), fine.Callback()).ok());
  EXPECT_EQ(fine.Wait().finish_reason, FinishReason::kLength);
  EXPECT_EQ(fine.tokens().size(), 4u);
}

TEST_F(EngineCudaTest, PreemptionUnderAFullKvCacheFinishesEveryRequestAndFreesItsPages) {
  // 12 KV pages of 16 tokens (one kept for the decode graphs' padding rows) for three requests of
  // 40 + 40 tokens (5 pages each) admitted with 1 token of generation room: the cache runs out,
  // the newest requests are preempted and recomputed, and everything finishes and goes back.
  auto small = cuda::CudaTextModel::Load(*ctx_, dir_ / "model",
                                         {.max_batched_tokens = 256,
                                          .max_seqs = 8,
                                          .max_slots = 8,
                                          .num_pages = 12,
                                          .max_logits_rows = 8});
  ASSERT_TRUE(small.ok()) << small.status();
  model_ = std::move(*small);
  const int64_t free_pages = model_->cache().num_free_pages();
  const int64_t free_slots = model_->cache().num_free_slots();
  Engine& engine =
      StartEngine({.max_running = 4, .max_batched_tokens = 64, .decode_reserve_tokens = 1});
  const int64_t vocab = model_->config().vocab_size;
  std::vector<std::unique_ptr<Collector>> collectors;
  for (int i = 0; i < 3; ++i) {
    GenerateRequest req{.request_id = "p" + std::to_string(i)};
    for (int64_t t = 0; t < 40; ++t) req.prompt.push_back((t * 131 + i * 17) % vocab);
    req.sampling.temperature = 0.0;
    req.sampling.max_tokens = 40;
    req.sampling.ignore_eos = true;
    collectors.push_back(std::make_unique<Collector>());
    ASSERT_TRUE(engine.Submit(std::move(req), collectors.back()->Callback()).ok());
  }
  for (int i = 0; i < 3; ++i) {
    const StreamUpdate last = collectors[i]->Wait();
    EXPECT_EQ(last.finish_reason, FinishReason::kLength) << "request " << i << ": " << last.error;
    EXPECT_EQ(collectors[i]->tokens().size(), 40u) << "request " << i;
  }
  EXPECT_GT(engine.Stats().preemptions, 0);
  EXPECT_EQ(model_->cache().num_free_pages(), free_pages);
  EXPECT_EQ(model_->cache().num_free_slots(), free_slots);
}

}  // namespace
}  // namespace qwen::text
