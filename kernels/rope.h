// Interleaved multimodal RoPE with partial rotary and half-split rotation (MODEL.md 2.6).
#pragma once

#include <array>
#include <cstdint>

namespace qwen::kernels::cpu {

struct MRopeParams {
  int64_t num_tokens;
  int64_t num_heads;
  int64_t head_dim;      // D (256); only the first rotary_dim dims rotate
  int64_t rotary_dim;    // R (64)
  int64_t token_stride;  // elements between consecutive tokens' first head
  int64_t head_stride;   // elements between consecutive heads of one token
  double theta;          // rope_theta
  std::array<int, 3> mrope_section;  // T/H/W slot counts, sum == rotary_dim / 2
};

// Rotates x in place. positions: i64 [3, num_tokens] (rows T, H, W). Frequency slot i uses
// axis H if i % 3 == 1 and i < 3*section[1], W if i % 3 == 2 and i < 3*section[2], else T;
// inv_freq[i] = theta^(-2i/R) computed in fp32; pairs (i, i + R/2) rotate NeoX-style.
void ApplyMRope(float* x, const int64_t* positions, const MRopeParams& p);

}  // namespace qwen::kernels::cpu
