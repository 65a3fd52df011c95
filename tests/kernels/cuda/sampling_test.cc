// GPU sampler (kernels/cuda/sampling.h) against the CPU sampler (text_service/engine/sampler.cc,
// compiled into this test). The draw itself cannot equal the CPU's (different random streams), so:
//   * greedy rows (and top_k = 1 rows, for any seed) give exactly the CPU's token, penalties
//     included (penalties are checked through greedy), ties broken to the first index;
//   * the raw logprob of the chosen token and the top-N raw logprobs equal the CPU's;
//   * over 20000 draws (one per step; 10000 for V = 5000) the frequencies match the kept
//     distribution within 0.015;
//   * the set of tokens drawn over those steps equals the kept set of the CPU semantics exactly
//     (top-k with ties at the cut, top-p on the top-k distribution, min-p, and combinations, on
//     the fast top-k <= 32 path and the radix path), and the CPU sampler never draws outside it;
//   * a row's tokens depend only on its own logits, parameters, seed and step.
#include "kernels/cuda/sampling.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <numeric>
#include <ostream>
#include <random>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "tests/kernels/cuda/cuda_test_util.h"
#include "tests/kernels/test_util.h"
#include "text_service/engine/sampler.h"

namespace qwen::kernels::cuda {
namespace {

using ::qwen::kernels::testing::CudaTest;
using ::qwen::kernels::testing::DeviceBuffer;
using ::qwen::kernels::testing::Normal;

// A row: logits, parameters and the token history its penalties come from.
struct RowSpec {
  std::vector<float> logits;
  SamplingRowParams params;
  std::vector<int64_t> prompt, generated;
};

text::SamplingParams CpuParams(const SamplingRowParams& p, int64_t top_logprobs) {
  text::SamplingParams c;
  c.temperature = p.temperature;
  c.top_p = p.top_p;
  c.top_k = p.top_k;
  c.min_p = p.min_p;
  c.presence_penalty = p.presence_penalty;
  c.frequency_penalty = p.frequency_penalty;
  c.repetition_penalty = p.repetition_penalty;
  c.logprobs = 1;
  c.top_logprobs = top_logprobs;
  return c;
}

text::SampleResult CpuSample(const RowSpec& r, int64_t top_logprobs, uint64_t seed) {
  text::SamplerRng rng(seed);
  std::vector<float> scratch;
  return text::Sample(r.logits, CpuParams(r.params, top_logprobs), r.prompt, r.generated, rng,
                      scratch);
}

struct GpuResult {
  std::vector<int32_t> tokens;
  std::vector<float> logprobs;
  std::vector<int32_t> top_tokens;
  std::vector<float> top_logprobs;
};

// Runs SampleTokens over rows[i] (same vocab). Penalty lists: distinct tokens of prompt +
// generated with their generated counts.
GpuResult RunGpu(const std::vector<const RowSpec*>& rows, int64_t vocab, int64_t num_top) {
  const int64_t n = static_cast<int64_t>(rows.size()), stride = vocab + (vocab % 4 == 0 ? 4 : 0);
  std::vector<float> logits(n * stride, 0.0f);
  std::vector<SamplingRowParams> params(n);
  std::vector<int32_t> offsets(1, 0), tokens, counts;
  for (int64_t i = 0; i < n; ++i) {
    std::copy(rows[i]->logits.begin(), rows[i]->logits.end(), logits.begin() + i * stride);
    params[i] = rows[i]->params;
    std::map<int64_t, int32_t> hist;
    for (int64_t t : rows[i]->prompt) hist.emplace(t, 0);
    for (int64_t t : rows[i]->generated) ++hist[t];
    for (const auto& [t, c] : hist) {
      tokens.push_back(static_cast<int32_t>(t));
      counts.push_back(c);
    }
    offsets.push_back(static_cast<int32_t>(tokens.size()));
  }
  tokens.push_back(0);  // never empty buffers
  counts.push_back(0);
  DeviceBuffer<float> dl(logits);
  DeviceBuffer<SamplingRowParams> dp(params);
  DeviceBuffer<int32_t> doff(offsets), dtok(tokens), dcnt(counts);
  DeviceBuffer<int32_t> out_tok(n), top_tok(std::max<int64_t>(n * num_top, 1));
  DeviceBuffer<float> out_lp(n), top_lp(std::max<int64_t>(n * num_top, 1));
  out_tok.Poison();
  const PenaltyTokens pen{.offsets = doff.get(), .tokens = dtok.get(), .counts = dcnt.get()};
  const SampleOutputs out{.tokens = out_tok.get(),
                          .logprobs = out_lp.get(),
                          .top_tokens = num_top > 0 ? top_tok.get() : nullptr,
                          .top_logprobs = num_top > 0 ? top_lp.get() : nullptr};
  const SampleParams sp{
      .num_rows = n, .vocab_size = vocab, .logits_stride = stride, .num_top_logprobs = num_top};
  GpuResult g;
  EXPECT_EQ(SampleTokens(dl.get(), dp.get(), pen, out, sp, nullptr), cudaSuccess);
  g.tokens = out_tok.Download();
  g.logprobs = out_lp.Download();
  if (num_top > 0) {
    g.top_tokens = top_tok.Download();
    g.top_logprobs = top_lp.Download();
  }
  return g;
}

// The kept set of the CPU sampler's semantics (penalties -> temperature -> top-k -> top-p on the
// top-k distribution -> min-p), with its float/double operations.
std::vector<int64_t> KeptSet(const RowSpec& r) {
  const SamplingRowParams& p = r.params;
  const int64_t vocab = static_cast<int64_t>(r.logits.size());
  std::vector<float> l = r.logits;
  if (p.repetition_penalty != 1.0) {
    std::set<int64_t> seen(r.prompt.begin(), r.prompt.end());
    seen.insert(r.generated.begin(), r.generated.end());
    const float rp = static_cast<float>(p.repetition_penalty);
    for (int64_t t : seen) l[t] = l[t] > 0 ? l[t] / rp : l[t] * rp;
  }
  if (p.presence_penalty != 0.0 || p.frequency_penalty != 0.0) {
    std::map<int64_t, int64_t> c;
    for (int64_t t : r.generated) ++c[t];
    for (const auto& [t, n] : c) {
      l[t] -= static_cast<float>(p.frequency_penalty * n + p.presence_penalty);
    }
  }
  const float inv_t = static_cast<float>(1.0 / p.temperature);
  for (float& v : l) v *= inv_t;
  std::vector<int64_t> order(vocab);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return l[a] > l[b]; });
  const int64_t k = p.top_k > 0 && p.top_k < vocab ? p.top_k : vocab;
  order.resize(k);
  const float mx = l[order[0]];
  double full = 0;
  for (int64_t t : order) full += std::exp(static_cast<double>(l[t] - mx));
  int64_t n = k;
  if (p.min_p > 0) {
    const float cut = mx + static_cast<float>(std::log(p.min_p));
    n = 0;
    while (n < k && !(l[order[n]] < cut)) ++n;
  }
  if (p.top_p < 1.0) {
    double cum = 0;
    for (int64_t i = 0; i < n; ++i) {
      cum += std::exp(static_cast<double>(l[order[i]] - mx)) / full;
      if (cum >= p.top_p) {
        n = i + 1;
        break;
      }
    }
  }
  order.resize(n);
  std::sort(order.begin(), order.end());
  return order;
}

// The renormalised probabilities of the kept set (double).
std::map<int64_t, double> KeptProbabilities(const RowSpec& r, const std::vector<int64_t>& kept) {
  const float inv_t = static_cast<float>(1.0 / r.params.temperature);
  double mx = -INFINITY;
  for (int64_t t : kept) mx = std::max(mx, static_cast<double>(r.logits[t] * inv_t));
  std::map<int64_t, double> p;
  double sum = 0;
  for (int64_t t : kept) sum += p[t] = std::exp(static_cast<double>(r.logits[t] * inv_t) - mx);
  for (auto& [t, v] : p) v /= sum;
  return p;
}

// Logits with a slow linear slope over `ranked` tokens scattered over the vocabulary, every value
// shared by two tokens (exact ties), the rest far below.
std::vector<float> SlopedLogits(int64_t vocab, int64_t ranked, float slope, uint32_t seed) {
  std::vector<int64_t> ids(vocab);
  std::iota(ids.begin(), ids.end(), 0);
  std::mt19937 rng(seed);
  std::shuffle(ids.begin(), ids.end(), rng);
  std::vector<float> l(vocab);
  std::uniform_real_distribution<float> low(-30.0f, -20.0f);
  for (int64_t i = 0; i < vocab; ++i) {
    l[ids[i]] = i < ranked ? 4.0f - slope * static_cast<float>(i / 2) : low(rng);
  }
  return l;
}

// ---------------------------------------------------------------------------------------------

TEST_F(CudaTest, GreedyAndLogprobsMatchCpuWithPenalties) {
  for (const int64_t vocab : {int64_t{1000}, int64_t{248320}}) {
    std::vector<RowSpec> specs;
    std::mt19937 rng(7);
    for (int i = 0; i < 8; ++i) {
      RowSpec r;
      r.logits = Normal(vocab, 20 + i, 3.0f);
      if (i == 7) {  // exact ties at the maximum and in the top-N: first index wins
        for (float& v : r.logits) v = std::round(v);
      }
      // Histories drawn from the best tokens so that the penalties change the argmax.
      std::vector<int64_t> best(vocab);
      std::iota(best.begin(), best.end(), 0);
      std::partial_sort(best.begin(), best.begin() + 12, best.end(),
                        [&](int64_t a, int64_t b) { return r.logits[a] > r.logits[b]; });
      for (int j = 0; j < 6; ++j) r.prompt.push_back(best[rng() % 12]);
      for (int j = 0; j < 5; ++j) r.generated.push_back(best[rng() % 12]);
      r.generated.push_back(static_cast<int64_t>(rng() % vocab));
      r.params.temperature = 0.0;
      r.params.repetition_penalty = (i % 3 == 0) ? 1.0 : 1.0 + 0.25 * i;
      r.params.presence_penalty = (i % 2 == 0) ? 0.0 : 0.4 * i;
      r.params.frequency_penalty = (i % 4 == 1) ? 0.0 : 0.3;
      r.params.seed = 1234 + i;
      specs.push_back(r);
    }
    std::vector<const RowSpec*> rows;
    for (const RowSpec& r : specs) rows.push_back(&r);
    const int64_t num_top = 20;
    const GpuResult g = RunGpu(rows, vocab, num_top);
    for (size_t i = 0; i < specs.size(); ++i) {
      const text::SampleResult c = CpuSample(specs[i], num_top, 99);
      EXPECT_EQ(g.tokens[i], c.token) << "V " << vocab << " row " << i;
      EXPECT_NEAR(g.logprobs[i], c.logprob, 2e-5 + 1e-6 * std::abs(c.logprob)) << "row " << i;
      for (int64_t j = 0; j < num_top; ++j) {
        EXPECT_EQ(g.top_tokens[i * num_top + j], c.top_logprobs[j].token)
            << "row " << i << " #" << j;
        EXPECT_NEAR(g.top_logprobs[i * num_top + j], c.top_logprobs[j].logprob,
                    2e-5 + 1e-6 * std::abs(c.top_logprobs[j].logprob));
      }
    }
  }
}

TEST_F(CudaTest, TopK1IsTheArgmaxForAnySeed) {
  RowSpec base;
  base.logits = Normal(5000, 31, 2.0f);
  base.prompt = {3, 17, 4999};
  base.generated = {17, 17, 250};
  base.params.temperature = 0.7;
  base.params.top_k = 1;
  base.params.top_p = 0.5;
  base.params.repetition_penalty = 1.2;
  base.params.frequency_penalty = 0.5;
  const int64_t want = CpuSample(base, 0, 1).token;
  std::vector<RowSpec> specs(64, base);
  std::vector<const RowSpec*> rows;
  for (int i = 0; i < 64; ++i) {
    specs[i].params.seed = 1000003ull * i;
    specs[i].params.step = 77ull * i;
    rows.push_back(&specs[i]);
  }
  const GpuResult g = RunGpu(rows, 5000, 0);
  for (int i = 0; i < 64; ++i) EXPECT_EQ(g.tokens[i], want) << "seed " << specs[i].params.seed;
}

struct DistCase {
  const char* name;
  int64_t vocab;
  double temperature, top_p, min_p;
  int64_t top_k;
  int draws = 20000;       // 20000 for the small vocabularies (frequencies within 0.015)
  bool full_check = true;  // false: only "drawn within the kept set" (few draws of a big row)
};

void PrintTo(const DistCase& c, std::ostream* os) { *os << c.name; }

class SamplingDistributionTest : public CudaTest, public ::testing::WithParamInterface<DistCase> {};

TEST_P(SamplingDistributionTest, FrequenciesAndKeptSetMatch) {
  const DistCase dc = GetParam();
  const int kDraws = dc.draws;
  RowSpec base;
  base.logits =
      dc.vocab <= 16 ? Normal(dc.vocab, 41, 1.0f) : SlopedLogits(dc.vocab, 240, 0.02f, 43);
  base.params.temperature = dc.temperature;
  base.params.top_p = dc.top_p;
  base.params.min_p = dc.min_p;
  base.params.top_k = dc.top_k;
  base.params.seed = 2024;
  base.prompt = {1, 2};
  base.generated = {2};
  base.params.repetition_penalty = 1.0;  // penalties are covered by the greedy test
  const std::vector<int64_t> kept = KeptSet(base);
  const std::map<int64_t, double> prob = KeptProbabilities(base, kept);
  std::vector<RowSpec> specs(kDraws, base);
  std::vector<const RowSpec*> rows;
  for (int i = 0; i < kDraws; ++i) {
    specs[i].params.step = static_cast<uint64_t>(i);
    rows.push_back(&specs[i]);
  }
  const GpuResult g = RunGpu(rows, dc.vocab, 0);
  std::map<int64_t, int> freq;
  for (int32_t t : g.tokens) ++freq[t];
  std::set<int64_t> drawn;
  for (const auto& [t, n] : freq) drawn.insert(t);
  for (int64_t t : drawn) {
    ASSERT_TRUE(std::binary_search(kept.begin(), kept.end(), t)) << dc.name << ": GPU drew " << t;
  }
  if (dc.full_check) {
    EXPECT_EQ(std::vector<int64_t>(drawn.begin(), drawn.end()), kept)
        << dc.name << ": the drawn set differs from the kept set (" << kept.size() << " tokens)";
    for (const auto& [t, p] : prob) {
      EXPECT_NEAR(freq[t] / static_cast<double>(kDraws), p, 0.015) << dc.name << " token " << t;
    }
  }
  // The CPU sampler never draws outside the same kept set.
  for (uint64_t s = 0; s < (dc.full_check ? 2000u : 100u); ++s) {
    const int64_t t = CpuSample(base, 0, s).token;
    ASSERT_TRUE(std::binary_search(kept.begin(), kept.end(), t)) << dc.name << ": CPU drew " << t;
  }
  // Reproducible: the same rows again give the same tokens.
  const GpuResult again = RunGpu(rows, dc.vocab, 0);
  EXPECT_EQ(again.tokens, g.tokens);
}

INSTANTIATE_TEST_SUITE_P(
    Filters, SamplingDistributionTest,
    ::testing::Values(DistCase{"plain_V10", 10, 0.7, 1.0, 0.0, 0},
                      DistCase{"topk4_V10", 10, 1.0, 1.0, 0.0, 4},
                      DistCase{"topp_V10", 10, 1.0, 0.8, 0.0, 0},
                      DistCase{"minp_V10", 10, 1.0, 1.0, 0.3, 0},
                      DistCase{"topk25_ties", 5000, 1.0, 1.0, 0.0, 25, 10000},       // fast path
                      DistCase{"topk25_topp_minp", 5000, 1.0, 0.7, 0.9, 25, 10000},  // fast path
                      DistCase{"topk101_ties", 5000, 1.0, 1.0, 0.0, 101, 10000},     // radix count
                      DistCase{"topp07", 5000, 1.0, 0.7, 0.0, 0, 10000},             // radix mass
                      DistCase{"topk150_topp09", 5000, 0.8, 0.9, 0.0, 150, 10000},   // both radixes
                      DistCase{"minp02", 5000, 1.0, 1.0, 0.2, 0, 10000},
                      DistCase{"topk20_topp095_V248320", 248320, 1.0, 0.95, 0.0, 20, 256, false},
                      DistCase{"topp09_V248320", 248320, 1.0, 0.9, 0.0, 0, 256, false}),
    [](const ::testing::TestParamInfo<DistCase>& i) { return std::string(i.param.name); });

TEST_F(CudaTest, TokensDependOnlyOnTheRowNotTheBatch) {
  constexpr int64_t kVocab = 3000;
  std::vector<RowSpec> specs(12);
  for (int i = 0; i < 12; ++i) {
    RowSpec& r = specs[i];
    r.logits = SlopedLogits(kVocab, 300, 0.01f, 60 + i);
    r.params.temperature = i % 4 == 0 ? 0.0 : 0.9;
    r.params.top_k = i % 3 == 0 ? 20 : (i % 3 == 1 ? 64 : 0);
    r.params.top_p = i % 2 == 0 ? 0.9 : 1.0;
    r.params.min_p = i % 5 == 0 ? 0.05 : 0.0;
    r.params.repetition_penalty = 1.1;
    r.prompt = {5, 6, 7};
    r.params.seed = 555 + i;
    r.params.step = 9 + i;
  }
  std::vector<const RowSpec*> rows;
  for (const RowSpec& r : specs) rows.push_back(&r);
  const GpuResult a = RunGpu(rows, kVocab, 3);
  // Reversed, interleaved with other rows.
  std::vector<RowSpec> others(12, specs[0]);
  std::vector<const RowSpec*> mixed;
  for (int i = 11; i >= 0; --i) {
    others[i].params.seed = 99 + i;
    mixed.push_back(&others[i]);
    mixed.push_back(&specs[i]);
  }
  const GpuResult b = RunGpu(mixed, kVocab, 3);
  for (int i = 0; i < 12; ++i) {
    EXPECT_EQ(a.tokens[i], b.tokens[2 * (11 - i) + 1]) << "row " << i;
    EXPECT_EQ(a.logprobs[i], b.logprobs[2 * (11 - i) + 1]) << "row " << i;
  }
}

TEST_F(CudaTest, SampleTokensRejectsBadArguments) {
  DeviceBuffer<float> logits(64);
  DeviceBuffer<SamplingRowParams> rows(1);
  DeviceBuffer<int32_t> tok(1);
  const SampleOutputs out{.tokens = tok.get()};
  EXPECT_EQ(SampleTokens(logits.get(), rows.get(), {}, out,
                         {.num_rows = 1, .vocab_size = 64, .logits_stride = 32}, nullptr),
            cudaErrorInvalidValue)
      << "stride < vocab";
  EXPECT_EQ(
      SampleTokens(logits.get(), rows.get(), {}, out,
                   {.num_rows = 1, .vocab_size = 64, .logits_stride = 64, .num_top_logprobs = 33},
                   nullptr),
      cudaErrorInvalidValue)
      << "more than 32 top logprobs";
  EXPECT_EQ(SampleTokens(logits.get(), rows.get(), {}, SampleOutputs{},
                         {.num_rows = 1, .vocab_size = 64, .logits_stride = 64}, nullptr),
            cudaErrorInvalidValue)
      << "no token output";
  EXPECT_EQ(SampleTokens(logits.get(), rows.get(), {}, out,
                         {.num_rows = 0, .vocab_size = 64, .logits_stride = 64}, nullptr),
            cudaSuccess);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
}

}  // namespace
}  // namespace qwen::kernels::cuda
