// Block program of the M-RoPE kernel (kernels/cuda/rope.h), written against detail/block.h so the
// CPU emulation tests run this exact code. Same math as kernels/cpu/rope.cc: inv_freq and the
// slot -> axis table are computed on the host exactly as the CPU reference does; the angle is one
// fp32 product, cos/sin in fp32, the rotation in fp32, one rounding to bf16 at the end.
#pragma once

#include <cuda_bf16.h>

#include <array>
#include <cmath>
#include <cstdint>

#include "kernels/cuda/detail/block.h"
#include "kernels/cuda/detail/numeric.h"

namespace qwen::kernels::cuda::detail {

inline constexpr int kRopeMaxHalf = 128;  // rotary_dim <= 256
inline constexpr int kRopeThreads = 128;

// Passed by value as a kernel parameter (640 bytes).
struct RopeTables {
  float inv_freq[kRopeMaxHalf];
  int8_t axis[kRopeMaxHalf];  // 0 = T, 1 = H, 2 = W
};

// Host side, mirrors kernels/cpu/rope.cc: inv_freq[i] = 1 / powf(float(theta), float(2i) / R);
// slot i uses H if i % 3 == 1 and i < 3 section[1], W if i % 3 == 2 and i < 3 section[2], else T.
inline RopeTables MakeRopeTables(double theta, int rotary_dim, const std::array<int, 3>& section) {
  RopeTables t{};
  const float theta_f = static_cast<float>(theta);
  for (int i = 0; i < rotary_dim / 2 && i < kRopeMaxHalf; ++i) {
    const float exponent = static_cast<float>(2 * i) / static_cast<float>(rotary_dim);
    t.inv_freq[i] = 1.0f / std::pow(theta_f, exponent);
    int axis = 0;
    if (i % 3 == 1 && i < 3 * section[1]) {
      axis = 1;
    } else if (i % 3 == 2 && i < 3 * section[2]) {
      axis = 2;
    }
    t.axis[i] = static_cast<int8_t>(axis);
  }
  return t;
}

template <class Pos>
struct RopeArgs {
  __nv_bfloat16* x = nullptr;
  const Pos* positions = nullptr;  // [3, N]
  int64_t num_tokens = 0;
  int num_heads = 0;
  int half = 0;  // rotary_dim / 2
  int64_t token_stride = 0;
  int64_t head_stride = 0;
};

inline int RopeSmemFloats(int half) { return 2 * half; }

// Block `t` rotates every head of token t.
template <class Pos, class Block>
QWEN_HD void RopeBlock(const Block& blk, int64_t t, const RopeArgs<Pos>& a, const RopeTables& tab,
                       float* smem) {
  const int half = a.half;
  float* cs = smem;         // cos [half]
  float* sn = smem + half;  // sin [half]
  blk.For(half, [&](int i) {
    const float pos = static_cast<float>(a.positions[tab.axis[i] * a.num_tokens + t]);
    const float angle = pos * tab.inv_freq[i];
    cs[i] = cosf(angle);
    sn[i] = sinf(angle);
  });
  blk.Sync();
  blk.For(a.num_heads * half, [&](int i) {
    const int h = i / half, j = i % half;
    __nv_bfloat16* xh = a.x + t * a.token_stride + h * a.head_stride;
    // TRAP: NeoX rotate_half pairs (j, j + R/2), not adjacent pairs; dims >= R pass through.
    const float x1 = ToFloat(xh[j]);
    const float x2 = ToFloat(xh[j + half]);
    xh[j] = __float2bfloat16(x1 * cs[j] - x2 * sn[j]);
    xh[j + half] = __float2bfloat16(x2 * cs[j] + x1 * sn[j]);
  });
}

}  // namespace qwen::kernels::cuda::detail
