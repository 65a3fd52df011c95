// Block programs of the vision encoder's element-wise CUDA ops (kernels/cuda/vision.h), written
// against the execution policy of detail/block.h so that the CPU emulation tests run this exact
// code against kernels/cpu: LayerNorm (MODEL.md 4.4; the block-per-row form, for the rows the
// warp-per-row one of detail/vision_norm.cuh does not take), bias + GELU (tanh and erf), the 2-D
// vision RoPE (4.3), alone and fused with the qkv bias, and the bilinear position-embedding
// resampling (4.2). bf16 in and out, fp32 arithmetic in the reference's operation order, one
// rounding at the end.
#pragma once

#include <cuda_bf16.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels/cuda/detail/block.h"
#include "kernels/cuda/detail/gemm_bias.h"
#include "kernels/cuda/detail/numeric.h"

namespace qwen::kernels::cuda::detail {

QWEN_HD_INLINE float ToFloatAny(float x) { return x; }
QWEN_HD_INLINE float ToFloatAny(__nv_bfloat16 x) { return __bfloat162float(x); }

// V consecutive elements to fp32 / from fp32 to bf16: one 16-byte (or 8-byte for fp32 x4)
// access on the device when V * sizeof(T) is 8 or 16 bytes (the launchers check alignment),
// element by element on the host.
template <int V, class T>
QWEN_HD_INLINE void LoadVecF(const T* p, float (&out)[V]) {
#if defined(__CUDA_ARCH__)
  struct alignas(sizeof(T) * V) Pack {
    T v[V];
  };
  const Pack tmp = *reinterpret_cast<const Pack*>(p);
  QWEN_UNROLL
  for (int i = 0; i < V; ++i) out[i] = ToFloatAny(tmp.v[i]);
#else
  for (int i = 0; i < V; ++i) out[i] = ToFloatAny(p[i]);
#endif
}

template <int V>
QWEN_HD_INLINE void StoreVecBf16(__nv_bfloat16* p, const float (&in)[V]) {
#if defined(__CUDA_ARCH__)
  struct alignas(2 * V) Pack {
    __nv_bfloat16 v[V];
  };
  Pack tmp;
  QWEN_UNROLL
  for (int i = 0; i < V; ++i) tmp.v[i] = __float2bfloat16(in[i]);
  *reinterpret_cast<Pack*>(p) = tmp;
#else
  for (int i = 0; i < V; ++i) p[i] = __float2bfloat16(in[i]);
#endif
}

// ---------------------------------------------------------------------------------------------
// LayerNorm: one block per row; two-pass statistics (mean, then squared deviations) as the CPU
// reference, each a strided partial sum per item and a tree over kLnThreads partials. Any dim and
// alignment: the launcher's fallback behind the warp-per-row program (detail/vision_norm.cuh).

inline constexpr int kLnThreads = 256;

struct LayerNormArgs {
  const __nv_bfloat16* x = nullptr;
  const __nv_bfloat16* w = nullptr;
  const __nv_bfloat16* b = nullptr;  // or nullptr
  __nv_bfloat16* y = nullptr;        // may alias x
  int64_t rows = 0;
  int dim = 0;
  int64_t x_stride = 0;
  int64_t y_stride = 0;
  float eps = 1e-6f;
};

inline constexpr int kLnSmemFloats = kLnThreads + 2;

template <class Block>
QWEN_HD void LayerNormBlock(const Block& blk, int64_t row, const LayerNormArgs& a, float* smem) {
  float* part = smem;                // [kLnThreads]
  float* stats = smem + kLnThreads;  // mean, rstd
  const __nv_bfloat16* x = a.x + row * a.x_stride;
  const float inv_dim = 1.0f / static_cast<float>(a.dim);
  blk.For(kLnThreads, [&](int i) {
    float s = 0.0f;
    for (int j = i; j < a.dim; j += kLnThreads) s += ToFloat(x[j]);
    part[i] = s;
  });
  blk.Sync();
  for (int w = kLnThreads / 2; w >= 1; w /= 2) {
    blk.For(w, [&](int i) { part[i] += part[i + w]; });
    blk.Sync();
  }
  blk.For(1, [&](int) { stats[0] = part[0] * inv_dim; });
  blk.Sync();
  blk.For(kLnThreads, [&](int i) {
    const float mean = stats[0];
    float s = 0.0f;
    for (int j = i; j < a.dim; j += kLnThreads) {
      const float d = ToFloat(x[j]) - mean;
      s += d * d;
    }
    part[i] = s;
  });
  blk.Sync();
  for (int w = kLnThreads / 2; w >= 1; w /= 2) {
    blk.For(w, [&](int i) { part[i] += part[i + w]; });
    blk.Sync();
  }
  blk.For(1, [&](int) { stats[1] = 1.0f / sqrtf(part[0] * inv_dim + a.eps); });
  blk.Sync();
  __nv_bfloat16* y = a.y + row * a.y_stride;
  blk.For(a.dim, [&](int j) {
    // Element j is read before it is written, by the same item: y may alias x.
    const float v = (ToFloat(x[j]) - stats[0]) * stats[1] * ToFloat(a.w[j]);
    y[j] = __float2bfloat16(a.b != nullptr ? v + ToFloat(a.b[j]) : v);
  });
}

// ---------------------------------------------------------------------------------------------
// Bias + GELU over a [rows, cols] view, V columns per item (kGeluThreads items per block).

inline constexpr int kGeluThreads = 256;

// As kernels/cpu/gelu.cc (PyTorch's CPU kernels): tanh form and exact erf form.
QWEN_HD_INLINE float GeluTanhF(float v) {
  constexpr float kBeta = 0.7978845608028654f;  // sqrt(2 / pi)
  constexpr float kKappa = 0.044715f;
  const float inner = kBeta * (v + kKappa * v * v * v);
  return 0.5f * v * (1.0f + tanhf(inner));
}
QWEN_HD_INLINE float GeluErfF(float v) {
  constexpr float kInvSqrt2 = 0.7071067811865476f;
  return v * 0.5f * (1.0f + erff(v * kInvSqrt2));
}

template <class T>
struct GeluArgs {
  const T* x = nullptr;                 // [rows, cols], rows x_stride apart (bf16 or f32)
  const __nv_bfloat16* bias = nullptr;  // [cols] or nullptr
  __nv_bfloat16* out = nullptr;         // rows out_stride apart; may alias x when T is bf16
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t x_stride = 0;
  int64_t out_stride = 0;
  bool erf = false;  // false: tanh approximation (ViT blocks); true: exact (patch merger)
};

template <int V, class T>
inline int64_t GeluBlocks(const GeluArgs<T>& a) {
  return CeilDiv<int64_t>(a.rows * (a.cols / V), kGeluThreads);
}

template <int V, class T, class Block>
QWEN_HD void BiasGeluBlock(const Block& blk, int64_t bx, const GeluArgs<T>& a) {
  blk.For(kGeluThreads, [&](int i) {
    const int64_t per_row = a.cols / V;
    const int64_t e = bx * kGeluThreads + i;
    if (e >= a.rows * per_row) return;
    const int64_t r = e / per_row, c = (e - r * per_row) * V;
    float v[V], bv[V];
    LoadVecF<V>(a.x + r * a.x_stride + c, v);
    if (a.bias != nullptr) {
      LoadVecF<V>(a.bias + c, bv);
    } else {
      for (int j = 0; j < V; ++j) bv[j] = 0.0f;
    }
    QWEN_UNROLL
    for (int j = 0; j < V; ++j) {
      const float s = a.bias != nullptr ? v[j] + bv[j] : v[j];
      v[j] = a.erf ? GeluErfF(s) : GeluTanhF(s);
    }
    StoreVecBf16<V>(a.out + r * a.out_stride + c, v);
  });
}

// ---------------------------------------------------------------------------------------------
// Vision 2-D RoPE: one block per token; cos/sin of its head_dim / 2 angles in shared memory, then
// every (head, pair). inv_freq is computed on the host exactly as kernels/cpu/vision_rope.cc.

inline constexpr int kVisionRopeMaxFreq = 64;  // head_dim <= 256
inline constexpr int kVisionRopeThreads = 128;

struct VisionRopeTable {
  float inv_freq[kVisionRopeMaxFreq];
};

inline VisionRopeTable MakeVisionRopeTable(double theta, int head_dim) {
  VisionRopeTable t{};
  const int half = head_dim / 2, num_freq = head_dim / 4;
  const float theta_f = static_cast<float>(theta);
  for (int i = 0; i < num_freq && i < kVisionRopeMaxFreq; ++i) {
    const float exponent = static_cast<float>(2 * i) / static_cast<float>(half);
    t.inv_freq[i] = 1.0f / std::pow(theta_f, exponent);
  }
  return t;
}

template <class Pos>
struct VisionRopeArgs {
  __nv_bfloat16* x = nullptr;
  const Pos* rows = nullptr;  // [num_tokens] patch row
  const Pos* cols = nullptr;  // [num_tokens] patch column
  int64_t num_tokens = 0;
  int num_heads = 0;
  int head_dim = 0;  // multiple of 4
  int64_t token_stride = 0;
  int64_t head_stride = 0;
};

QWEN_HD_INLINE int VisionRopeSmemFloats(int head_dim) { return head_dim; }

// The two RoPE programs below (and so ApplyVisionRope and BiasVisionRope) share these, so that the
// fused one rotates bit for bit as the unfused sequence does.
template <class Pos>
QWEN_HD_INLINE void VisionRopeCosSin(const Pos* rows, const Pos* cols, int64_t t, int i,
                                     int num_freq, const VisionRopeTable& tab, float* c, float* s) {
  // TRAP: angles are [row freqs | column freqs], repeated for the second half of the head.
  const bool col = i >= num_freq;
  const float pos = static_cast<float>(col ? cols[t] : rows[t]);
  const float angle = pos * tab.inv_freq[col ? i - num_freq : i];
  *c = cosf(angle);
  *s = sinf(angle);
}

// NeoX pair (x[j], x[j + head_dim / 2]).
QWEN_HD_INLINE void RotatePair(float x1, float x2, float c, float s, float* y1, float* y2) {
  *y1 = x1 * c - x2 * s;
  *y2 = x2 * c + x1 * s;
}

template <class Pos, class Block>
QWEN_HD void VisionRopeBlock(const Block& blk, int64_t t, const VisionRopeArgs<Pos>& a,
                             const VisionRopeTable& tab, float* smem) {
  const int half = a.head_dim / 2, num_freq = a.head_dim / 4;
  float* cs = smem;         // [half]
  float* sn = smem + half;  // [half]
  blk.For(half,
          [&](int i) { VisionRopeCosSin(a.rows, a.cols, t, i, num_freq, tab, cs + i, sn + i); });
  blk.Sync();
  blk.For(a.num_heads * half, [&](int i) {
    const int h = i / half, j = i - h * half;
    __nv_bfloat16* xh = a.x + t * a.token_stride + h * a.head_stride;
    float y1, y2;
    RotatePair(ToFloat(xh[j]), ToFloat(xh[j + half]), cs[j], sn[j], &y1, &y2);
    xh[j] = __float2bfloat16(y1);
    xh[j + half] = __float2bfloat16(y2);
  });
}

// ---------------------------------------------------------------------------------------------
// Bias + vision RoPE on the fp32 product of the qkv GEMM (GemmF32Out), one block per token: every
// element is rounded once to bf16 as the bf16-output GEMM with a bias does (BiasConvertElem), then
// the first num_heads heads of the row (q and k) rotate that rounded value as VisionRopeBlock does
// (fp32, one more rounding); the rest of the row (v) is only rounded. V elements per item: 4
// (16-byte fp32 loads, 8-byte bf16 ones; head_dim % 8 == 0 keeps both halves of a head aligned)
// or 1.

template <class Pos>
struct BiasVisionRopeArgs {
  const float* acc = nullptr;           // [num_tokens, dim], rows acc_stride apart
  const __nv_bfloat16* bias = nullptr;  // [dim] or nullptr
  __nv_bfloat16* out = nullptr;         // [num_tokens, dim], rows out_stride apart
  const Pos* rows = nullptr;            // [num_tokens] patch row
  const Pos* cols = nullptr;            // [num_tokens] patch column
  int64_t num_tokens = 0;
  int num_heads = 0;  // rotated heads: columns [0, num_heads * head_dim), head after head
  int head_dim = 0;   // multiple of 4 (of 8 when V = 4)
  int dim = 0;        // elements of a row; [num_heads * head_dim, dim) is only rounded
  int64_t acc_stride = 0;
  int64_t out_stride = 0;
};

// x = bf16(acc + bias) (bias nullptr: bf16(acc)) for V consecutive columns, back in fp32.
template <int V>
QWEN_HD_INLINE void BiasRoundVec(const float* acc, const __nv_bfloat16* bias, float (&x)[V]) {
  float b[V];
  LoadVecF<V>(acc, x);
  if (bias != nullptr) LoadVecF<V>(bias, b);
  QWEN_UNROLL
  for (int e = 0; e < V; ++e) {
    x[e] = __bfloat162float(bias != nullptr ? BiasConvertElem(x[e], b[e]) : __float2bfloat16(x[e]));
  }
}

template <int V, class Pos, class Block>
QWEN_HD void BiasVisionRopeBlock(const Block& blk, int64_t t, const BiasVisionRopeArgs<Pos>& a,
                                 const VisionRopeTable& tab, float* smem) {
  const int half = a.head_dim / 2, num_freq = a.head_dim / 4, groups = half / V;
  const int rotated = a.num_heads * a.head_dim, unrotated = (a.dim - rotated) / V;
  const float* acc = a.acc + t * a.acc_stride;
  __nv_bfloat16* out = a.out + t * a.out_stride;
  float* cs = smem;         // [half]
  float* sn = smem + half;  // [half]
  // The un-rotated columns need no angle: they go while the cos/sin table is being filled.
  blk.For(half + unrotated, [&](int i) {
    if (i < half) {
      VisionRopeCosSin(a.rows, a.cols, t, i, num_freq, tab, cs + i, sn + i);
      return;
    }
    const int c = rotated + (i - half) * V;
    float x[V];
    BiasRoundVec<V>(acc + c, a.bias != nullptr ? a.bias + c : nullptr, x);
    StoreVecBf16<V>(out + c, x);
  });
  blk.Sync();
  blk.For(a.num_heads * groups, [&](int i) {
    const int h = i / groups, j = (i - h * groups) * V;
    const int c1 = h * a.head_dim + j, c2 = c1 + half;
    float x1[V], x2[V], y1[V], y2[V];
    BiasRoundVec<V>(acc + c1, a.bias != nullptr ? a.bias + c1 : nullptr, x1);
    BiasRoundVec<V>(acc + c2, a.bias != nullptr ? a.bias + c2 : nullptr, x2);
    QWEN_UNROLL
    for (int e = 0; e < V; ++e) RotatePair(x1[e], x2[e], cs[j + e], sn[j + e], &y1[e], &y2[e]);
    StoreVecBf16<V>(out + c1, y1);
    StoreVecBf16<V>(out + c2, y2);
  });
}

// ---------------------------------------------------------------------------------------------
// Bilinear position embedding (align_corners = True), one block per output row.

inline constexpr int kPosEmbedThreads = 128;

struct PosEmbedArgs {
  const __nv_bfloat16* table = nullptr;     // [side * side, dim]
  const __nv_bfloat16* residual = nullptr;  // [frames * h * w] rows or nullptr
  __nv_bfloat16* out = nullptr;             // may alias residual
  int64_t side = 0;
  int dim = 0;
  int64_t height = 0;
  int64_t width = 0;
  int64_t merge = 1;
  int64_t frames = 1;
  int64_t residual_stride = 0;
  int64_t out_stride = 0;
};

struct AxisTap {
  int64_t tap[2];
  float weight[2];
};

// HF _interpolation_axis_taps_weights(mode="bilinear", align_corners=True), fp32, as
// kernels/cpu/vision_pos_embed.cc.
QWEN_HD_INLINE AxisTap PosEmbedTaps(int64_t index, int64_t size, int64_t side) {
  const float src = static_cast<float>(index) * static_cast<float>(side - 1) /
                    static_cast<float>(MaxOf<int64_t>(size - 1, 1));
  const float fl = floorf(src);
  const float frac = src - fl;
  AxisTap a;
  for (int o = 0; o < 2; ++o) {
    const float distance = fabsf(frac - static_cast<float>(o));
    a.weight[o] = fmaxf(1.0f - distance, 0.0f);
    a.tap[o] = MinOf<int64_t>(MaxOf<int64_t>(static_cast<int64_t>(fl) + o, 0), side - 1);
  }
  return a;
}

template <class Block>
QWEN_HD void PosEmbedBlock(const Block& blk, int64_t row, const PosEmbedArgs& a) {
  const int64_t hw = a.height * a.width;
  const int64_t n = row % hw;  // every frame repeats the image's embedding
  const int64_t m = a.merge, blocks_w = a.width / m;
  const int64_t mw = n % m, mh = (n / m) % m;
  const int64_t bw = (n / (m * m)) % blocks_w, bh = n / (m * m * blocks_w);
  const AxisTap ry = PosEmbedTaps(bh * m + mh, a.height, a.side);
  const AxisTap cx = PosEmbedTaps(bw * m + mw, a.width, a.side);
  blk.For(a.dim, [&](int i) {
    const __nv_bfloat16* r00 = a.table + (ry.tap[0] * a.side + cx.tap[0]) * a.dim;
    const __nv_bfloat16* r01 = a.table + (ry.tap[0] * a.side + cx.tap[1]) * a.dim;
    const __nv_bfloat16* r10 = a.table + (ry.tap[1] * a.side + cx.tap[0]) * a.dim;
    const __nv_bfloat16* r11 = a.table + (ry.tap[1] * a.side + cx.tap[1]) * a.dim;
    const float w00 = ry.weight[0] * cx.weight[0], w01 = ry.weight[0] * cx.weight[1];
    const float w10 = ry.weight[1] * cx.weight[0], w11 = ry.weight[1] * cx.weight[1];
    const float pe = ((ToFloat(r00[i]) * w00 + ToFloat(r01[i]) * w01) + ToFloat(r10[i]) * w10) +
                     ToFloat(r11[i]) * w11;
    const float base =
        a.residual != nullptr ? ToFloat(a.residual[row * a.residual_stride + i]) : 0.0f;
    a.out[row * a.out_stride + i] = __float2bfloat16(a.residual != nullptr ? base + pe : pe);
  });
}

}  // namespace qwen::kernels::cuda::detail
