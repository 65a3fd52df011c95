// Causal grouped-query attention of one sequence over its KV cache (MODEL.md 2.5 step 5).
#pragma once

#include <cstdint>

namespace qwen::kernels::cpu {

struct AttentionParams {
  int64_t num_new;       // new query tokens (the last num_new positions of the sequence)
  int64_t kv_len;        // tokens in the cache including the new ones (>= num_new)
  int64_t num_heads_q;   // Hq
  int64_t num_heads_kv;  // Hkv; query head h uses KV head h / (Hq / Hkv)
  int64_t head_dim;      // D
  int64_t q_stride;      // elements between consecutive query tokens
  int64_t kv_stride;     // elements between consecutive cache tokens (K and V alike)
  float scale;           // softmax scale, D^-1/2
};

// q: f32, token t head h at q[t*q_stride + h*D]; k_cache/v_cache: f32, token j KV head g at
// [j*kv_stride + g*D]; out: f32 [num_new, Hq, D] contiguous. Query t sits at absolute position
// kv_len - num_new + t and attends to cache tokens [0, that position]. Softmax in fp32.
void CausalAttention(const float* q, const float* k_cache, const float* v_cache, float* out,
                     const AttentionParams& p);

}  // namespace qwen::kernels::cpu
