// Host/device pieces of the GPU sampler (kernels/cuda/sampling.h) that the CPU emulation tests run
// too: the Philox4x32-10 counter-based generator and the Gumbel noise drawn from it, the
// order-preserving keys of logits, the penalty arithmetic of the CPU sampler
// (text_service/engine/sampler.cc), and the top-p / min-p cut of a sorted top-k candidate list.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/cuda/detail/block.h"

namespace qwen::kernels::cuda::detail {

// ---------------------------------------------------------------------------------------------
// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", Random123).

struct Philox4 {
  uint32_t v[4];
};

QWEN_HD_INLINE uint32_t MulHi32(uint32_t a, uint32_t b) {
#if defined(__CUDA_ARCH__)
  return __umulhi(a, b);
#else
  return static_cast<uint32_t>((static_cast<uint64_t>(a) * b) >> 32);
#endif
}

QWEN_HD_INLINE Philox4 Philox4x32_10(Philox4 ctr, uint32_t k0, uint32_t k1) {
  constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
  constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  QWEN_UNROLL
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      k0 += kW0;
      k1 += kW1;
    }
    const uint32_t hi0 = MulHi32(kM0, ctr.v[0]), lo0 = kM0 * ctr.v[0];
    const uint32_t hi1 = MulHi32(kM1, ctr.v[2]), lo1 = kM1 * ctr.v[2];
    ctr = Philox4{{hi1 ^ ctr.v[1] ^ k0, lo1, hi0 ^ ctr.v[3] ^ k1, lo0}};
  }
  return ctr;
}

// The draw of token `token` at step `step` of a request seeded `seed`: depends on nothing else
// (not on the batch, the row or the launch geometry).
QWEN_HD_INLINE uint32_t SampleBits(uint64_t seed, uint64_t step, uint32_t token) {
  const Philox4 r = Philox4x32_10(
      Philox4{{token, static_cast<uint32_t>(step), static_cast<uint32_t>(step >> 32), 0x5A3Du}},
      static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
  return r.v[0];
}

// Standard Gumbel noise -log(-log(u)) from 23 random bits, u in [2^-24, 1 - 2^-24] (both exact
// in fp32, so neither log sees 0 or 1): G in about [-2.8, 16.6]. argmax_i (l_i + G_i) over a set
// is a draw from softmax(l) restricted to the set (the Gumbel-max trick).
QWEN_HD_INLINE float GumbelFromBits(uint32_t bits) {
  const float u = (static_cast<float>(bits >> 9) + 0.5f) * 0x1.0p-23f;
  return -logf(-logf(u));
}

// ---------------------------------------------------------------------------------------------
// Order-preserving keys.

QWEN_HD_INLINE uint32_t FloatBits(float x) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(x);
#else
  uint32_t b;
  std::memcpy(&b, &x, 4);
  return b;
#endif
}
QWEN_HD_INLINE float BitsFloat(uint32_t b) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(b);
#else
  float x;
  std::memcpy(&x, &b, 4);
  return x;
#endif
}

// Monotone map float -> uint32 (a < b => key(a) < key(b)); -0 and +0 map to the same key, NaN to
// the key of -inf.
QWEN_HD_INLINE uint32_t OrderKey(float x) {
  if (x == 0.0f) x = 0.0f;
  if (x != x) x = -INFINITY;
  const uint32_t b = FloatBits(x);
  return (b & 0x80000000u) != 0 ? ~b : (b | 0x80000000u);
}
QWEN_HD_INLINE float OrderKeyValue(uint32_t k) {
  return BitsFloat((k & 0x80000000u) != 0 ? (k & 0x7fffffffu) : ~k);
}

// The CPU sampler's total order "higher logit first, lower index on ties" as one integer:
// key(a) > key(b) <=> a before b. Unique per token.
QWEN_HD_INLINE uint64_t TokenKey(float value, uint32_t index) {
  return (static_cast<uint64_t>(OrderKey(value)) << 32) | (0xffffffffu - index);
}
QWEN_HD_INLINE float TokenKeyValue(uint64_t key) {
  return OrderKeyValue(static_cast<uint32_t>(key >> 32));
}
QWEN_HD_INLINE uint32_t TokenKeyIndex(uint64_t key) {
  return 0xffffffffu - static_cast<uint32_t>(key);
}

// ---------------------------------------------------------------------------------------------
// The CPU sampler's arithmetic (text_service/engine/sampler.cc).

// Penalised logit of a token of the prompt or the generated text (`generated_count` occurrences
// in the generated text): repetition penalty once per distinct token, then presence + frequency
// over the generated count, all in the CPU sampler's precision.
QWEN_HD_INLINE float PenalisedLogit(float raw, int32_t generated_count, double repetition,
                                    double presence, double frequency) {
  float v = raw;
  if (repetition != 1.0) {
    const float r = static_cast<float>(repetition);
    v = v > 0 ? v / r : v * r;
  }
  if ((presence != 0.0 || frequency != 0.0) && generated_count > 0) {
    v -= static_cast<float>(frequency * generated_count + presence);
  }
  return v;
}

// Tokens kept of the top-k candidates vals[0..k) (temperature-scaled logits, best first): the
// min-p prefix (logit >= max + log(min_p)), cut further to the smallest prefix whose mass in the
// top-k distribution reaches top_p; at least one. Same operations and order as the CPU sampler.
QWEN_HD_INLINE int KeptOfSortedCandidates(const float* vals, int k, double top_p, double min_p) {
  const float max_l = vals[0];
  double full = 0.0;
  for (int i = 0; i < k; ++i) full += exp(static_cast<double>(vals[i] - max_l));
  int n = k;
  if (min_p > 0) {
    const float cut = max_l + static_cast<float>(log(min_p));
    n = 0;
    while (n < k && !(vals[n] < cut)) ++n;
  }
  if (top_p < 1.0) {
    double cum = 0.0;
    for (int i = 0; i < n; ++i) {
      cum += exp(static_cast<double>(vals[i] - max_l)) / full;
      if (cum >= top_p) {
        n = i + 1;
        break;
      }
    }
  }
  return n;
}

// exp(x - max) >= 0 as fixed point with 40 fractional bits: integer sums are exact and
// associative, so the top-p masses do not depend on the summation order (reproducible draws).
inline constexpr float kMassScale = 1099511627776.0f;  // 2^40
QWEN_HD_INLINE uint64_t FixedMass(float x, float max_x) {
  const float p = expf(x - max_x);
  return static_cast<uint64_t>(p * kMassScale + 0.5f);
}

}  // namespace qwen::kernels::cuda::detail
