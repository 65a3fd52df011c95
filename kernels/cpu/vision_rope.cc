// CPU fp32 reference of the vision 2-D RoPE (kernels/vision_rope.h, MODEL.md 4.3).
#include "kernels/vision_rope.h"

#include <cmath>
#include <vector>

namespace qwen::kernels::cpu {

void ApplyVisionRope(float* x, const int64_t* rows, const int64_t* cols,
                     const VisionRopeParams& p) {
  const int64_t half = p.head_dim / 2;      // rotation pairs (j, j + half)
  const int64_t num_freq = p.head_dim / 4;  // per axis
  // inv_freq exactly as HF's compute_axial_rope_parameters in fp32:
  //   spatial_dim = head_dim // 2
  //   1.0 / (theta ** (torch.arange(0, spatial_dim, 2, dtype=torch.float) / spatial_dim))
  std::vector<float> inv_freq(static_cast<size_t>(num_freq));
  const float theta = static_cast<float>(p.theta);
  for (int64_t i = 0; i < num_freq; ++i) {
    const float exponent = static_cast<float>(2 * i) / static_cast<float>(half);
    inv_freq[i] = 1.0f / std::pow(theta, exponent);
  }
  std::vector<float> cos_t(static_cast<size_t>(half));
  std::vector<float> sin_t(static_cast<size_t>(half));
  for (int64_t t = 0; t < p.num_tokens; ++t) {
    // TRAP: the angles are [row freqs | column freqs] (recomposition_frequencies), then the whole
    // vector repeats for the second half of the head; rows/cols are un-merged patch coordinates.
    const float r = static_cast<float>(rows[t]);
    const float c = static_cast<float>(cols[t]);
    for (int64_t i = 0; i < num_freq; ++i) {
      const float angle_r = r * inv_freq[i];
      const float angle_c = c * inv_freq[i];
      cos_t[i] = std::cos(angle_r);
      sin_t[i] = std::sin(angle_r);
      cos_t[num_freq + i] = std::cos(angle_c);
      sin_t[num_freq + i] = std::sin(angle_c);
    }
    for (int64_t h = 0; h < p.num_heads; ++h) {
      float* xh = x + t * p.token_stride + h * p.head_stride;
      for (int64_t j = 0; j < half; ++j) {
        const float x1 = xh[j];
        const float x2 = xh[j + half];
        xh[j] = x1 * cos_t[j] - x2 * sin_t[j];
        xh[j + half] = x2 * cos_t[j] + x1 * sin_t[j];
      }
    }
  }
}

}  // namespace qwen::kernels::cpu
