// Test data of the Gated DeltaNet kernels shared by the CPU emulation tests and the GPU parity
// tests: a flattened varlen batch with per-sequence state slots, and the CPU reference
// (kernels/cpu) run sequence by sequence on the same (bf16-rounded where the GPU reads bf16)
// inputs.
#pragma once

#include <cuda_bf16.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include "kernels/conv1d.h"
#include "kernels/gated_delta_rule.h"
#include "tests/kernels/test_util.h"

namespace qwen::kernels::testing {

inline float RoundBf16(float x) { return __bfloat162float(__float2bfloat16(x)); }

inline std::vector<__nv_bfloat16> ToBf16(const std::vector<float>& v) {
  std::vector<__nv_bfloat16> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = __float2bfloat16(v[i]);
  return out;
}

inline std::vector<float> FromBf16(const std::vector<__nv_bfloat16>& v) {
  std::vector<float> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = __bfloat162float(v[i]);
  return out;
}

// Rounds every element to the nearest bf16 (the values the GPU will read).
inline std::vector<float> RoundedBf16(std::vector<float> v) {
  for (float& x : v) x = RoundBf16(x);
  return v;
}

inline std::vector<int32_t> CuSeqlens(const std::vector<int64_t>& lengths) {
  std::vector<int32_t> cu(lengths.size() + 1, 0);
  for (size_t i = 0; i < lengths.size(); ++i) cu[i + 1] = cu[i] + static_cast<int32_t>(lengths[i]);
  return cu;
}

// Slots scattered over a pool larger than the batch: sequence s uses slot 2s + 1 (even slots and
// the last one stay untouched and are checked to be so).
inline std::vector<int32_t> ScatteredSlots(size_t num_seqs) {
  std::vector<int32_t> slots(num_seqs);
  for (size_t s = 0; s < num_seqs; ++s) slots[s] = static_cast<int32_t>(2 * s + 1);
  return slots;
}

// has_initial_state: every third sequence starts fresh (its slot holds garbage that must be
// ignored).
inline std::vector<int32_t> MixedInitialFlags(size_t num_seqs) {
  std::vector<int32_t> flags(num_seqs);
  for (size_t s = 0; s < num_seqs; ++s) flags[s] = s % 3 == 1 ? 0 : 1;
  return flags;
}

// The delta-rule inputs of a varlen batch, laid out as in the model: q | k | v side by side in
// one conv-output row of conv_dim = 2*Hk*Dk + Hv*Dv floats, q/k L2-normalised per head, q scaled
// by Dk^-1/2; g and beta from realistic gates (decay_scale > 1 stresses underflow).
struct GdrBatch {
  std::vector<int64_t> lengths;
  int64_t hk = 0, hv = 0, dk = 0, dv = 0;
  int64_t tokens = 0, conv_dim = 0;
  std::vector<float> conv;     // [N, conv_dim]
  std::vector<float> g, beta;  // [N, Hv]
  std::vector<int32_t> cu, slots, has_init;
  int64_t num_slots = 0;
  std::vector<float> pool0;  // [num_slots, Hv, Dk, Dv] initial pool (random, incl. unused slots)

  const float* q() const { return conv.data(); }
  const float* k() const { return conv.data() + hk * dk; }
  const float* v() const { return conv.data() + 2 * hk * dk; }
  int64_t state_elems() const { return hv * dk * dv; }
  cpu::GatedDeltaRuleParams CpuParams(int64_t n) const {
    return {.num_tokens = n,
            .num_heads_k = hk,
            .num_heads_v = hv,
            .head_dim_k = dk,
            .head_dim_v = dv,
            .qk_stride = conv_dim,
            .v_stride = conv_dim};
  }
};

inline GdrBatch MakeGdrBatch(const std::vector<int64_t>& lengths, int64_t hk, int64_t hv,
                             int64_t dk, int64_t dv, uint32_t seed, float decay_scale = 1.0f,
                             bool mixed_initial = true) {
  GdrBatch b;
  b.lengths = lengths;
  b.hk = hk;
  b.hv = hv;
  b.dk = dk;
  b.dv = dv;
  b.tokens = std::accumulate(lengths.begin(), lengths.end(), int64_t{0});
  b.conv_dim = 2 * hk * dk + hv * dv;
  b.conv = Normal(b.tokens * b.conv_dim, seed);
  for (int64_t t = 0; t < b.tokens; ++t) {
    for (int64_t h = 0; h < 2 * hk; ++h) {
      float* x = b.conv.data() + t * b.conv_dim + h * dk;
      double ss = 0.0;
      for (int64_t i = 0; i < dk; ++i) ss += static_cast<double>(x[i]) * x[i];
      const double f = 1.0 / std::sqrt(ss + 1e-6) * (h < hk ? 1.0 / std::sqrt(double(dk)) : 1.0);
      for (int64_t i = 0; i < dk; ++i) x[i] = static_cast<float>(x[i] * f);
    }
  }
  const std::vector<float> a_log = Uniform(hv, seed + 1, 0.0f, std::log(16.0f));
  const std::vector<float> dt_bias = Uniform(hv, seed + 2, -4.5f, -0.5f);
  const std::vector<float> a = Normal(b.tokens * hv, seed + 3);
  const std::vector<float> bb = Normal(b.tokens * hv, seed + 4, 2.0f);
  b.g.resize(b.tokens * hv);
  b.beta.resize(b.tokens * hv);
  for (int64_t i = 0; i < b.tokens * hv; ++i) {
    const int64_t j = i % hv;
    const double x = a[i] + dt_bias[j];
    b.g[i] = static_cast<float>(-std::exp(a_log[j]) * std::log1p(std::exp(x)) * decay_scale);
    b.beta[i] = static_cast<float>(1.0 / (1.0 + std::exp(-bb[i])));
  }
  b.cu = CuSeqlens(lengths);
  b.slots = ScatteredSlots(lengths.size());
  b.has_init =
      mixed_initial ? MixedInitialFlags(lengths.size()) : std::vector<int32_t>(lengths.size(), 1);
  b.num_slots = 2 * static_cast<int64_t>(lengths.size()) + 1;
  b.pool0 = Normal(b.num_slots * b.state_elems(), seed + 5, 0.5f);
  return b;
}

// CPU reference over the batch: per sequence, the chunked (chunk > 0) or recurrent (chunk == 0)
// CPU op from the sequence's initial state (zeros without has_init) into its slot of `pool`.
// out: f32 [N, Hv*Dv].
inline void CpuGdr(const GdrBatch& b, int64_t chunk, std::vector<float>& pool,
                   std::vector<float>& out) {
  pool = b.pool0;
  out.assign(static_cast<size_t>(b.tokens * b.hv * b.dv), 0.0f);
  for (size_t s = 0; s < b.lengths.size(); ++s) {
    float* st = pool.data() + b.slots[s] * b.state_elems();
    if (!b.has_init[s]) std::fill(st, st + b.state_elems(), 0.0f);
    const int64_t t0 = b.cu[s], n = b.lengths[s];
    if (n == 0) continue;
    const cpu::GatedDeltaRuleParams p = b.CpuParams(n);
    const int64_t off = t0 * b.conv_dim;
    if (chunk > 0) {
      cpu::GatedDeltaRuleChunked(b.q() + off, b.k() + off, b.v() + off, b.g.data() + t0 * b.hv,
                                 b.beta.data() + t0 * b.hv, st, out.data() + t0 * b.hv * b.dv, p,
                                 chunk);
    } else {
      cpu::GatedDeltaRuleRecurrent(b.q() + off, b.k() + off, b.v() + off, b.g.data() + t0 * b.hv,
                                   b.beta.data() + t0 * b.hv, st, out.data() + t0 * b.hv * b.dv, p);
    }
  }
}

// Norm-wise closeness: max |got - want| <= rel * max |want| (see tests/kernels/
// gated_delta_rule_test.cc for why per-element relative errors are meaningless here).
template <typename A, typename B>
::testing::AssertionResult NormwiseClose(const std::vector<A>& got, const std::vector<B>& want,
                                         double rel) {
  const double scale = MaxAbs(want);
  if (scale < 1e-3) return ::testing::AssertionFailure() << "reference too small: " << scale;
  for (const A& x : got) {
    if (!std::isfinite(static_cast<double>(x))) {
      return ::testing::AssertionFailure() << "non-finite value";
    }
  }
  const double err = MaxAbsDiff(got, want);
  if (err <= rel * scale) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "max error " << err << " > " << rel << " * max |ref| "
                                       << scale << " (rel " << err / scale << ")";
}

// Element-wise relative closeness with an absolute floor: |got - want| <= rel * |want| + abs.
template <typename A, typename B>
::testing::AssertionResult ElementwiseClose(const std::vector<A>& got, const std::vector<B>& want,
                                            double rel, double abs) {
  if (got.size() != want.size()) return ::testing::AssertionFailure() << "size mismatch";
  for (size_t i = 0; i < got.size(); ++i) {
    const double g = static_cast<double>(got[i]), w = static_cast<double>(want[i]);
    if (!(std::abs(g - w) <= rel * std::abs(w) + abs)) {
      return ::testing::AssertionFailure() << "element " << i << ": got " << g << " want " << w
                                           << " (tolerance " << rel << " rel + " << abs << " abs)";
    }
  }
  return ::testing::AssertionSuccess();
}

}  // namespace qwen::kernels::testing
