// CPU fp32 reference of the interleaved multimodal RoPE (kernels/rope.h, MODEL.md 2.6).
#include "kernels/rope.h"

#include <cmath>
#include <vector>

namespace qwen::kernels::cpu {
namespace {

// Axis (0 = T, 1 = H, 2 = W) of frequency slot i. TRAP: the slots are interleaved T,H,W,T,H,W,...
// (HF apply_interleaved_mrope), not contiguous sections; section[0] is never read, T takes every
// slot that H and W do not claim.
int SlotAxis(int64_t i, const std::array<int, 3>& section) {
  if (i % 3 == 1 && i < 3 * static_cast<int64_t>(section[1])) return 1;
  if (i % 3 == 2 && i < 3 * static_cast<int64_t>(section[2])) return 2;
  return 0;
}

}  // namespace

void ApplyMRope(float* x, const int64_t* positions, const MRopeParams& p) {
  const int64_t half = p.rotary_dim / 2;
  // inv_freq exactly as HF computes it in fp32:
  //   1.0 / (theta ** (torch.arange(0, R, 2, dtype=torch.int64).float() / R))
  // i.e. exponent = float(2i) / float(R), power in fp32 of float(theta), then a fp32 reciprocal.
  std::vector<float> inv_freq(static_cast<size_t>(half));
  std::vector<int> axis(static_cast<size_t>(half));
  const float theta = static_cast<float>(p.theta);
  for (int64_t i = 0; i < half; ++i) {
    const float exponent = static_cast<float>(2 * i) / static_cast<float>(p.rotary_dim);
    inv_freq[i] = 1.0f / std::pow(theta, exponent);
    axis[i] = SlotAxis(i, p.mrope_section);
  }
  std::vector<float> cos_t(static_cast<size_t>(half));
  std::vector<float> sin_t(static_cast<size_t>(half));
  for (int64_t t = 0; t < p.num_tokens; ++t) {
    for (int64_t i = 0; i < half; ++i) {
      // The angle is one fp32 product (HF: inv_freq.float() @ position_ids.float()).
      const float pos = static_cast<float>(positions[axis[i] * p.num_tokens + t]);
      const float angle = pos * inv_freq[i];
      cos_t[i] = std::cos(angle);
      sin_t[i] = std::sin(angle);
    }
    for (int64_t h = 0; h < p.num_heads; ++h) {
      float* xh = x + t * p.token_stride + h * p.head_stride;
      // TRAP: NeoX rotate_half pairs (i, i + R/2), not adjacent pairs; dims >= R pass through.
      for (int64_t i = 0; i < half; ++i) {
        const float x1 = xh[i];
        const float x2 = xh[i + half];
        xh[i] = x1 * cos_t[i] - x2 * sin_t[i];
        xh[i + half] = x2 * cos_t[i] + x1 * sin_t[i];
      }
    }
  }
}

}  // namespace qwen::kernels::cpu
