// Non-causal multi-head attention restricted to segments (varlen, cu_seqlens), as the vision
// encoder runs it: every temporal slice of every image/video is its own segment (MODEL.md 4.4).
#pragma once

#include <cstdint>

namespace qwen::kernels::cpu {

struct SegmentAttentionParams {
  int64_t num_segments;  // cu_seqlens has num_segments + 1 entries, cu_seqlens[0] = 0
  int64_t num_heads;
  int64_t head_dim;
  int64_t q_stride;    // elements between consecutive tokens of q
  int64_t kv_stride;   // elements between consecutive tokens of k and of v
  int64_t out_stride;  // elements between consecutive tokens of out
  float scale;         // softmax scale, head_dim^-1/2
};

// q, k, v: token t head h at [t * stride + h * head_dim] (q, k already rotated). Token t of segment
// s (cu_seqlens[s] <= t < cu_seqlens[s+1], non-decreasing) attends to every token of its own
// segment and no other (bidirectional, no mask inside the segment). out: f32, token t head h at
// [t * out_stride + h * head_dim]. Softmax in fp32, max-subtracted.
void SegmentAttention(const float* q, const float* k, const float* v, const int64_t* cu_seqlens,
                      float* out, const SegmentAttentionParams& p);

}  // namespace qwen::kernels::cpu
