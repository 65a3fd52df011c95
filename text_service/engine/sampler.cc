#include "text_service/engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "absl/container/flat_hash_map.h"

namespace qwen::text {
namespace {

uint64_t SplitMix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

void ApplyPenalties(std::vector<float>& l, const SamplingParams& p, std::span<const int64_t> prompt,
                    std::span<const int64_t> generated) {
  if (p.repetition_penalty != 1.0) {
    const float r = static_cast<float>(p.repetition_penalty);
    auto penalise = [&](int64_t t) {
      // HF RepetitionPenaltyLogitsProcessor: divide positive logits, multiply negative ones, once
      // per distinct token.
      float& v = l[t];
      v = v > 0 ? v / r : v * r;
    };
    absl::flat_hash_map<int64_t, bool> seen;
    for (int64_t t : prompt)
      if (seen.emplace(t, true).second) penalise(t);
    for (int64_t t : generated)
      if (seen.emplace(t, true).second) penalise(t);
  }
  if (p.presence_penalty != 0.0 || p.frequency_penalty != 0.0) {
    absl::flat_hash_map<int64_t, int64_t> counts;
    for (int64_t t : generated) ++counts[t];
    for (const auto& [t, c] : counts) {
      l[t] -= static_cast<float>(p.frequency_penalty * c + p.presence_penalty);
    }
  }
}

}  // namespace

SamplerRng::SamplerRng(uint64_t seed) {
  for (uint64_t& s : s_) s = SplitMix64(seed);
}

uint64_t SamplerRng::Next() {
  const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = Rotl(s_[3], 45);
  return result;
}

double SamplerRng::Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

SampleResult Sample(std::span<const float> logits, const SamplingParams& p,
                    std::span<const int64_t> prompt, std::span<const int64_t> generated,
                    SamplerRng& rng, std::vector<float>& l) {
  const int64_t vocab = static_cast<int64_t>(logits.size());
  SampleResult result;
  l.assign(logits.begin(), logits.end());
  ApplyPenalties(l, p, prompt, generated);

  if (p.temperature == 0.0) {
    result.token = std::max_element(l.begin(), l.end()) - l.begin();
  } else {
    const float inv_t = static_cast<float>(1.0 / p.temperature);
    for (float& v : l) v *= inv_t;
    auto by_logit = [&](int64_t a, int64_t b) { return l[a] > l[b] || (l[a] == l[b] && a < b); };
    std::vector<int64_t> order(static_cast<size_t>(vocab));
    std::iota(order.begin(), order.end(), 0);
    bool sorted = false;
    if (p.top_k > 0 && p.top_k < vocab) {
      std::partial_sort(order.begin(), order.begin() + p.top_k, order.end(), by_logit);
      order.resize(static_cast<size_t>(p.top_k));
      sorted = true;
    }
    float max_l = kNegInf;
    for (int64_t t : order) max_l = std::max(max_l, l[t]);
    // Mass of the top-k distribution, before min-p: top-p is defined against it.
    double full = 0;
    for (int64_t t : order) full += std::exp(static_cast<double>(l[t] - max_l));
    // min-p keeps tokens with probability >= min_p * max probability, i.e. logit >= max +
    // log(min_p). It commutes with top-p (both keep a best-first prefix), so it runs first and
    // shrinks the sort.
    if (p.min_p > 0) {
      const float cut = max_l + static_cast<float>(std::log(p.min_p));
      order.erase(std::remove_if(order.begin(), order.end(), [&](int64_t t) { return l[t] < cut; }),
                  order.end());
    }
    std::vector<double> probs(order.size());
    for (size_t i = 0; i < order.size(); ++i) {
      probs[i] = std::exp(static_cast<double>(l[order[i]] - max_l));
    }
    size_t n = order.size();
    if (p.top_p < 1.0) {
      if (!sorted) {
        std::vector<size_t> perm(order.size());
        std::iota(perm.begin(), perm.end(), 0);
        std::sort(perm.begin(), perm.end(),
                  [&](size_t a, size_t b) { return by_logit(order[a], order[b]); });
        std::vector<int64_t> o2(order.size());
        std::vector<double> p2(order.size());
        for (size_t i = 0; i < perm.size(); ++i) {
          o2[i] = order[perm[i]];
          p2[i] = probs[perm[i]];
        }
        order.swap(o2);
        probs.swap(p2);
      }
      // top-p over the distribution renormalised after top-k (HF TopPLogitsWarper): keep the
      // smallest best-first prefix whose mass reaches top_p, at least one token.
      double cum = 0;
      for (size_t i = 0; i < probs.size(); ++i) {
        cum += probs[i] / full;
        if (cum >= p.top_p) {
          n = i + 1;
          break;
        }
      }
    }
    double mass = 0;
    for (size_t i = 0; i < n; ++i) mass += probs[i];
    double u = rng.Uniform() * mass;
    size_t pick = n - 1;
    for (size_t i = 0; i < n; ++i) {
      u -= probs[i];
      if (u < 0) {
        pick = i;
        break;
      }
    }
    result.token = order[pick];
  }

  if (p.logprobs > 0 || p.top_logprobs > 0) {
    const float max_raw = *std::max_element(logits.begin(), logits.end());
    double sum = 0;
    for (float v : logits) sum += std::exp(static_cast<double>(v - max_raw));
    const float log_z = max_raw + static_cast<float>(std::log(sum));
    result.logprob = logits[result.token] - log_z;
    if (p.top_logprobs > 0) {
      std::vector<int64_t> idx(static_cast<size_t>(vocab));
      std::iota(idx.begin(), idx.end(), 0);
      const int64_t k = std::min<int64_t>(p.top_logprobs, vocab);
      std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int64_t a, int64_t b) {
        return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
      });
      for (int64_t i = 0; i < k; ++i)
        result.top_logprobs.push_back({idx[i], logits[idx[i]] - log_z});
    }
  }
  return result;
}

}  // namespace qwen::text
