// The CUDA text model on the GPU (each test skips without one): parity with Hugging Face on every
// committed `text` reference case under the bf16 criteria of agreement.h (both Gated DeltaNet
// kernel variants), batched == one at a time, chunked and token-by-token prefill == one prefill,
// slots and pages freed and reused, injected embedding rows, rejected bad batches and an
// oversized memory plan. GPU-vs-GPU comparisons use the same bf16 tolerance as GPU-vs-reference
// (two runs that round differently differ by bf16 noise, amplified by the same model).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <random>
#include <span>
#include <tuple>
#include <vector>

#include "core/cuda/device_context.h"
#include "core/safetensors.h"
#include "kernels/cuda/gdn_variant.h"
#include "tests/model/cuda/agreement.h"
#include "tests/model/cuda/bf16_oracle.h"
#include "tests/model/reference_case.h"
#include "text_service/model/cuda/cuda_text_model.h"
#include "text_service/model/cuda/greedy_decode.h"

namespace qwen::testing {
namespace {

namespace tc = ::qwen::text::cuda;
using kernels::cuda::GdnVariant;
using text::LogitsMode;

bool HaveGpu() { return core::cuda::CudaDeviceAvailable(0); }

#define SKIP_WITHOUT_GPU()                                                              \
  if (!HaveGpu()) {                                                                     \
    GTEST_SKIP() << "no CUDA device: the CUDA model tests run only on the GPU machine"; \
  }

std::unique_ptr<core::cuda::DeviceContext> MakeContext(GdnVariant variant = GdnVariant::kAuto) {
  auto ctx = core::cuda::DeviceContext::Create({.device = 0, .gdn_variant = variant});
  EXPECT_TRUE(ctx.ok()) << ctx.status();
  return ctx.ok() ? std::move(*ctx) : nullptr;
}

std::unique_ptr<tc::CudaTextModel> LoadModel(const core::cuda::DeviceContext& ctx,
                                             const std::filesystem::path& dir,
                                             const tc::CudaModelOptions& options) {
  auto m = tc::CudaTextModel::Load(ctx, dir, options);
  EXPECT_TRUE(m.ok()) << m.status();
  return m.ok() ? std::move(*m) : nullptr;
}

// Sizes for one sequence: a prompt of `prompt_tokens` run as one forward (all logits kept),
// pages for `total_tokens`.
tc::CudaModelOptions OneSequenceOptions(int64_t prompt_tokens, int64_t total_tokens) {
  return {.max_batched_tokens = prompt_tokens,
          .max_seqs = 1,
          .max_slots = 1,
          .num_pages = (total_tokens + 15) / 16,
          .max_logits_rows = prompt_tokens};
}

std::vector<int64_t> RandomIds(int64_t n, int64_t vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int64_t> dist(0, vocab - 1);
  std::vector<int64_t> ids(static_cast<size_t>(n));
  for (int64_t& id : ids) id = dist(rng);
  return ids;
}

// One forward of several sequences (spans in order); returns the logits.
core::Tensor RunBatch(tc::CudaTextModel& model, const std::vector<std::vector<int64_t>>& chunks,
                      const std::vector<tc::CudaSequence*>& seqs, LogitsMode mode) {
  std::vector<int64_t> ids;
  tc::CudaForwardBatch batch;
  for (size_t i = 0; i < chunks.size(); ++i) {
    batch.sequences.push_back(
        {.length = static_cast<int64_t>(chunks[i].size()), .sequence = seqs[i]});
    ids.insert(ids.end(), chunks[i].begin(), chunks[i].end());
  }
  batch.token_ids = ids;
  auto logits = model.Forward(batch, mode);
  EXPECT_TRUE(logits.ok()) << logits.status();
  return logits.ok() ? *logits : core::Tensor();
}

// The bf16 tolerance of a case (agreement.h), its noise measured by the CPU oracle.
Bf16Tolerance CaseTolerance(const std::filesystem::path& case_dir, float scale = 0.0f) {
  auto noise = MeasureCaseNoise(case_dir);
  EXPECT_TRUE(noise.ok()) << noise.status();
  if (!noise.ok()) return MakeTolerance(scale, 0.0f);
  return MakeTolerance(scale > 0.0f ? scale : noise->scale, noise->noise);
}

// Row `row` of a [rows, V] tensor.
const float* Row(const core::Tensor& t, int64_t row) { return t.data<float>() + row * t.dim(1); }

// ---------------------------------------------------------------------------------------------
// Parity with Hugging Face (shared/REFERENCE_CASES.md bf16 criteria).

using ParityParam = std::tuple<std::filesystem::path, GdnVariant>;

class CudaParityTest : public ::testing::TestWithParam<ParityParam> {};

TEST_P(CudaParityTest, MatchesTransformersInBf16) {
  SKIP_WITHOUT_GPU();
  const auto& [dir, variant] = GetParam();
  auto ctx = MakeContext(variant);
  ASSERT_NE(ctx, nullptr);
  std::vector<int64_t> prompt = ReadIds(dir / "inputs.safetensors", "input_ids");
  core::Tensor logits = ReadCaseTensor(dir / "expected.safetensors", "logits");
  core::Tensor step_logits = ReadCaseTensor(dir / "expected.safetensors", "step_logits");
  std::vector<int64_t> greedy = ReadIds(dir / "expected.safetensors", "greedy_ids");
  ASSERT_FALSE(prompt.empty());
  const int64_t t = static_cast<int64_t>(prompt.size()), g = static_cast<int64_t>(greedy.size());
  auto model = LoadModel(*ctx, dir / "model", OneSequenceOptions(t, t + g));
  ASSERT_NE(model, nullptr);
  const int64_t vocab = model->config().vocab_size;
  auto r = tc::GreedyDecode(*model, prompt, {.max_new_tokens = g});
  ASSERT_TRUE(r.ok()) << r.status();
  const Bf16Tolerance tol = CaseTolerance(dir);
  ASSERT_EQ(r->prefill_logits.numel(), logits.numel());
  const LogitsAgreement prefill =
      CompareLogits(r->prefill_logits.data<float>(), logits.data<float>(), t, vocab, tol);
  EXPECT_TRUE(prefill.ok()) << tol.Summary() << "\nprefill: " << prefill.Summary();
  const GreedyAgreement decode =
      CompareGreedy(r->ids, r->step_logits.data(), greedy, step_logits.data<float>(), vocab, tol);
  EXPECT_TRUE(decode.ok()) << tol.Summary() << "\ndecode: " << decode.Summary();
  std::cout << "[          ] " << dir.filename().string() << " ("
            << kernels::cuda::GdnVariantName(ctx->gdn_variant()) << "): " << tol.Summary()
            << "\n[          ]   prefill " << prefill.Summary() << "\n[          ]   "
            << decode.Summary() << std::endl;
  EXPECT_EQ(model->cache().num_free_slots(), 1);  // GreedyDecode released its sequence
  // Every page asked for is free again (the decode graphs' padding page comes on top).
  EXPECT_EQ(model->cache().num_free_pages(), (t + g + 15) / 16);
}

std::string ParityName(const ::testing::TestParamInfo<ParityParam>& info) {
  return std::get<0>(info.param).filename().string() + "_" +
         kernels::cuda::GdnVariantName(std::get<1>(info.param));
}

INSTANTIATE_TEST_SUITE_P(Reference, CudaParityTest,
                         ::testing::Combine(::testing::ValuesIn(FindCases("text_")),
                                            ::testing::Values(GdnVariant::kDefault,
                                                              GdnVariant::kGb10)),
                         ParityName);

// ---------------------------------------------------------------------------------------------
// Batching, chunking, state lifecycle (model of text_cond_untied_hv2: 8 layers, Hv/Hk = 2).

class CudaModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIP_WITHOUT_GPU();
    ctx_ = MakeContext();
    ASSERT_NE(ctx_, nullptr);
  }
  static std::filesystem::path CaseDir(const char* name) { return ReferenceRoot() / name; }

  std::unique_ptr<core::cuda::DeviceContext> ctx_;
};

TEST_F(CudaModelTest, ChunkedAndTokenByTokenPrefillMatchOnePrefill) {
  const std::filesystem::path dir = CaseDir("text_cond_untied_hv2");
  std::vector<int64_t> prompt = ReadIds(dir / "inputs.safetensors", "input_ids");
  const int64_t t = static_cast<int64_t>(prompt.size()), g = 8;
  auto model = LoadModel(*ctx_, dir / "model", OneSequenceOptions(t, t + g));
  ASSERT_NE(model, nullptr);
  const int64_t vocab = model->config().vocab_size;
  auto whole = tc::GreedyDecode(*model, prompt, {.max_new_tokens = g});
  ASSERT_TRUE(whole.ok()) << whole.status();
  const Bf16Tolerance tol = CaseTolerance(
      dir, MaxAbs(whole->prefill_logits.data<float>(), whole->prefill_logits.numel()));
  // 64: exactly one delta-rule chunk per forward; 37: chunks straddling the kernel's chunks;
  // 1: every prompt token after the first through the decode kernels.
  for (int64_t chunk : {64, 37, 1}) {
    auto r = tc::GreedyDecode(*model, prompt, {.max_new_tokens = g, .prefill_chunk = chunk});
    ASSERT_TRUE(r.ok()) << r.status();
    const LogitsAgreement prefill = CompareLogits(
        r->prefill_logits.data<float>(), whole->prefill_logits.data<float>(), t, vocab, tol);
    EXPECT_TRUE(prefill.ok()) << "chunk " << chunk << ": " << prefill.Summary();
    const GreedyAgreement decode = CompareGreedy(r->ids, r->step_logits.data(), whole->ids,
                                                 whole->step_logits.data(), vocab, tol);
    EXPECT_TRUE(decode.ok()) << "chunk " << chunk << ": " << decode.Summary();
    std::cout << "[          ] prefill chunk " << chunk << " vs one prefill: " << prefill.Summary()
              << "; " << decode.Summary() << std::endl;
  }
}

TEST_F(CudaModelTest, BatchEqualsOneAtATimeThroughPrefillAndDecode) {
  const std::filesystem::path dir = CaseDir("text_cond_untied_hv2");
  auto model = LoadModel(*ctx_, dir / "model",
                         {.max_batched_tokens = 512,
                          .max_seqs = 8,
                          .max_slots = 8,
                          .num_pages = 96,
                          .max_logits_rows = 64});
  ASSERT_NE(model, nullptr);
  const int64_t vocab = model->config().vocab_size;
  // Lengths straddle the 64-token chunk and include a single-token prompt.
  const std::vector<std::vector<int64_t>> prompts = {
      ReadIds(dir / "inputs.safetensors", "input_ids"), RandomIds(17, vocab, 1),
      RandomIds(1, vocab, 2), RandomIds(64, vocab, 3)};
  const int64_t num = static_cast<int64_t>(prompts.size());
  const std::vector<std::vector<int64_t>> decode_tokens = {
      RandomIds(3, vocab, 10), RandomIds(3, vocab, 11), RandomIds(3, vocab, 12),
      RandomIds(3, vocab, 13)};
  const std::vector<int64_t> extra = RandomIds(20, vocab, 14);  // a continuation chunk

  // One at a time: prefill (all rows), 3 decode steps, then one mixed step.
  std::vector<core::Tensor> alone_prefill, alone_steps;
  for (int64_t i = 0; i < num; ++i) {
    auto seq = model->NewSequence();
    ASSERT_TRUE(seq.ok()) << seq.status();
    alone_prefill.push_back(RunBatch(*model, {prompts[i]}, {&*seq}, LogitsMode::kAll));
    core::Tensor steps = core::Tensor::Zeros({4, vocab}, core::DType::kF32);
    for (int64_t k = 0; k < 3; ++k) {
      core::Tensor l = RunBatch(*model, {{decode_tokens[i][k]}}, {&*seq}, LogitsMode::kLast);
      std::copy(Row(l, 0), Row(l, 0) + vocab, steps.data<float>() + k * vocab);
    }
    // Mixed step: sequence 0 decodes one more token while sequence 3 continues by 20 tokens.
    if (i == 0 || i == 3) {
      core::Tensor l = RunBatch(*model, {i == 0 ? std::vector<int64_t>{extra[0]} : extra}, {&*seq},
                                LogitsMode::kLast);
      std::copy(Row(l, 0), Row(l, 0) + vocab, steps.data<float>() + 3 * vocab);
    }
    alone_steps.push_back(steps);
  }
  ASSERT_EQ(model->cache().num_free_slots(), 8);

  std::vector<tc::CudaSequence> seqs;
  std::vector<tc::CudaSequence*> ptrs;
  for (int64_t i = 0; i < num; ++i) {
    auto seq = model->NewSequence();
    ASSERT_TRUE(seq.ok()) << seq.status();
    seqs.push_back(std::move(*seq));
  }
  for (auto& s : seqs) ptrs.push_back(&s);
  const core::Tensor batched = RunBatch(*model, prompts, ptrs, LogitsMode::kAll);
  ASSERT_FALSE(batched.empty());
  const Bf16Tolerance tol =
      CaseTolerance(dir, MaxAbs(alone_prefill[0].data<float>(), alone_prefill[0].numel()));
  int64_t row = 0;
  for (int64_t i = 0; i < num; ++i) {
    const int64_t len = static_cast<int64_t>(prompts[i].size());
    const LogitsAgreement a =
        CompareLogits(Row(batched, row), alone_prefill[i].data<float>(), len, vocab, tol);
    EXPECT_TRUE(a.ok()) << "prefill of sequence " << i << ": " << a.Summary();
    row += len;
  }
  for (int64_t k = 0; k < 3; ++k) {  // pure decode steps: the recurrent / decode kernels
    std::vector<std::vector<int64_t>> tokens;
    for (int64_t i = 0; i < num; ++i) tokens.push_back({decode_tokens[i][k]});
    const core::Tensor l = RunBatch(*model, tokens, ptrs, LogitsMode::kLast);
    ASSERT_EQ(l.dim(0), num);
    for (int64_t i = 0; i < num; ++i) {
      const LogitsAgreement a = CompareLogits(Row(l, i), Row(alone_steps[i], k), 1, vocab, tol);
      EXPECT_TRUE(a.ok()) << "decode step " << k << " of sequence " << i << ": " << a.Summary();
    }
  }
  // A mixed step (one decode token + a 20-token continuation) runs the varlen kernels.
  const core::Tensor mixed =
      RunBatch(*model, {{extra[0]}, extra}, {ptrs[0], ptrs[3]}, LogitsMode::kLast);
  ASSERT_EQ(mixed.dim(0), 2);
  for (int64_t j = 0; j < 2; ++j) {
    const int64_t i = j == 0 ? 0 : 3;
    const LogitsAgreement a = CompareLogits(Row(mixed, j), Row(alone_steps[i], 3), 1, vocab, tol);
    EXPECT_TRUE(a.ok()) << "mixed step, sequence " << i << ": " << a.Summary();
  }
  EXPECT_EQ(seqs[0].num_tokens(), static_cast<int64_t>(prompts[0].size()) + 4);
  EXPECT_EQ(seqs[3].num_tokens(), 64 + 3 + 20);
}

TEST_F(CudaModelTest, SlotsAndPagesAreFreedAndReused) {
  const std::filesystem::path dir = CaseDir("text_causal_tied_hv1");
  std::vector<int64_t> prompt = ReadIds(dir / "inputs.safetensors", "input_ids");  // 65 tokens
  auto model = LoadModel(*ctx_, dir / "model",
                         {.max_batched_tokens = 128,
                          .max_seqs = 2,
                          .max_slots = 2,
                          .num_pages = 5,
                          .max_logits_rows = 2});
  ASSERT_NE(model, nullptr);
  const int64_t vocab = model->config().vocab_size;
  auto a = model->NewSequence();
  auto b = model->NewSequence();
  ASSERT_TRUE(a.ok() && b.ok());
  auto c = model->NewSequence();
  EXPECT_EQ(c.status().code(), absl::StatusCode::kResourceExhausted) << c.status();

  const core::Tensor first = RunBatch(*model, {prompt}, {&*a}, LogitsMode::kLast);  // 5 pages
  ASSERT_FALSE(first.empty());
  EXPECT_EQ(a->pages().size(), 5u);
  EXPECT_EQ(model->cache().num_free_pages(), 0);
  // b needs a page and none is free: rejected before anything runs, nothing changes.
  const int64_t one[1] = {prompt[0]};
  auto full = model->Forward({.token_ids = one, .sequences = {{.length = 1, .sequence = &*b}}},
                             LogitsMode::kLast);
  EXPECT_EQ(full.status().code(), absl::StatusCode::kResourceExhausted) << full.status();
  EXPECT_EQ(b->num_tokens(), 0);
  EXPECT_TRUE(b->pages().empty());
  // a decodes into its last page (65 -> 80 tokens), then needs a sixth page.
  for (int64_t k = 0; k < 15; ++k) {
    const int64_t tok[1] = {prompt[static_cast<size_t>(k)]};
    auto l = model->Forward({.token_ids = tok, .sequences = {{.length = 1, .sequence = &*a}}},
                            LogitsMode::kLast);
    ASSERT_TRUE(l.ok()) << l.status();
  }
  EXPECT_EQ(a->num_tokens(), 80);
  auto over = model->Forward({.token_ids = one, .sequences = {{.length = 1, .sequence = &*a}}},
                             LogitsMode::kLast);
  EXPECT_EQ(over.status().code(), absl::StatusCode::kResourceExhausted) << over.status();
  EXPECT_EQ(a->num_tokens(), 80);

  // Freeing a returns its slot and pages; a new sequence reuses them (the slot and pages hold a's
  // stale state, which must not leak into the new sequence).
  const int32_t old_slot = a->slot();
  a->Release();
  EXPECT_EQ(model->cache().num_free_pages(), 5);
  EXPECT_EQ(model->cache().num_free_slots(), 1);
  auto d = model->NewSequence();
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->slot(), old_slot);
  const core::Tensor again = RunBatch(*model, {prompt}, {&*d}, LogitsMode::kLast);
  ASSERT_FALSE(again.empty());
  const float scale = MaxAbs(first.data<float>(), first.numel());
  EXPECT_LE(MaxAbsDiff(again.data<float>(), first.data<float>(), vocab), 1e-3f * scale)
      << "a reused slot / reused pages changed the result";
  b->Release();
  d->Release();
  EXPECT_EQ(model->cache().num_free_slots(), 2);
  EXPECT_EQ(model->cache().num_free_pages(), 5);
}

TEST_F(CudaModelTest, InjectedRowsAndExplicitPositionsActLikeTokens) {
  const std::filesystem::path dir = CaseDir("text_cond_tied_hv3_chunk64");
  std::vector<int64_t> prompt = ReadIds(dir / "inputs.safetensors", "input_ids");
  const int64_t t = static_cast<int64_t>(prompt.size());
  auto model = LoadModel(*ctx_, dir / "model", OneSequenceOptions(t, t));
  ASSERT_NE(model, nullptr);
  const int64_t vocab = model->config().vocab_size, h = model->config().hidden_size;
  // The prompt with tokens 3..7 replaced, run by id ...
  std::vector<int64_t> replaced = prompt;
  const std::vector<int64_t> others = RandomIds(5, vocab, 7);
  for (int64_t i = 0; i < 5; ++i)
    replaced[static_cast<size_t>(3 + i)] = others[static_cast<size_t>(i)];
  auto s1 = model->NewSequence();
  ASSERT_TRUE(s1.ok());
  const core::Tensor by_id = RunBatch(*model, {replaced}, {&*s1}, LogitsMode::kAll);
  s1->Release();
  // ... and run with the original ids plus those tokens' embedding rows injected, and explicit
  // (text) positions.
  auto ckpt = core::Checkpoint::Open(dir / "model");
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  auto table = ckpt->Get(model->model_config().text_weight_prefix + "embed_tokens.weight");
  ASSERT_TRUE(table.ok()) << table.status();
  const core::Tensor table_f32 = table->ToF32();
  std::vector<float> rows;
  for (int64_t id : others) {
    rows.insert(rows.end(), table_f32.data<float>() + id * h,
                table_f32.data<float>() + (id + 1) * h);
  }
  std::vector<int32_t> index(static_cast<size_t>(t), -1);
  for (int32_t i = 0; i < 5; ++i) index[static_cast<size_t>(3 + i)] = i;
  std::vector<int64_t> positions(static_cast<size_t>(3 * t));
  for (int64_t i = 0; i < 3 * t; ++i) positions[static_cast<size_t>(i)] = i % t;
  auto s2 = model->NewSequence();
  ASSERT_TRUE(s2.ok());
  tc::CudaForwardBatch batch{.token_ids = prompt,
                             .positions = positions,
                             .sequences = {{.length = t, .sequence = &*s2}},
                             .embed_rows = rows,
                             .embed_index = index};
  auto injected = model->Forward(batch, LogitsMode::kAll);
  ASSERT_TRUE(injected.ok()) << injected.status();
  const float scale = MaxAbs(by_id.data<float>(), by_id.numel());
  EXPECT_LE(MaxAbsDiff(injected->data<float>(), by_id.data<float>(), by_id.numel()), 1e-4f * scale);
}

TEST_F(CudaModelTest, BadBatchesAreRejectedBeforeAnythingRuns) {
  const std::filesystem::path dir = CaseDir("text_causal_tied_hv1");
  auto model = LoadModel(*ctx_, dir / "model",
                         {.max_batched_tokens = 16,
                          .max_seqs = 2,
                          .max_slots = 2,
                          .num_pages = 8,
                          .max_logits_rows = 16});
  ASSERT_NE(model, nullptr);
  const int64_t vocab = model->config().vocab_size;
  auto seq = model->NewSequence();
  ASSERT_TRUE(seq.ok());
  auto expect_invalid = [&](const tc::CudaForwardBatch& batch, const char* what) {
    auto r = model->Forward(batch, LogitsMode::kLast);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << what << ": " << r.status();
    EXPECT_EQ(seq->num_tokens(), 0) << what;
    EXPECT_TRUE(seq->pages().empty()) << what;
  };
  const std::vector<int64_t> bad_id = {1, vocab, 2};
  expect_invalid({.token_ids = bad_id, .sequences = {{.length = 3, .sequence = &*seq}}},
                 "token id == vocab");
  const std::vector<int64_t> too_many = RandomIds(17, vocab, 3);
  expect_invalid({.token_ids = too_many, .sequences = {{.length = 17, .sequence = &*seq}}},
                 "more tokens than max_batched_tokens");
  const std::vector<int64_t> ids = RandomIds(4, vocab, 4);
  expect_invalid({.token_ids = ids, .sequences = {{.length = 3, .sequence = &*seq}}},
                 "spans cover 3 of 4 rows");
  expect_invalid(
      {.token_ids = ids,
       .sequences = {{.length = 2, .sequence = &*seq}, {.length = 2, .sequence = &*seq}}},
      "the same sequence twice");
  const std::vector<int64_t> short_positions = {0, 1, 2};
  expect_invalid({.token_ids = ids,
                  .positions = short_positions,
                  .sequences = {{.length = 4, .sequence = &*seq}}},
                 "positions not 3 x N");
  // A sequence of another model.
  auto other = LoadModel(*ctx_, dir / "model",
                         {.max_batched_tokens = 4,
                          .max_seqs = 1,
                          .max_slots = 1,
                          .num_pages = 1,
                          .max_logits_rows = 1});
  ASSERT_NE(other, nullptr);
  auto foreign = other->NewSequence();
  ASSERT_TRUE(foreign.ok());
  expect_invalid({.token_ids = ids, .sequences = {{.length = 4, .sequence = &*foreign}}},
                 "a sequence of another model");
  // The model still works.
  auto ok = model->Forward({.token_ids = ids, .sequences = {{.length = 4, .sequence = &*seq}}},
                           LogitsMode::kLast);
  EXPECT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(seq->num_tokens(), 4);
}

TEST_F(CudaModelTest, OversizedPlanIsResourceExhaustedAndFractionSizesThePools) {
  const std::filesystem::path dir = CaseDir("text_causal_tied_hv1") / "model";
  auto huge = tc::CudaTextModel::Load(
      *ctx_, dir, {.max_batched_tokens = 64, .max_slots = 1, .num_pages = 1'000'000'000});
  EXPECT_EQ(huge.status().code(), absl::StatusCode::kResourceExhausted) << huge.status();
  EXPECT_NE(huge.status().message().find("MiB"), std::string_view::npos) << huge.status();
  auto many_tokens = tc::CudaTextModel::Load(
      *ctx_, dir, {.max_batched_tokens = int64_t{1} << 34, .max_slots = 1, .num_pages = 1});
  EXPECT_EQ(many_tokens.status().code(), absl::StatusCode::kResourceExhausted)
      << many_tokens.status();

  auto sized = tc::CudaTextModel::Load(
      *ctx_, dir, {.max_batched_tokens = 256, .max_seqs = 16, .gpu_memory_fraction = 0.05});
  ASSERT_TRUE(sized.ok()) << sized.status();
  const tc::MemoryPlan& plan = (*sized)->memory_plan();
  std::cout << "[          ] gpu_memory_fraction 0.05: " << plan.Describe() << std::endl;
  // Capped at max_seqs (the tiny model's slots are cheap), plus the decode graphs' padding slot:
  // all 16 sequences can run.
  EXPECT_EQ(plan.max_slots, 17);
  EXPECT_EQ((*sized)->cache().num_free_slots(), 16);
  EXPECT_GT(plan.num_pages, 1000);
  auto seq = (*sized)->NewSequence();
  ASSERT_TRUE(seq.ok());
  const std::vector<int64_t> ids = RandomIds(100, (*sized)->config().vocab_size, 9);
  auto r = (*sized)->Forward({.token_ids = ids, .sequences = {{.length = 100, .sequence = &*seq}}},
                             LogitsMode::kLast);
  EXPECT_TRUE(r.ok()) << r.status();
}

// ---------------------------------------------------------------------------------------------
// Decode CUDA graphs and GPU sampling.

// Prefills `prompts` (one forward each) into fresh sequences of `model`.
std::vector<tc::CudaSequence> Prefill(tc::CudaTextModel& model,
                                      const std::vector<std::vector<int64_t>>& prompts) {
  std::vector<tc::CudaSequence> seqs;
  for (const auto& p : prompts) {
    auto seq = model.NewSequence();
    EXPECT_TRUE(seq.ok()) << seq.status();
    if (!seq.ok()) return {};
    seqs.push_back(std::move(*seq));
    RunBatch(model, {p}, {&seqs.back()}, LogitsMode::kLast);
  }
  return seqs;
}

std::vector<tc::CudaSequence*> Pointers(std::vector<tc::CudaSequence>& seqs) {
  std::vector<tc::CudaSequence*> ptrs;
  for (auto& s : seqs) ptrs.push_back(&s);
  return ptrs;
}

TEST_F(CudaModelTest, DecodeGraphsMatchEagerDecodeThroughPaddingAndReplays) {
  const std::filesystem::path dir = CaseDir("text_cond_untied_hv2");
  const tc::CudaModelOptions options{.max_batched_tokens = 256,
                                     .max_seqs = 8,
                                     .max_slots = 8,
                                     .num_pages = 64,
                                     .max_logits_rows = 8};
  auto graphs = LoadModel(*ctx_, dir / "model", options);
  tc::CudaModelOptions eager_options = options;
  eager_options.cuda_graphs = false;
  auto eager = LoadModel(*ctx_, dir / "model", eager_options);
  ASSERT_NE(graphs, nullptr);
  ASSERT_NE(eager, nullptr);
  // Both hand out the slots that were asked for: the padding row's slot comes on top.
  EXPECT_EQ(graphs->cache().num_free_slots(), 8);
  EXPECT_EQ(eager->cache().num_free_slots(), 8);
  const int64_t vocab = graphs->config().vocab_size;
  // 3 sequences (padded to the bucket of 4), then 5 (bucket 8), with contexts crossing a page.
  const std::vector<std::vector<int64_t>> prompts = {
      ReadIds(dir / "inputs.safetensors", "input_ids"), RandomIds(15, vocab, 21),
      RandomIds(1, vocab, 22), RandomIds(30, vocab, 23), RandomIds(7, vocab, 24)};
  std::vector<tc::CudaSequence> gs = Prefill(*graphs, prompts);
  std::vector<tc::CudaSequence> es = Prefill(*eager, prompts);
  ASSERT_EQ(gs.size(), prompts.size());
  auto gp = Pointers(gs), ep = Pointers(es);
  const Bf16Tolerance tol = CaseTolerance(dir);
  for (size_t num : {size_t{3}, size_t{5}}) {
    std::vector<tc::CudaSequence*> g(gp.begin(), gp.begin() + num), e(ep.begin(), ep.begin() + num);
    for (int step = 0; step < 6; ++step) {
      std::vector<std::vector<int64_t>> tokens;
      for (size_t i = 0; i < num; ++i) tokens.push_back(RandomIds(1, vocab, 100 * step + i));
      const core::Tensor lg = RunBatch(*graphs, tokens, g, LogitsMode::kLast);
      const core::Tensor le = RunBatch(*eager, tokens, e, LogitsMode::kLast);
      ASSERT_EQ(lg.dim(0), static_cast<int64_t>(num));
      const LogitsAgreement a =
          CompareLogits(lg.data<float>(), le.data<float>(), static_cast<int64_t>(num), vocab, tol);
      EXPECT_TRUE(a.ok()) << num << " sequences, step " << step << ": " << a.Summary();
    }
  }
  EXPECT_EQ(graphs->num_decode_graphs(), 2);  // batch buckets 4 and 8, one width bucket
  EXPECT_EQ(eager->num_decode_graphs(), 0);
  for (size_t i = 0; i < gs.size(); ++i) EXPECT_EQ(gs[i].num_tokens(), es[i].num_tokens());
}

TEST_F(CudaModelTest, GpuSamplingPicksTheArgmaxAndReportsLogprobs) {
  const std::filesystem::path dir = CaseDir("text_cond_untied_hv2");
  const tc::CudaModelOptions options{.max_batched_tokens = 256,
                                     .max_seqs = 4,
                                     .max_slots = 4,
                                     .num_pages = 32,
                                     .max_logits_rows = 4};
  auto a = LoadModel(*ctx_, dir / "model", options);
  auto b = LoadModel(*ctx_, dir / "model", options);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  const int64_t vocab = a->config().vocab_size;
  const std::vector<std::vector<int64_t>> prompts = {
      RandomIds(20, vocab, 31), RandomIds(5, vocab, 32), RandomIds(70, vocab, 33)};
  std::vector<tc::CudaSequence> as, bs;
  for (size_t i = 0; i < prompts.size(); ++i) {
    as.push_back(std::move(*a->NewSequence()));
    bs.push_back(std::move(*b->NewSequence()));
  }
  auto ap = Pointers(as), bp = Pointers(bs);
  std::vector<kernels::cuda::SamplingRowParams> greedy(prompts.size());
  for (auto& r : greedy) r.temperature = 0.0;
  // Prefill (eager varlen path), then decode steps (graph path), each checked against Forward.
  std::vector<std::vector<int64_t>> next = prompts;
  for (int step = 0; step < 4; ++step) {
    const core::Tensor logits = RunBatch(*a, next, ap, LogitsMode::kLast);
    std::vector<int64_t> ids;
    tc::CudaForwardBatch batch;
    for (size_t i = 0; i < next.size(); ++i) {
      batch.sequences.push_back(
          {.length = static_cast<int64_t>(next[i].size()), .sequence = bp[i]});
      ids.insert(ids.end(), next[i].begin(), next[i].end());
    }
    batch.token_ids = ids;
    auto sampled = b->ForwardSample(batch, {.rows = greedy, .num_top_logprobs = 3});
    ASSERT_TRUE(sampled.ok()) << sampled.status();
    ASSERT_EQ(sampled->tokens.size(), prompts.size());
    for (size_t i = 0; i < prompts.size(); ++i) {
      const float* row = Row(logits, static_cast<int64_t>(i));
      const int64_t best = tc::ArgMax(row, vocab);
      EXPECT_EQ(sampled->tokens[i], best) << "step " << step << ", sequence " << i;
      double sum = 0.0;
      for (int64_t v = 0; v < vocab; ++v) sum += std::exp(double(row[v]) - double(row[best]));
      const double logprob = -std::log(sum);  // log_softmax at the argmax
      EXPECT_NEAR(sampled->logprobs[i], logprob, 1e-3) << "step " << step << ", sequence " << i;
      EXPECT_EQ(sampled->top_tokens[i * 3], best);
      EXPECT_GE(sampled->top_logprobs[i * 3], sampled->top_logprobs[i * 3 + 1]);
      EXPECT_GE(sampled->top_logprobs[i * 3 + 1], sampled->top_logprobs[i * 3 + 2]);
      next[i] = {best};
    }
  }
  EXPECT_GE(b->num_decode_graphs(), 1);

  // Seeded sampling is reproducible and stays inside top-k; bad parameters change nothing.
  std::vector<kernels::cuda::SamplingRowParams> seeded(prompts.size());
  for (size_t i = 0; i < seeded.size(); ++i) {
    seeded[i] = {.temperature = 0.8, .top_p = 0.9, .top_k = 5, .seed = 7 + i, .step = 4};
  }
  std::vector<int64_t> ids;
  tc::CudaForwardBatch batch;
  for (size_t i = 0; i < next.size(); ++i) {
    batch.sequences.push_back({.length = 1, .sequence = ap[i]});
    ids.push_back(next[i][0]);
  }
  batch.token_ids = ids;
  std::vector<kernels::cuda::SamplingRowParams> bad = seeded;
  bad[1].top_p = 0.0;
  auto rejected = a->ForwardSample(batch, {.rows = bad});
  EXPECT_EQ(rejected.status().code(), absl::StatusCode::kInvalidArgument) << rejected.status();
  auto short_rows = a->ForwardSample(batch, {.rows = std::span(seeded).first(2)});
  EXPECT_EQ(short_rows.status().code(), absl::StatusCode::kInvalidArgument);
  const std::vector<int32_t> offsets = {0, 1, 1, 2}, tokens = {3, int32_t(vocab)}, counts = {1, 0};
  auto bad_penalty = a->ForwardSample(batch, {.rows = seeded,
                                              .penalty_offsets = offsets,
                                              .penalty_tokens = tokens,
                                              .penalty_counts = counts});
  EXPECT_EQ(bad_penalty.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(as[0].num_tokens(), bs[0].num_tokens());  // nothing ran
  auto sa = a->ForwardSample(batch, {.rows = seeded, .num_top_logprobs = 5});
  for (auto& span : batch.sequences) span.sequence = bp[&span - batch.sequences.data()];
  auto sb = b->ForwardSample(batch, {.rows = seeded, .num_top_logprobs = 5});
  ASSERT_TRUE(sa.ok()) << sa.status();
  ASSERT_TRUE(sb.ok()) << sb.status();
  EXPECT_EQ(sa->tokens, sb->tokens);
  for (size_t i = 0; i < prompts.size(); ++i) {
    const auto top = std::span(sa->top_tokens).subspan(i * 5, 5);
    EXPECT_NE(std::find(top.begin(), top.end(), sa->tokens[i]), top.end())
        << "sequence " << i << " sampled outside its top-5";
  }
}

}  // namespace
}  // namespace qwen::testing
