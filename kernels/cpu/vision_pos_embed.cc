// CPU fp32 reference of the bilinear position-table resampling (kernels/vision_pos_embed.h).
#include "kernels/vision_pos_embed.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace qwen::kernels::cpu {
namespace {

struct AxisTaps {
  int64_t tap[2];
  float weight[2];
};

// One axis of HF's _interpolation_axis_taps_weights(mode="bilinear", align_corners=True), with the
// same fp32 operation order:
//   src = index * (side - 1) / clamp(size - 1, min=1); floor = floor(src)
//   distance_o = |(src - floor) - o|, weight_o = max(1 - distance_o, 0), tap_o = clamp(floor + o)
// TRAP: align_corners=True maps the first and last patch onto the table's corners exactly; the
// half-pixel (align_corners=False) form gives visibly different embeddings.
AxisTaps Taps(int64_t index, int64_t size, int64_t side) {
  const float src = static_cast<float>(index) * static_cast<float>(side - 1) /
                    static_cast<float>(std::max<int64_t>(size - 1, 1));
  const float floor = std::floor(src);
  const float frac = src - floor;
  AxisTaps a;
  for (int o = 0; o < 2; ++o) {
    const float distance = std::fabs(frac - static_cast<float>(o));
    a.weight[o] = std::max(1.0f - distance, 0.0f);
    a.tap[o] = std::clamp<int64_t>(static_cast<int64_t>(floor) + o, 0, side - 1);
  }
  return a;
}

}  // namespace

void BilinearPosEmbed(const float* table, float* out, const PosEmbedParams& p) {
  const int64_t m = p.merge_size;
  const int64_t blocks_w = p.width / m;
  std::vector<AxisTaps> row_taps, col_taps;
  for (int64_t r = 0; r < p.height; ++r) row_taps.push_back(Taps(r, p.height, p.side));
  for (int64_t c = 0; c < p.width; ++c) col_taps.push_back(Taps(c, p.width, p.side));
  const int64_t n_total = p.height * p.width;
  for (int64_t n = 0; n < n_total; ++n) {
    // Decode the merge-block order (the inverse of the processor's patch reordering).
    const int64_t mw = n % m;
    const int64_t mh = (n / m) % m;
    const int64_t bw = (n / (m * m)) % blocks_w;
    const int64_t bh = n / (m * m * blocks_w);
    const AxisTaps& ry = row_taps[bh * m + mh];
    const AxisTaps& cx = col_taps[bw * m + mw];
    const float* rows[4];
    float weights[4];
    for (int a = 0; a < 2; ++a) {
      for (int b = 0; b < 2; ++b) {
        rows[a * 2 + b] = table + (ry.tap[a] * p.side + cx.tap[b]) * p.dim;
        weights[a * 2 + b] = ry.weight[a] * cx.weight[b];
      }
    }
    float* o = out + n * p.dim;
    for (int64_t i = 0; i < p.dim; ++i) {
      o[i] = ((rows[0][i] * weights[0] + rows[1][i] * weights[1]) + rows[2][i] * weights[2]) +
             rows[3][i] * weights[3];
    }
  }
}

}  // namespace qwen::kernels::cpu
