// Few-row GEMM (detail/gemm_small_m.h).
#include <limits>

#include "kernels/cuda/detail/gemm_small_m.h"
#include "kernels/cuda/detail/launch_util.cuh"

namespace qwen::kernels::cuda::detail {
namespace {

constexpr int kThreads = 256;    // 8 warps
constexpr int kRowsPerWarp = 4;  // weight rows one warp streams together
constexpr int kChunk = 8;        // bf16 per 16-byte load
constexpr int kUnroll = 2;       // k steps of 256 per loop trip (loads in flight per lane)

// A 16-byte read of streamed-once weights: no L1 allocation, so x keeps the L1.
__device__ __forceinline__ uint4 LoadStream(const __nv_bfloat16* p) {
  uint4 r;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w)
               : "l"(p));
  return r;
}

__device__ __forceinline__ float2 Unpack(uint32_t v) {
  // bf16 -> fp32 is a shift: the low half is element 0.
  return make_float2(__uint_as_float(v << 16), __uint_as_float(v & 0xffff0000u));
}

__device__ __forceinline__ void Store(__nv_bfloat16* y, float v) { *y = __float2bfloat16(v); }
__device__ __forceinline__ void Store(float* y, float v) { *y = v; }

template <int M, class Out>
__global__ void __launch_bounds__(kThreads)
    SmallMGemmKernel(const __nv_bfloat16* __restrict__ x, int64_t ldx,
                     const __nv_bfloat16* __restrict__ w, Out* __restrict__ y, int64_t ldy,
                     int64_t n, int64_t k) {
  const int lane = static_cast<int>(threadIdx.x & 31);
  const int64_t warp = static_cast<int64_t>(blockIdx.x) * (kThreads / 32) + threadIdx.x / 32;
  const int64_t row0 = warp * kRowsPerWarp;
  if (row0 >= n) return;
  // Rows past n re-read the last row (their sums are dropped): no branch in the loop.
  const __nv_bfloat16* wr[kRowsPerWarp];
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) wr[r] = w + (row0 + r < n ? row0 + r : n - 1) * k;

  float acc[kRowsPerWarp][M];
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
#pragma unroll
    for (int i = 0; i < M; ++i) acc[r][i] = 0.0f;
  }
  constexpr int64_t kStep = 32 * kChunk;  // elements of k per warp-wide load
  for (int64_t k0 = lane * kChunk; k0 < k; k0 += kStep * kUnroll) {
    uint4 wv[kUnroll][kRowsPerWarp];
    bool live[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t kk = k0 + u * kStep;
      live[u] = kk < k;
#pragma unroll
      for (int r = 0; r < kRowsPerWarp; ++r) {
        wv[u][r] = live[u] ? LoadStream(wr[r] + kk) : make_uint4(0, 0, 0, 0);
      }
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      if (!live[u]) continue;
      const int64_t kk = k0 + u * kStep;
#pragma unroll
      for (int i = 0; i < M; ++i) {
        const uint4 xv = __ldg(reinterpret_cast<const uint4*>(x + i * ldx + kk));
        const float2 x0 = Unpack(xv.x), x1 = Unpack(xv.y), x2 = Unpack(xv.z), x3 = Unpack(xv.w);
#pragma unroll
        for (int r = 0; r < kRowsPerWarp; ++r) {
          const float2 w0 = Unpack(wv[u][r].x), w1 = Unpack(wv[u][r].y), w2 = Unpack(wv[u][r].z),
                       w3 = Unpack(wv[u][r].w);
          float a = acc[r][i];
          a = fmaf(x0.x, w0.x, a);
          a = fmaf(x0.y, w0.y, a);
          a = fmaf(x1.x, w1.x, a);
          a = fmaf(x1.y, w1.y, a);
          a = fmaf(x2.x, w2.x, a);
          a = fmaf(x2.y, w2.y, a);
          a = fmaf(x3.x, w3.x, a);
          a = fmaf(x3.y, w3.y, a);
          acc[r][i] = a;
        }
      }
    }
  }
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
#pragma unroll
    for (int i = 0; i < M; ++i) {
      float v = acc[r][i];
#pragma unroll
      for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
      acc[r][i] = v;
    }
  }
  // Every lane holds every sum; lane r * M + i writes (row0 + r, i).
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
#pragma unroll
    for (int i = 0; i < M; ++i) {
      if (lane == r * M + i && row0 + r < n) Store(y + i * ldy + row0 + r, acc[r][i]);
    }
  }
}

template <class Out>
cudaError_t Launch(const __nv_bfloat16* x, int64_t ldx, const __nv_bfloat16* w, Out* y, int64_t ldy,
                   int64_t m, int64_t n, int64_t k, cudaStream_t stream) {
  QWEN_CUDA_CHECK_ARG(m >= 0 && m <= kSmallMMaxRows && n >= 1 && k >= 1 && ldy >= n);
  if (m == 0) return cudaSuccess;
  QWEN_CUDA_CHECK_ARG(x != nullptr && w != nullptr && y != nullptr);
  QWEN_CUDA_CHECK_ARG(SmallMGemmApplies(x, w, m, k, ldx));
  const int64_t warps = (n + kRowsPerWarp - 1) / kRowsPerWarp;
  const int64_t blocks = (warps + kThreads / 32 - 1) / (kThreads / 32);
  QWEN_CUDA_CHECK_ARG(blocks <= std::numeric_limits<int>::max());
  const dim3 grid(static_cast<unsigned>(blocks));
  static_assert(kSmallMMaxRows == 2, "instantiate the kernel for every row count it takes");
  if (m == 1) {
    SmallMGemmKernel<1, Out><<<grid, kThreads, 0, stream>>>(x, ldx, w, y, ldy, n, k);
  } else {
    SmallMGemmKernel<2, Out><<<grid, kThreads, 0, stream>>>(x, ldx, w, y, ldy, n, k);
  }
  return cudaGetLastError();
}

}  // namespace

bool SmallMGemmApplies(const void* x, const void* w, int64_t m, int64_t k, int64_t ldx) {
  return m >= 1 && m <= kSmallMMaxRows && k % kChunk == 0 && ldx % kChunk == 0 &&
         reinterpret_cast<uintptr_t>(x) % 16 == 0 && reinterpret_cast<uintptr_t>(w) % 16 == 0;
}

cudaError_t SmallMGemm(const __nv_bfloat16* x, int64_t ldx, const __nv_bfloat16* w,
                       __nv_bfloat16* y, int64_t ldy, int64_t m, int64_t n, int64_t k,
                       cudaStream_t stream) {
  return Launch(x, ldx, w, y, ldy, m, n, k, stream);
}

cudaError_t SmallMGemm(const __nv_bfloat16* x, int64_t ldx, const __nv_bfloat16* w, float* y,
                       int64_t ldy, int64_t m, int64_t n, int64_t k, cudaStream_t stream) {
  return Launch(x, ldx, w, y, ldy, m, n, k, stream);
}

}  // namespace qwen::kernels::cuda::detail
