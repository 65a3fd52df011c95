// Bilinear resampling of the vision encoder's learned square position table to one image's patch
// grid (MODEL.md 4.2; HF get_vision_interpolation_indices_and_weights, mode "bilinear",
// align_corners=True).
#pragma once

#include <cstdint>

namespace qwen::kernels::cpu {

struct PosEmbedParams {
  int64_t side;        // S: the table is S x S rows, row index y * S + x
  int64_t dim;         // Hvis
  int64_t height;      // h: patch rows of the image
  int64_t width;       // w: patch columns of the image
  int64_t merge_size;  // m: output rows in m x m merge-block order (1 = raster order)
};

// table: f32 [S*S, dim]; out: f32 [h*w, dim], row n for patch (r, c) with
// n = ((bh * (w/m) + bw) * m + mh) * m + mw, r = bh*m + mh, c = bw*m + mw (h, w multiples of m).
// Per axis (fp32, as HF): s = i * (S-1) / max(n-1, 1), taps floor(s) and floor(s)+1 clamped to
// S-1, weights 1 - |s - floor(s) - o| for o = 0, 1; the 2-D weights are the products, and the four
// weighted table rows are summed in the order (y0,x0), (y0,x1), (y1,x0), (y1,x1).
void BilinearPosEmbed(const float* table, float* out, const PosEmbedParams& p);

}  // namespace qwen::kernels::cpu
