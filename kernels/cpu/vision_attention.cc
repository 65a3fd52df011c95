// CPU fp32 reference of segment (varlen) bidirectional attention (kernels/vision_attention.h).
#include "kernels/vision_attention.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/dot.h"

namespace qwen::kernels::cpu {

void SegmentAttention(const float* q, const float* k, const float* v, const int64_t* cu_seqlens,
                      float* out, const SegmentAttentionParams& p) {
  const int64_t d = p.head_dim;
  int64_t max_len = 1;
  for (int64_t s = 0; s < p.num_segments; ++s) {
    max_len = std::max(max_len, cu_seqlens[s + 1] - cu_seqlens[s]);
  }
  std::vector<float> probs(static_cast<size_t>(max_len));
  for (int64_t s = 0; s < p.num_segments; ++s) {
    const int64_t begin = cu_seqlens[s], end = cu_seqlens[s + 1];
    for (int64_t t = begin; t < end; ++t) {
      for (int64_t h = 0; h < p.num_heads; ++h) {
        const float* qh = q + t * p.q_stride + h * d;
        // No causal mask: every token of the segment, before and after t.
        float max_score = -INFINITY;
        for (int64_t j = begin; j < end; ++j) {
          const float sc = Dot(qh, k + j * p.kv_stride + h * d, d) * p.scale;
          probs[j - begin] = sc;
          max_score = std::max(max_score, sc);
        }
        float sum = 0.0f;
        for (int64_t j = 0; j < end - begin; ++j) {
          probs[j] = std::exp(probs[j] - max_score);
          sum += probs[j];
        }
        const float inv_sum = 1.0f / sum;
        float* oh = out + t * p.out_stride + h * d;
        std::fill(oh, oh + d, 0.0f);
        for (int64_t j = begin; j < end; ++j) {
          const float pj = probs[j - begin] * inv_sum;
          const float* vj = v + j * p.kv_stride + h * d;
          for (int64_t i = 0; i < d; ++i) oh[i] += pj * vj[i];
        }
      }
    }
  }
}

}  // namespace qwen::kernels::cpu
