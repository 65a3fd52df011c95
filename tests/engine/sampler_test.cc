// The sampler's processors against their definitions, and the request's random stream.
#include <cmath>
#include <map>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "text_service/engine/sampler.h"

namespace qwen::text {
namespace {

using ::testing::HasSubstr;

std::vector<float> LogitsForProbs(const std::vector<double>& probs) {
  std::vector<float> l;
  for (double p : probs) l.push_back(static_cast<float>(std::log(p)));
  return l;
}

std::map<int64_t, double> Frequencies(const std::vector<float>& logits, const SamplingParams& p, int draws,
                                      uint64_t seed = 1) {
  SamplerRng rng(seed);
  std::vector<float> scratch;
  std::map<int64_t, double> freq;
  for (int i = 0; i < draws; ++i) freq[Sample(logits, p, {}, {}, rng, scratch).token] += 1.0 / draws;
  return freq;
}

TEST(Sampler, TemperatureZeroIsArgmaxWithFirstIndexOnTies) {
  SamplingParams p{.temperature = 0};
  SamplerRng rng(0);
  std::vector<float> scratch;
  std::vector<float> l = {0.1f, 3.0f, -1.0f, 3.0f};
  EXPECT_EQ(Sample(l, p, {}, {}, rng, scratch).token, 1);
}

TEST(Sampler, DrawsFollowTheSoftmax) {
  auto f = Frequencies(LogitsForProbs({0.5, 0.3, 0.2}), SamplingParams{}, 40000);
  EXPECT_NEAR(f[0], 0.5, 0.015);
  EXPECT_NEAR(f[1], 0.3, 0.015);
  EXPECT_NEAR(f[2], 0.2, 0.015);
}

TEST(Sampler, TemperatureSharpens) {
  // p ∝ exp(log(p_i) / 0.5) = p_i^2: 25:9:4.
  auto f = Frequencies(LogitsForProbs({0.5, 0.3, 0.2}), SamplingParams{.temperature = 0.5}, 40000);
  EXPECT_NEAR(f[0], 25.0 / 38, 0.015);
  EXPECT_NEAR(f[2], 4.0 / 38, 0.015);
}

TEST(Sampler, TopKKeepsTheKBest) {
  auto f = Frequencies(LogitsForProbs({0.1, 0.4, 0.3, 0.2}), SamplingParams{.top_k = 2}, 20000);
  EXPECT_EQ(f.count(0), 0u);
  EXPECT_EQ(f.count(3), 0u);
  EXPECT_NEAR(f[1], 4.0 / 7, 0.015);
}

TEST(Sampler, TopPKeepsTheSmallestPrefixReachingP) {
  auto f = Frequencies(LogitsForProbs({0.2, 0.5, 0.3}), SamplingParams{.top_p = 0.6}, 20000);
  EXPECT_EQ(f.count(0), 0u);  // 0.5 + 0.3 >= 0.6: token 0 (0.2) is cut
  EXPECT_NEAR(f[1], 5.0 / 8, 0.015);
  auto g = Frequencies(LogitsForProbs({0.2, 0.5, 0.3}), SamplingParams{.top_p = 0.5}, 2000);
  EXPECT_EQ(g.size(), 1u);
  EXPECT_EQ(g.count(1), 1u);
}

TEST(Sampler, MinPDropsTokensBelowAFractionOfTheBest) {
  auto f = Frequencies(LogitsForProbs({0.5, 0.3, 0.2}), SamplingParams{.min_p = 0.5}, 20000);
  EXPECT_EQ(f.count(2), 0u);  // 0.2 < 0.5 * 0.5
  EXPECT_NEAR(f[0], 5.0 / 8, 0.015);
}

TEST(Sampler, TopPIsMeasuredBeforeMinP) {
  // top_p = 0.75 keeps {0.5, 0.3}; min_p = 0.5 keeps {0.5, 0.3}; together: {0.5, 0.3}, not a
  // top-p over the min-p survivors' renormalised mass (which would drop 0.3).
  auto f = Frequencies(LogitsForProbs({0.5, 0.3, 0.2}), SamplingParams{.top_p = 0.75, .min_p = 0.5}, 20000);
  EXPECT_EQ(f.size(), 2u);
  EXPECT_NEAR(f[1], 3.0 / 8, 0.015);
}

TEST(Sampler, RepetitionPenaltyFollowsHuggingFace) {
  SamplingParams p{.temperature = 0, .repetition_penalty = 1.2};
  SamplerRng rng(0);
  std::vector<float> scratch;
  std::vector<int64_t> prompt = {0};
  // 2.0 / 1.2 = 1.67 < 1.9: the repeated token loses.
  EXPECT_EQ(Sample(std::vector<float>{2.0f, 1.9f}, p, prompt, {}, rng, scratch).token, 1);
  // Negative logits are multiplied: -1.0 * 1.2 = -1.2 < -1.1.
  EXPECT_EQ(Sample(std::vector<float>{-1.0f, -1.1f}, p, prompt, {}, rng, scratch).token, 1);
}

TEST(Sampler, PresenceAndFrequencyPenaltiesCountGeneratedTokens) {
  SamplingParams p{.temperature = 0, .presence_penalty = 0.5, .frequency_penalty = 0.3};
  SamplerRng rng(0);
  std::vector<float> scratch;
  std::vector<int64_t> generated = {0, 0};
  // token 0: 3.0 - (0.5 + 2 * 0.3) = 1.9 < 2.0
  EXPECT_EQ(Sample(std::vector<float>{3.0f, 2.0f}, p, {}, generated, rng, scratch).token, 1);
  // Prompt tokens are not penalised by presence/frequency.
  EXPECT_EQ(Sample(std::vector<float>{3.0f, 2.0f}, p, generated, {}, rng, scratch).token, 0);
}

TEST(Sampler, LogprobsAreTheRawLogSoftmax) {
  SamplingParams p{.temperature = 0.7, .logprobs = 1, .top_logprobs = 2};
  SamplerRng rng(3);
  std::vector<float> scratch;
  std::vector<float> l = {1.0f, 2.0f, 0.5f};
  SampleResult r = Sample(l, p, {}, {}, rng, scratch);
  double z = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(0.5));
  EXPECT_NEAR(r.logprob, l[r.token] - z, 1e-5);
  ASSERT_EQ(r.top_logprobs.size(), 2u);
  EXPECT_EQ(r.top_logprobs[0].token, 1);
  EXPECT_NEAR(r.top_logprobs[0].logprob, 2.0 - z, 1e-5);
  EXPECT_EQ(r.top_logprobs[1].token, 0);
}

TEST(Sampler, SeededStreamsRepeatAndDiffer) {
  std::vector<float> l(50);
  for (size_t i = 0; i < l.size(); ++i) l[i] = static_cast<float>(std::sin(i * 1.7));
  auto draw = [&](uint64_t seed) {
    SamplerRng rng(seed);
    std::vector<float> scratch;
    std::vector<int64_t> out;
    for (int i = 0; i < 64; ++i) out.push_back(Sample(l, SamplingParams{}, {}, {}, rng, scratch).token);
    return out;
  };
  EXPECT_EQ(draw(42), draw(42));
  EXPECT_NE(draw(42), draw(43));
}

TEST(SamplingParamsValidate, NamesTheBadField) {
  auto msg = [](SamplingParams p) { return std::string(p.Validate(100).message()); };
  EXPECT_TRUE(SamplingParams{}.Validate(100).ok());
  EXPECT_THAT(msg({.temperature = -0.1}), HasSubstr("temperature"));
  EXPECT_THAT(msg({.temperature = std::nan("")}), HasSubstr("temperature"));
  EXPECT_THAT(msg({.top_p = 0}), HasSubstr("top_p"));
  EXPECT_THAT(msg({.top_p = 1.5}), HasSubstr("top_p"));
  EXPECT_THAT(msg({.top_k = -2}), HasSubstr("top_k"));
  EXPECT_THAT(msg({.top_k = 101}), HasSubstr("top_k"));
  EXPECT_THAT(msg({.min_p = 2}), HasSubstr("min_p"));
  EXPECT_THAT(msg({.presence_penalty = 3}), HasSubstr("presence_penalty"));
  EXPECT_THAT(msg({.frequency_penalty = -3}), HasSubstr("frequency_penalty"));
  EXPECT_THAT(msg({.repetition_penalty = 0}), HasSubstr("repetition_penalty"));
  EXPECT_THAT(msg({.max_tokens = 0}), HasSubstr("max_tokens"));
  EXPECT_THAT(msg({.top_logprobs = 21}), HasSubstr("top_logprobs"));
  EXPECT_THAT(msg({.stop_token_ids = {5, 100}}), HasSubstr("stop_token_ids contains 100"));
  EXPECT_EQ(SamplingParams{.top_p = 0}.Validate(100).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace qwen::text
