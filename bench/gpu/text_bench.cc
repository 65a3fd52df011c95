#include "bench/gpu/text_bench.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>

#include "absl/strings/str_cat.h"
#include "bench/gpu/timing.h"
#include "core/status.h"
#include "text_service/model/cuda/cuda_text_model.h"

namespace qwen::bench {
namespace {

namespace tc = ::qwen::text::cuda;

std::vector<int64_t> RandomIds(int64_t n, int64_t vocab, std::mt19937_64& rng) {
  std::uniform_int_distribution<int64_t> dist(0, vocab - 1);
  std::vector<int64_t> ids(static_cast<size_t>(n));
  for (int64_t& id : ids) id = dist(rng);
  return ids;
}

int64_t Pages(int64_t tokens) { return (tokens + tc::kPageSize - 1) / tc::kPageSize; }

// One greedy step over `seqs`, feeding `ids` (concatenated spans of `lengths`); returns the
// sampled tokens.
absl::StatusOr<std::vector<int32_t>> Step(tc::CudaTextModel& model,
                                          const std::vector<tc::CudaSequence*>& seqs,
                                          const std::vector<int64_t>& lengths,
                                          const std::vector<int64_t>& ids) {
  tc::CudaForwardBatch batch{.token_ids = ids};
  for (size_t i = 0; i < seqs.size(); ++i) {
    batch.sequences.push_back({.length = lengths[i], .sequence = seqs[i]});
  }
  std::vector<kernels::cuda::SamplingRowParams> rows(seqs.size());
  for (auto& r : rows) r.temperature = 0.0;
  QWEN_ASSIGN_OR_RETURN(tc::CudaSampled s, model.ForwardSample(batch, {.rows = rows}));
  return std::move(s.tokens);
}

}  // namespace

absl::StatusOr<TextBenchResult> RunTextBench(const core::cuda::DeviceContext& ctx,
                                             const TextBenchOptions& o) {
  if (o.new_tokens < 2 || o.decode_prompt_len < 1 || o.repeats < 1) {
    return absl::InvalidArgumentError(
        "new_tokens must be >= 2, decode_prompt_len and repeats >= 1");
  }
  const int64_t max_prompt = std::max(
      o.decode_prompt_len,
      o.prompt_lens.empty() ? 0 : *std::max_element(o.prompt_lens.begin(), o.prompt_lens.end()));
  const int64_t max_batch =
      o.batches.empty() ? 1 : *std::max_element(o.batches.begin(), o.batches.end());
  const int64_t context = std::max(max_prompt + 1, o.decode_prompt_len + o.new_tokens);
  // Caches for the largest configuration (sequences are released between configurations).
  const int64_t pages =
      std::max(Pages(max_prompt + 1), max_batch * Pages(o.decode_prompt_len + o.new_tokens)) + 8;
  const tc::CudaModelOptions options{.max_batched_tokens = std::max<int64_t>(max_prompt, 2048),
                                     .max_seqs = std::max<int64_t>(max_batch, 1),
                                     .max_slots = std::max<int64_t>(max_batch, 1),
                                     .num_pages = pages,
                                     .max_context = context,
                                     .max_logits_rows = std::max<int64_t>(max_batch, 1),
                                     .cuda_graphs = o.cuda_graphs};
  size_t free0 = 0, total = 0;
  QWEN_RETURN_IF_ERROR(ctx.MemoryInfo(&free0, &total));

  TextBenchResult r;
  const Clock::time_point t_load = Clock::now();
  QWEN_ASSIGN_OR_RETURN(std::unique_ptr<tc::CudaTextModel> model,
                        tc::CudaTextModel::Load(ctx, o.model_dir, options));
  r.load_s = MsSince(t_load) / 1000.0;
  r.memory_plan = model->memory_plan().Describe();
  std::fprintf(stderr, "[bench] text model loaded in %.1f s: %s\n", r.load_s,
               r.memory_plan.c_str());
  const int64_t vocab = model->config().vocab_size;
  std::mt19937_64 rng(o.seed);

  for (int64_t len : o.prompt_lens) {
    std::vector<double> ms;
    for (int rep = 0; rep <= o.repeats; ++rep) {  // rep 0: warm-up
      const std::vector<int64_t> ids = RandomIds(len, vocab, rng);
      QWEN_ASSIGN_OR_RETURN(tc::CudaSequence seq, model->NewSequence());
      const Clock::time_point t0 = Clock::now();
      QWEN_RETURN_IF_ERROR(Step(*model, {&seq}, {len}, ids).status());
      if (rep > 0) ms.push_back(MsSince(t0));
    }
    r.prefill.push_back({.tokens = len, .ms = Median(ms)});
    std::fprintf(stderr, "[bench] prefill %lld tokens: %.2f ms (median of %d)\n",
                 static_cast<long long>(len), r.prefill.back().ms, o.repeats);
  }

  for (int64_t b : o.batches) {
    DecodeTiming d{.batch = b, .prompt_tokens = o.decode_prompt_len, .new_tokens = o.new_tokens};
    std::vector<tc::CudaSequence> seqs;
    std::vector<tc::CudaSequence*> ptrs;
    for (int64_t i = 0; i < b; ++i) {
      QWEN_ASSIGN_OR_RETURN(tc::CudaSequence s, model->NewSequence());
      seqs.push_back(std::move(s));
    }
    for (auto& s : seqs) ptrs.push_back(&s);
    // Prefill as many whole prompts per forward as max_batched_tokens allows.
    const int64_t per_forward =
        std::max<int64_t>(1, options.max_batched_tokens / o.decode_prompt_len);
    std::vector<int64_t> next(static_cast<size_t>(b));
    const Clock::time_point t_prefill = Clock::now();
    for (int64_t i0 = 0; i0 < b; i0 += per_forward) {
      const int64_t m = std::min(per_forward, b - i0);
      const std::vector<int64_t> ids = RandomIds(m * o.decode_prompt_len, vocab, rng);
      QWEN_ASSIGN_OR_RETURN(
          std::vector<int32_t> first,
          Step(*model, std::vector<tc::CudaSequence*>(ptrs.begin() + i0, ptrs.begin() + i0 + m),
               std::vector<int64_t>(static_cast<size_t>(m), o.decode_prompt_len), ids));
      for (int64_t i = 0; i < m; ++i) next[static_cast<size_t>(i0 + i)] = first[i];
    }
    d.prefill_ms = MsSince(t_prefill);
    const std::vector<int64_t> ones(static_cast<size_t>(b), 1);
    Clock::time_point t0 = Clock::now();
    for (int64_t step = 0; step + 1 < o.new_tokens; ++step) {
      QWEN_ASSIGN_OR_RETURN(std::vector<int32_t> sampled, Step(*model, ptrs, ones, next));
      std::copy(sampled.begin(), sampled.end(), next.begin());
      if (step == 0) {
        d.first_step_ms = MsSince(t0);
        t0 = Clock::now();
      }
    }
    // The first token came from the prefill, the first decode step is reported apart: the timed
    // steps produced new_tokens - 2 tokens per sequence.
    d.decode_ms = MsSince(t0);
    const double tokens = static_cast<double>(b) * static_cast<double>(o.new_tokens - 2);
    d.tok_s_total = tokens / (d.decode_ms / 1000.0);
    d.tok_s_per_seq = d.tok_s_total / static_cast<double>(b);
    r.decode.push_back(d);
    std::fprintf(stderr,
                 "[bench] decode batch %lld: %.1f tok/s total, %.1f tok/s per sequence "
                 "(%.3f ms/step; prefill %.1f ms, first step %.1f ms)\n",
                 static_cast<long long>(b), d.tok_s_total, d.tok_s_per_seq,
                 d.decode_ms / static_cast<double>(o.new_tokens - 2), d.prefill_ms,
                 d.first_step_ms);
  }
  r.decode_graphs = model->num_decode_graphs();
  size_t free1 = 0;
  QWEN_RETURN_IF_ERROR(ctx.MemoryInfo(&free1, &total));
  r.peak_memory_gib = static_cast<double>(free0 > free1 ? free0 - free1 : 0) / (1 << 30);
  return r;
}

}  // namespace qwen::bench
