// 2-D (axial) rotary embedding of the vision encoder (MODEL.md 4.3, HF
// Qwen3_5VisionRotaryEmbedding + apply_rotary_pos_emb_vision).
#pragma once

#include <cstdint>

namespace qwen::kernels::cpu {

struct VisionRopeParams {
  int64_t num_tokens;
  int64_t num_heads;
  int64_t head_dim;      // hd_v, a multiple of 4; the whole head rotates
  int64_t token_stride;  // elements between consecutive tokens' first head
  int64_t head_stride;   // elements between consecutive heads of one token
  double theta;          // vision rope_theta (10000)
};

// Rotates x in place. rows, cols: i64 [num_tokens] un-merged patch coordinates (row r, column c
// of the patch grid). With F = head_dim / 4 frequencies inv_freq[i] = theta^(-2i / (head_dim/2))
// (fp32, as HF), the angles are phi = [r * inv_freq (F values), c * inv_freq (F values)] (length
// head_dim / 2) and pairs (j, j + head_dim/2) rotate NeoX-style (rotate_half on the full head).
void ApplyVisionRope(float* x, const int64_t* rows, const int64_t* cols, const VisionRopeParams& p);

}  // namespace qwen::kernels::cpu
