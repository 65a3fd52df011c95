// CPU fp32 reference of causal grouped-query attention (kernels/attention.h, MODEL.md 2.5 step 5).
#include "kernels/attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/dot.h"

namespace qwen::kernels::cpu {

void CausalAttention(const float* q, const float* k_cache, const float* v_cache, float* out,
                     const AttentionParams& p) {
  const int64_t d = p.head_dim;
  // TRAP: GQA repeats KV heads interleaved (repeat_kv): KV head g serves query heads
  // g*group .. g*group + group - 1.
  const int64_t group = p.num_heads_q / p.num_heads_kv;
  const int64_t first_pos = p.kv_len - p.num_new;
  std::vector<float> probs(static_cast<size_t>(std::max<int64_t>(p.kv_len, 1)));
  for (int64_t t = 0; t < p.num_new; ++t) {
    const int64_t pos = first_pos + t;  // attends to cache tokens [0, pos]
    for (int64_t h = 0; h < p.num_heads_q; ++h) {
      const float* qh = q + t * p.q_stride + h * d;
      const int64_t g = h / group;
      float max_score = -INFINITY;
      for (int64_t j = 0; j <= pos; ++j) {
        const float s = Dot(qh, k_cache + j * p.kv_stride + g * d, d) * p.scale;
        probs[j] = s;
        max_score = std::max(max_score, s);
      }
      // Max-subtracted softmax in fp32; normalised before the V product, as HF does.
      float sum = 0.0f;
      for (int64_t j = 0; j <= pos; ++j) {
        probs[j] = std::exp(probs[j] - max_score);
        sum += probs[j];
      }
      const float inv_sum = 1.0f / sum;
      float* oh = out + (t * p.num_heads_q + h) * d;
      std::fill(oh, oh + d, 0.0f);
      for (int64_t j = 0; j <= pos; ++j) {
        const float pj = probs[j] * inv_sum;
        const float* vj = v_cache + j * p.kv_stride + g * d;
        for (int64_t i = 0; i < d; ++i) oh[i] += pj * vj[i];
      }
    }
  }
}

}  // namespace qwen::kernels::cpu
