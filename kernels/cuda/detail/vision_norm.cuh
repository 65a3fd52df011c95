// Warp-per-row LayerNorm programs of the vision encoder (kernels/cuda/vision.h): LayerNorm, and
// BiasResidualLayerNorm (the fp32 product of a linear layer + its bias, rounded, added to the bf16
// residual stream, rounded, then LayerNorm of the result). A row of up to kLnWarpMaxDim elements
// is held in one warp's registers: 16-byte accesses, each element read once from global memory,
// two-pass statistics from the registers, butterfly-shuffle sums, no shared memory and no block
// barrier. Kernels of CUDA translation units, and of the CPU SIMT emulation test
// (tests/kernels/cuda/emulation_vision_norm_test.cc), which runs this source on the host.
//
// Layout of a row in a warp: chunk c holds elements [8c, 8c + 8); lane l holds chunks l, l + 32,
// ... (kChunks of them; those at or past dim / 8 are absent), so one load instruction of the warp
// covers 32 consecutive chunks.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <cstring>

#include "kernels/cuda/detail/block.h"
#include "kernels/cuda/detail/gemm_bias.h"
#include "kernels/cuda/detail/vision_core.h"

namespace qwen::kernels::cuda::detail {

inline constexpr int kLnWarpSize = 32;
inline constexpr int kLnWarpRows = 4;  // rows (warps) per block
inline constexpr int kLnWarpThreads = kLnWarpRows * kLnWarpSize;
inline constexpr int kLnChunk = 8;  // elements per 16-byte bf16 access
inline constexpr int64_t kLnWarpMaxDim = 4096;

// Chunks per lane the kernels are instantiated for (registers grow with it: 8 fp32 per chunk);
// LnWarpChunks rounds a row's need up to one of them.
#define QWEN_LN_WARP_CHUNKS(X) X(1) X(2) X(4) X(5) X(6) X(8) X(12) X(16)

// The instantiation for rows of `dim` elements, or 0 when the warp programs cannot take them
// (dim not a positive multiple of 8, or above kLnWarpMaxDim).
inline int LnWarpChunks(int64_t dim) {
  if (dim < kLnChunk || dim % kLnChunk != 0 || dim > kLnWarpMaxDim) return 0;
  const int64_t need = CeilDiv<int64_t>(dim / kLnChunk, kLnWarpSize);
  int chosen = 0;
#define QWEN_LN_PICK(n) \
  if (chosen == 0 && (n) >= need) chosen = (n);
  QWEN_LN_WARP_CHUNKS(QWEN_LN_PICK)
#undef QWEN_LN_PICK
  return chosen;
}

// The warp's collective: every lane gets the same sum (each butterfly step adds the same two
// partial sums on both lanes of a pair, and fp32 addition commutes).
struct DeviceWarp {
  int lane = 0;
  __device__ __forceinline__ float Sum(float v) const {
    QWEN_UNROLL
    for (int o = kLnWarpSize / 2; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
  }
};

struct BiasResidualLnArgs {
  const float* acc = nullptr;           // fp32 [rows, dim], rows acc_stride apart
  const __nv_bfloat16* bias = nullptr;  // [dim] or nullptr
  __nv_bfloat16* residual = nullptr;    // [rows, dim], rows residual_stride apart (in and out)
  const __nv_bfloat16* w = nullptr;     // [dim]
  const __nv_bfloat16* b = nullptr;     // [dim] or nullptr
  __nv_bfloat16* normed = nullptr;      // [rows, dim], rows normed_stride apart, or nullptr
  int64_t rows = 0;
  int dim = 0;
  int64_t acc_stride = 0;
  int64_t residual_stride = 0;
  int64_t normed_stride = 0;
  float eps = 1e-6f;
};

__device__ __forceinline__ int LnChunkOf(int lane, int i) { return lane + kLnWarpSize * i; }

// The chunk a lane loads for its i-th: absent ones re-read the row's last chunk (never used), so
// that every load of a row is unconditional and all are in flight at once.
__device__ __forceinline__ int LnLoadChunkOf(int lane, int i, int chunks) {
  return MinOf(LnChunkOf(lane, i), chunks - 1);
}

// One chunk as bf16 (16 bytes, 4 registers): rows are held packed and widened to fp32 (exactly)
// where they are used.
struct alignas(16) Bf16x8 {
  __nv_bfloat16 v[kLnChunk];
};

__device__ __forceinline__ Bf16x8 LoadChunk(const __nv_bfloat16* p) {
#if defined(__CUDA_ARCH__)
  return *reinterpret_cast<const Bf16x8*>(p);
#else
  Bf16x8 r;
  std::memcpy(static_cast<void*>(&r), static_cast<const void*>(p), sizeof(r));
  return r;
#endif
}

__device__ __forceinline__ void StoreChunk(__nv_bfloat16* p, const Bf16x8& c) {
#if defined(__CUDA_ARCH__)
  *reinterpret_cast<Bf16x8*>(p) = c;
#else
  std::memcpy(static_cast<void*>(p), static_cast<const void*>(&c), sizeof(c));
#endif
}

// LayerNorm of the row the warp holds in v into y. Both programs end here, so the fused one
// normalises bit for bit as LayerNorm on its rounded residual does. The statistics follow the
// block program's formulas (mean, then the mean squared deviation, then 1 / sqrt); only the
// order of the fp32 sums differs.
template <int kChunks, class Warp>
__device__ __forceinline__ void LnFromRegisters(const Warp& warp, const Bf16x8 (&v)[kChunks],
                                                int dim, const __nv_bfloat16* w,
                                                const __nv_bfloat16* b, __nv_bfloat16* y,
                                                float eps) {
  const int chunks = dim / kLnChunk;
  const float inv_dim = 1.0f / static_cast<float>(dim);
  float s = 0.0f;
  QWEN_UNROLL
  for (int i = 0; i < kChunks; ++i) {
    if (LnChunkOf(warp.lane, i) >= chunks) continue;
    QWEN_UNROLL
    for (int e = 0; e < kLnChunk; ++e) s += __bfloat162float(v[i].v[e]);
  }
  const float mean = warp.Sum(s) * inv_dim;
  float q = 0.0f;
  QWEN_UNROLL
  for (int i = 0; i < kChunks; ++i) {
    if (LnChunkOf(warp.lane, i) >= chunks) continue;
    QWEN_UNROLL
    for (int e = 0; e < kLnChunk; ++e) {
      const float d = __bfloat162float(v[i].v[e]) - mean;
      q += d * d;
    }
  }
  const float rstd = 1.0f / sqrtf(warp.Sum(q) * inv_dim + eps);
  QWEN_UNROLL
  for (int i = 0; i < kChunks; ++i) {
    const int c = LnChunkOf(warp.lane, i);
    if (c >= chunks) continue;
    float wv[kLnChunk], bv[kLnChunk], o[kLnChunk];
    LoadVecF<kLnChunk>(w + c * kLnChunk, wv);
    if (b != nullptr) LoadVecF<kLnChunk>(b + c * kLnChunk, bv);
    QWEN_UNROLL
    for (int e = 0; e < kLnChunk; ++e) {
      const float t = (__bfloat162float(v[i].v[e]) - mean) * rstd * wv[e];
      o[e] = b != nullptr ? t + bv[e] : t;
    }
    StoreVecBf16<kLnChunk>(y + c * kLnChunk, o);
  }
}

template <int kChunks, class Warp>
__device__ __forceinline__ void LayerNormWarpRow(const Warp& warp, int64_t row,
                                                 const LayerNormArgs& a) {
  const __nv_bfloat16* x = a.x + row * a.x_stride;
  const int chunks = a.dim / kLnChunk;
  Bf16x8 v[kChunks];
  QWEN_UNROLL
  for (int i = 0; i < kChunks; ++i) {
    v[i] = LoadChunk(x + LnLoadChunkOf(warp.lane, i, chunks) * kLnChunk);
  }
  // The whole row is in registers before the first store: y may alias x.
  LnFromRegisters<kChunks>(warp, v, a.dim, a.w, a.b, a.y + row * a.y_stride, a.eps);
}

// Chunks of fp32 products in flight per lane at once in BiasResidualLnWarpRow (12 registers
// each): the whole row up to 6 chunks (dim <= 1536), then groups of 4.
template <int kChunks>
inline constexpr int kLnLoadGroup = kChunks <= 6 ? kChunks : 4;

// residual = bf16(residual + bf16(acc + bias)) as Gemm's BiasConvertBf16 then Add round, then
// normed = LayerNorm(residual) from the rounded values.
template <int kChunks, class Warp>
__device__ __forceinline__ void BiasResidualLnWarpRow(const Warp& warp, int64_t row,
                                                      const BiasResidualLnArgs& a) {
  constexpr int kGroup = kLnLoadGroup<kChunks>;
  constexpr int kHalf = kLnChunk / 2;  // fp32 rows need only 16-byte alignment: two halves
  const float* acc = a.acc + row * a.acc_stride;
  __nv_bfloat16* res = a.residual + row * a.residual_stride;
  const int chunks = a.dim / kLnChunk;
  Bf16x8 v[kChunks];
  QWEN_UNROLL
  for (int g = 0; g < kChunks; g += kGroup) {
    float lo[kGroup][kHalf], hi[kGroup][kHalf];
    QWEN_UNROLL
    for (int j = 0; j < kGroup && g + j < kChunks; ++j) {
      const int e0 = LnLoadChunkOf(warp.lane, g + j, chunks) * kLnChunk;
      LoadVecF<kHalf>(acc + e0, lo[j]);
      LoadVecF<kHalf>(acc + e0 + kHalf, hi[j]);
      v[g + j] = LoadChunk(res + e0);
    }
    QWEN_UNROLL
    for (int j = 0; j < kGroup && g + j < kChunks; ++j) {
      const int c = LnChunkOf(warp.lane, g + j);
      if (c >= chunks) continue;
      float t[kLnChunk], bv[kLnChunk];
      if (a.bias != nullptr) LoadVecF<kLnChunk>(a.bias + c * kLnChunk, bv);
      QWEN_UNROLL
      for (int e = 0; e < kLnChunk; ++e) {
        const float p = e < kHalf ? lo[j][e] : hi[j][e - kHalf];
        t[e] =
            __bfloat162float(a.bias != nullptr ? BiasConvertElem(p, bv[e]) : __float2bfloat16(p));
      }
      QWEN_UNROLL
      for (int e = 0; e < kLnChunk; ++e) {  // residual + t, rounded once (as Add)
        v[g + j].v[e] = __float2bfloat16(__bfloat162float(v[g + j].v[e]) + t[e]);
      }
      StoreChunk(res + c * kLnChunk, v[g + j]);
    }
  }
  if (a.normed == nullptr) return;
  LnFromRegisters<kChunks>(warp, v, a.dim, a.w, a.b, a.normed + row * a.normed_stride, a.eps);
}

// Warp w of block x takes row kLnWarpRows * x + w (rows past the end: the whole warp leaves).
__device__ __forceinline__ int64_t LnWarpRowOfThread() {
  return static_cast<int64_t>(blockIdx.x) * kLnWarpRows +
         static_cast<int64_t>(threadIdx.x) / kLnWarpSize;
}

template <int kChunks>
__global__ void __launch_bounds__(kLnWarpThreads) LayerNormWarpKernel(const LayerNormArgs a) {
  const int64_t row = LnWarpRowOfThread();
  if (row >= a.rows) return;
  LayerNormWarpRow<kChunks>(DeviceWarp{static_cast<int>(threadIdx.x) % kLnWarpSize}, row, a);
}

template <int kChunks>
__global__ void __launch_bounds__(kLnWarpThreads)
    BiasResidualLayerNormKernel(const BiasResidualLnArgs a) {
  const int64_t row = LnWarpRowOfThread();
  if (row >= a.rows) return;
  BiasResidualLnWarpRow<kChunks>(DeviceWarp{static_cast<int>(threadIdx.x) % kLnWarpSize}, row, a);
}

inline int64_t LnWarpBlocks(int64_t rows) { return CeilDiv<int64_t>(rows, kLnWarpRows); }

}  // namespace qwen::kernels::cuda::detail
