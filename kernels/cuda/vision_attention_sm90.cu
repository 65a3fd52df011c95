// Hopper (sm_90a) segment attention of the vision encoder: the bidirectional flash attention of
// detail/flash_attention.cuh with both products on warpgroup MMA (wgmma) instead of mma.sync.
// Compiled only for compute_90a (kernels/CMakeLists.txt, qwen_kernels_cuda_sm90a); chosen by
// kernels/cuda/vision_attention.cu on compute capability 9.0 for head dims <= 72.
//
// One block = 128 query rows of one head (tile of one segment) = 2 warpgroups x 64 rows; 256
// threads, 2 blocks per SM. K/V tiles of 64 keys stream through a two-stage cp.async ring (tile
// i + 1 loads during tile i) into the no-swizzle core-matrix layout (detail/wgmma_sm90.cuh):
// 16-byte chunk c of key j at c * 1024 + j * 16, which is K-major for K (S = Q Kᵀ, k = head dims)
// and MN-major for V (O += P V, k = keys, n = head dims) at once. Q lives in shared memory in the
// same layout (chunk c of row r at c * 2048 + r * 16). S = Q Kᵀ: ceil(D / 16) m64n64k16 from
// shared memory (the head dims past D are zero, so 72 runs as 80); P = exp2(S c - m) goes from the
// accumulators straight into the register A operand of m64n{D}k16 against V. Online softmax in
// fp32 in the log2 domain, one rounding of O / l to bf16: the same arithmetic as the mma.sync
// kernel (only the accumulation order of the products differs).
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>

#include "kernels/cuda/detail/flash_attention.cuh"
#include "kernels/cuda/detail/vision_attention_sm90.h"
#include "kernels/cuda/detail/wgmma_sm90.cuh"

namespace qwen::kernels::cuda::detail {
namespace {

template <int kD>
struct WgmmaFlashTile {
  static_assert(kD == 64 || kD == 72, "wgmma shapes instantiated for head dims 64 and 72");
  static constexpr int kRows = 128;  // query rows per block: 2 warpgroups x 64
  static constexpr int kThreads = 256;
  static constexpr int kN = 64;                // keys per K/V tile
  static constexpr int kK16 = (kD + 15) / 16;  // k16 steps of Q Kᵀ (zero dims pad 72 to 80)
  static constexpr int kQkChunks = 2 * kK16;   // 16-byte chunks of a Q / K row, with the pad
  static constexpr int kVChunks = kD / 8;      // ... of a V row
  static constexpr int kQBytes = kQkChunks * kRows * 16;
  static constexpr int kChunkBytes = kN * 16;  // one chunk column of a K / V tile
  static constexpr int kKStage = kQkChunks * kChunkBytes;
  static constexpr int kVStage = kVChunks * kChunkBytes;
  static constexpr int kSmemBytes = kQBytes + 2 * (kKStage + kVStage);
};

#if defined(QWEN_HAVE_WGMMA)
template <int kD>
struct WgmmaPv;
template <>
struct WgmmaPv<64> {
  __device__ __forceinline__ static void Run(float (&o)[32], const uint32_t (&a)[4],
                                             uint64_t desc) {
    WgmmaRsM64N64K16(o, a, desc, 1);
  }
};
template <>
struct WgmmaPv<72> {
  __device__ __forceinline__ static void Run(float (&o)[36], const uint32_t (&a)[4],
                                             uint64_t desc) {
    WgmmaRsM64N72K16(o, a, desc, 1);
  }
};
#endif

template <int kD>
__global__ void __launch_bounds__(WgmmaFlashTile<kD>::kThreads, 2)
    SegmentAttentionWgmmaKernel(const FlashArgs a) {
#if defined(QWEN_HAVE_WGMMA)
  using T = WgmmaFlashTile<kD>;
  constexpr int kN = T::kN, kRows = T::kRows, kThreads = T::kThreads;
  constexpr int kNT = kD / 8;  // n8 tiles of O
  unsigned char* smem = DynamicSmem();
  unsigned char* sQ = smem;
  unsigned char* sK = smem + T::kQBytes;    // stage st at sK + st * kKStage
  unsigned char* sV = sK + 2 * T::kKStage;  // stage st at sV + st * kVStage

  const int heads = a.num_heads_kv;  // group 1: one head per block
  const int head = static_cast<int>(blockIdx.x % static_cast<unsigned>(heads));
  const int64_t tile_lin = blockIdx.x / static_cast<unsigned>(heads);
  int seq = 0, tile = 0, num_tiles = 0;
  if (!FlashFindTile(a.cu_seqlens, a.num_seqs, tile_lin, kRows, &seq, &tile, &num_tiles)) return;
  const int tid = static_cast<int>(threadIdx.x), lane = tid & 31, warp = tid >> 5;
  const int g8 = lane >> 2, t4 = lane & 3;
  const int dr = a.head_dim;
  const int64_t q_begin = a.cu_seqlens[seq];
  const int len = a.cu_seqlens[seq + 1] - a.cu_seqlens[seq];
  const int tok0 = tile * kRows;
  const int ntok = MinOf(kRows, len - tok0);

  // Q: chunk c of row r at c * (kRows * 16) + r * 16; zeros for idle rows and padded dims.
  for (int i = tid; i < kRows * T::kQkChunks; i += kThreads) {
    const int r = i % kRows, c = i / kRows;
    const bool ok = r < ntok && c * 8 < dr;
    const __nv_bfloat16* src =
        ok ? a.q + (q_begin + tok0 + r) * a.q_stride + head * a.q_head_stride + c * 8 : a.q;
    CpAsync16(sQ + c * (kRows * 16) + r * 16, src, ok);
  }
  // Keys k0 .. k0 + 63 of K and V into stage st: thread tid copies key tid % 64, chunks
  // tid / 64 + 4i (the 8 keys of one 128-byte core matrix come from 8 neighbouring lanes, so the
  // shared-memory writes of a warp hit distinct banks).
  const int ld_key = tid % kN, ld_c0 = tid / kN;
  constexpr int kChunkStep = kThreads / kN;
  auto load_kv = [&](int st, int64_t k0) {
    const bool key_ok = k0 + ld_key < len;
    const int64_t row = (q_begin + k0 + ld_key) * a.kv_stride + static_cast<int64_t>(head) * dr;
    unsigned char* dk = sK + st * T::kKStage + ld_key * 16;
    unsigned char* dv = sV + st * T::kVStage + ld_key * 16;
#pragma unroll
    for (int c = ld_c0; c < T::kQkChunks; c += kChunkStep) {
      const bool ok = key_ok && c * 8 < dr;
      CpAsync16(dk + c * T::kChunkBytes, ok ? a.k + row + c * 8 : a.k, ok);
      if (c < T::kVChunks) CpAsync16(dv + c * T::kChunkBytes, ok ? a.v + row + c * 8 : a.v, ok);
    }
  };
  load_kv(0, 0);
  CpAsyncCommit();

  const int wg = warp >> 2;  // warpgroup: rows 64 wg .. 64 wg + 63
  const uint64_t desc_q = WgmmaDesc(SmemAddr(sQ + wg * 64 * 16), /*lbo=*/kRows * 16, /*sbo=*/128);
  const uint64_t desc_k0 = WgmmaDesc(SmemAddr(sK), /*lbo=*/T::kChunkBytes, /*sbo=*/128);
  const uint64_t desc_v0 = WgmmaDesc(SmemAddr(sV), /*lbo=*/128, /*sbo=*/T::kChunkBytes);

  float o[kNT * 4];
#pragma unroll
  for (int i = 0; i < kNT * 4; ++i) o[i] = 0.0f;
  float m_row[2] = {-INFINITY, -INFINITY}, l_row[2] = {0.0f, 0.0f};
  float s[32];  // S of the current tile (the first k16 step overwrites it)
#pragma unroll
  for (int i = 0; i < 32; ++i) s[i] = 0.0f;
  const int n_tiles = (len + kN - 1) / kN;
  const float sl2 = a.scale_log2;
  for (int it = 0; it < n_tiles; ++it) {
    const int64_t k0 = static_cast<int64_t>(it) * kN;
    const int st = it & 1;
    CpAsyncWait<0>();
    FenceProxyAsyncShared();
    __syncthreads();  // tile it (and Q) visible to the tensor cores; tile it-1's stage is free
    if (it + 1 < n_tiles) load_kv(st ^ 1, k0 + kN);
    CpAsyncCommit();

    WgmmaFence();
#pragma unroll
    for (int kk = 0; kk < T::kK16; ++kk) {
      WgmmaSsM64N64K16(s, WgmmaDescAdvance(desc_q, kk * 2 * kRows * 16),
                       WgmmaDescAdvance(desc_k0, st * T::kKStage + kk * 2 * T::kChunkBytes),
                       kk > 0);
    }
    WgmmaCommit();
    WgmmaWait<0>();
    WgmmaFenceOperand(s);

    // Keys past the segment (the last tile only).
    if (k0 + kN > len) {
      const int lim = static_cast<int>(len - k0);  // first invalid key, relative to k0
#pragma unroll
      for (int j = 0; j < kN / 8; ++j) {
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          if (j * 8 + 2 * t4 + (e & 1) >= lim) s[4 * j + e] = -INFINITY;
        }
      }
    }
    // Online softmax of rows g8 (hf 0) and g8 + 8 (hf 1) of this warp's 16: registers 4j + 2hf
    // and 4j + 2hf + 1 of every n8 tile j. Every row has at least one valid key per tile.
    float alpha[2];
#pragma unroll
    for (int hf = 0; hf < 2; ++hf) {
      float mx = -INFINITY;
#pragma unroll
      for (int j = 0; j < kN / 8; ++j)
        mx = fmaxf(mx, fmaxf(s[4 * j + 2 * hf], s[4 * j + 2 * hf + 1]));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
      const float m_old = m_row[hf];
      const float m_new = fmaxf(m_old, mx * sl2);
      alpha[hf] = m_old == m_new ? 1.0f : Exp2Approx(m_old - m_new);
      m_row[hf] = m_new;
      float sum = 0.0f;
#pragma unroll
      for (int j = 0; j < kN / 8; ++j) {
        s[4 * j + 2 * hf] = Exp2Approx(fmaf(s[4 * j + 2 * hf], sl2, -m_new));
        s[4 * j + 2 * hf + 1] = Exp2Approx(fmaf(s[4 * j + 2 * hf + 1], sl2, -m_new));
        sum += s[4 * j + 2 * hf] + s[4 * j + 2 * hf + 1];
      }
      l_row[hf] = l_row[hf] * alpha[hf] + sum;  // this thread's columns; the quad sums at the end
    }
    if (__any_sync(0xffffffffu, alpha[0] != 1.0f || alpha[1] != 1.0f)) {
#pragma unroll
      for (int j = 0; j < kNT; ++j) {
        o[4 * j] *= alpha[0];
        o[4 * j + 1] *= alpha[0];
        o[4 * j + 2] *= alpha[1];
        o[4 * j + 3] *= alpha[1];
      }
    }
    // P (bf16) as the A operand: k16 step kc = the accumulators of n8 tiles 2kc and 2kc + 1.
    uint32_t pa[kN / 16][4];
#pragma unroll
    for (int kc = 0; kc < kN / 16; ++kc) {
      pa[kc][0] = PackBf16x2(s[8 * kc], s[8 * kc + 1]);
      pa[kc][1] = PackBf16x2(s[8 * kc + 2], s[8 * kc + 3]);
      pa[kc][2] = PackBf16x2(s[8 * kc + 4], s[8 * kc + 5]);
      pa[kc][3] = PackBf16x2(s[8 * kc + 6], s[8 * kc + 7]);
    }
    WgmmaFence();
#pragma unroll
    for (int kc = 0; kc < kN / 16; ++kc) {
      WgmmaPv<kD>::Run(o, pa[kc], WgmmaDescAdvance(desc_v0, st * T::kVStage + kc * 16 * 16));
    }
    WgmmaCommit();
    WgmmaWait<0>();
    WgmmaFenceOperand(o);
#pragma unroll
    for (int kc = 0; kc < kN / 16; ++kc) WgmmaFenceOperand(pa[kc]);
  }
  CpAsyncWait<0>();

#pragma unroll
  for (int hf = 0; hf < 2; ++hf) {
    float l = l_row[hf];
    l += __shfl_xor_sync(0xffffffffu, l, 1);
    l += __shfl_xor_sync(0xffffffffu, l, 2);
    const int r = warp * 16 + g8 + hf * 8;
    if (r >= ntok) continue;
    const float inv = 1.0f / l;
    __nv_bfloat16* dst =
        a.out + (q_begin + tok0 + r) * a.out_stride + static_cast<int64_t>(head) * dr + 2 * t4;
#pragma unroll
    for (int j = 0; j < kNT; ++j) {
      if (j * 8 < dr) {
        *reinterpret_cast<__nv_bfloat162*>(dst + j * 8) =
            __floats2bfloat162_rn(o[4 * j + 2 * hf] * inv, o[4 * j + 2 * hf + 1] * inv);
      }
    }
  }
#else
  __trap();  // only the sm_90a image runs this kernel (the launcher checks the device)
#endif
}

template <int kD>
cudaError_t Launch(const FlashArgs& a, int64_t num_tokens, cudaStream_t stream) {
  using T = WgmmaFlashTile<kD>;
  const int64_t blocks =
      (CeilDiv<int64_t>(num_tokens, T::kRows) + a.num_seqs) * static_cast<int64_t>(a.num_heads_kv);
  if (blocks > 0x7fffffff) return cudaErrorInvalidValue;
  const void* fn = reinterpret_cast<const void*>(&SegmentAttentionWgmmaKernel<kD>);
  QWEN_CUDA_TRY(PrepareDynamicSmem(fn, T::kSmemBytes));
  SegmentAttentionWgmmaKernel<kD>
      <<<static_cast<unsigned>(blocks), T::kThreads, T::kSmemBytes, stream>>>(a);
  return cudaGetLastError();
}

}  // namespace

cudaError_t LaunchSegmentAttentionWgmma(const FlashArgs& a, int64_t num_tokens,
                                        cudaStream_t stream) {
  if (a.group != 1 || a.head_dim < 8 || a.head_dim > 72 || a.head_dim % 8 != 0) {
    return cudaErrorInvalidValue;
  }
  return a.head_dim <= 64 ? Launch<64>(a, num_tokens, stream) : Launch<72>(a, num_tokens, stream);
}

}  // namespace qwen::kernels::cuda::detail
