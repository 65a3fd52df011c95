// Hopper (sm_90a) segment attention of the vision encoder: the bidirectional flash attention of
// detail/flash_attention.cuh with both products on warpgroup MMA (wgmma) instead of mma.sync.
// Compiled only for compute_90a (kernels/CMakeLists.txt, qwen_kernels_cuda_sm90a); chosen by
// kernels/cuda/vision_attention.cu on compute capability 9.0 for head dims <= 72.
//
// One block = 256 query rows of one head (a tile of one segment) = 4 warpgroups x 64 rows; 512
// threads, one block per SM. K/V tiles of 64 keys stream through a three-stage cp.async ring
// (tiles i + 1 and i + 2 load while tile i is worked on) into the 32-byte-swizzle layout of
// detail/wgmma_sm90.cuh: 16-byte chunk c = 2 kk + h of key j in atom column kk at
// kk * 2048 + Sw32Offset(j, h), which is K-major for K (S = Q Kᵀ, k = head dims) and MN-major
// for V (O += P V, k = keys, n = head dims) at once; Q lives in the same layout. S = Q Kᵀ:
// ceil(D / 16) m64n64k16 from shared memory (the head dims past D are zero, so 72 runs as 80);
// P = exp2(S c - m) goes from the accumulators straight into the register A operand of
// m64n{D}k16 against V. Online softmax in fp32 in the log2 domain, one rounding of O / l to
// bf16: the same arithmetic as the mma.sync kernel (only the accumulation order of the products
// differs).
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
  // 256 query rows per block (4 warpgroups x 64), one block per SM: every K/V tile brought into
  // shared memory serves 256 rows. At 128 rows the kernel was bound by L2 -> SM traffic (ncu: L2
  // ~72% busy at 1.1 ms for 4 x 4096 tokens x 16 heads, whichever MMA instruction it used).
  static constexpr int kRows = 256;
  static constexpr int kThreads = 512;
  static constexpr int kN = 64;                // keys per K/V tile
  static constexpr int kK16 = (kD + 15) / 16;  // k16 steps of Q Kᵀ (zero dims pad 72 to 80)
  static constexpr int kQkChunks = 2 * kK16;   // 16-byte chunks of a Q / K row, with the pad
  static constexpr int kVChunks = kD / 8;      // ... of a V row
  // 32-byte-swizzle atom columns (16 dims each) of rows 32 bytes apart: Q has kK16 of kRows rows,
  // a K or V tile kK16 of 64 keys (V's last column half used for D = 72).
  static constexpr int kQColumn = kRows * 32;
  static constexpr int kQBytes = kK16 * kQColumn;
  static constexpr int kColumn = kN * 32;
  static constexpr int kStage = kK16 * kColumn;  // one K or V tile
  static constexpr int kStages = 3;              // tiles i + 1, i + 2 load while i is worked on
  static constexpr int kSmemBytes = kQBytes + 2 * kStages * kStage;
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
__global__ void __launch_bounds__(WgmmaFlashTile<kD>::kThreads, 1)
    SegmentAttentionWgmmaKernel(const FlashArgs a) {
#if defined(QWEN_HAVE_WGMMA)
  using T = WgmmaFlashTile<kD>;
  constexpr int kN = T::kN, kRows = T::kRows, kThreads = T::kThreads, kStages = T::kStages;
  constexpr int kNT = kD / 8;  // n8 tiles of O
  unsigned char* smem = DynamicSmem();
  if ((SmemAddr(smem) & 255u) != 0) __trap();  // the swizzle atoms need 256-byte alignment
  unsigned char* sQ = smem;
  unsigned char* sK = smem + T::kQBytes;         // stage st at sK + st * kStage
  unsigned char* sV = sK + kStages * T::kStage;  // stage st at sV + st * kStage

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
  const int n_tiles = (len + kN - 1) / kN;

  // 16-byte chunk c = 2 kk + h of row r goes to atom column kk, Sw32Offset(r, h): thread tid
  // takes chunks tid + kThreads i of (kk, r, h) order, so a warp writes 16 whole 32-byte rows
  // (512 contiguous bytes) and reads 16 rows' 32 contiguous bytes.
  for (int f = tid; f < kRows * T::kQkChunks; f += kThreads) {
    const int h = f & 1, r = (f >> 1) % kRows, kk = f / (2 * kRows), c = 2 * kk + h;
    const bool ok = r < ntok && c * 8 < dr;
    const __nv_bfloat16* src =
        ok ? a.q + (q_begin + tok0 + r) * a.q_stride + head * a.q_head_stride + c * 8 : a.q;
    CpAsync16(sQ + kk * T::kQColumn + Sw32Offset(r, h), src, ok);
  }
  // Tile j's keys (j * 64 + 0..63) of K and V into stage j % kStages, laid out like Q (nothing
  // past the last tile; zeros past the segment and in the padded dims).
  auto load_kv = [&](int j) {
    if (j >= n_tiles) return;
    const int k0 = j * kN;
    const int64_t row0 = (q_begin + k0) * a.kv_stride + static_cast<int64_t>(head) * dr;
    unsigned char* dk = sK + (j % kStages) * T::kStage;
    unsigned char* dv = sV + (j % kStages) * T::kStage;
#pragma unroll
    for (int i = 0; i < (kN * T::kQkChunks + kThreads - 1) / kThreads; ++i) {
      const int f = tid + i * kThreads;
      const int h = f & 1, r = (f >> 1) & (kN - 1), kk = f / (2 * kN), c = 2 * kk + h;
      if (f >= kN * T::kQkChunks) continue;
      const bool ok = c * 8 < dr && k0 + r < len;
      const int64_t off = ok ? row0 + static_cast<int64_t>(r) * a.kv_stride + c * 8 : 0;
      const uint32_t so = kk * T::kColumn + Sw32Offset(r, h);
      CpAsync16(dk + so, a.k + off, ok);
      if (c < T::kVChunks) CpAsync16(dv + so, a.v + off, ok);
    }
  };
  // One commit group per tile: {Q, K0, V0}, {K1, V1}, ...
#pragma unroll
  for (int j = 0; j < kStages - 1; ++j) {
    load_kv(j);
    CpAsyncCommit();
  }

  const int wg = warp >> 2;  // warpgroup: rows 64 wg .. 64 wg + 63
  const uint64_t desc_q = WgmmaDescSw32(SmemAddr(sQ + wg * 64 * 32), /*lbo=*/16, /*sbo=*/256);
  const uint64_t desc_k0 = WgmmaDescSw32(SmemAddr(sK), /*lbo=*/16, /*sbo=*/256);
  const uint64_t desc_v0 = WgmmaDescSw32(SmemAddr(sV), /*lbo=*/T::kColumn, /*sbo=*/256);

  float o[kNT * 4];
#pragma unroll
  for (int i = 0; i < kNT * 4; ++i) o[i] = 0.0f;
  float s[32];  // S of the current tile (the first k16 step overwrites it)
#pragma unroll
  for (int i = 0; i < 32; ++i) s[i] = 0.0f;
  uint32_t pa[kN / 16][4];  // P as the A operand
  float m_row[2] = {-INFINITY, -INFINITY}, l_row[2] = {0.0f, 0.0f};
  const float sl2 = a.scale_log2;
  for (int i = 0; i < n_tiles; ++i) {
    const int st = i % kStages;
    CpAsyncWait<kStages - 2>();  // tile i has landed (tiles up to i + kStages - 2 may not have)
    FenceProxyAsyncShared();
    __syncthreads();           // ... for every thread, and every warpgroup is done with tile i - 1
    load_kv(i + kStages - 1);  // into tile i - 1's stage
    CpAsyncCommit();

    // S = Q K(i)ᵀ.
    WgmmaFence();
#pragma unroll
    for (int kk = 0; kk < T::kK16; ++kk) {
      WgmmaSsM64N64K16(s, WgmmaDescAdvance(desc_q, kk * T::kQColumn),
                       WgmmaDescAdvance(desc_k0, st * T::kStage + kk * T::kColumn), kk > 0);
    }
    WgmmaCommit();
    WgmmaWait<0>();
    WgmmaFenceOperand(s);

    const int k0 = i * kN;
    if (k0 + kN > len) {  // keys past the segment (the last tile only)
      const int lim = len - k0;
#pragma unroll
      for (int j = 0; j < kN / 8; ++j) {
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          if (j * 8 + 2 * t4 + (e & 1) >= lim) s[4 * j + e] = -INFINITY;
        }
      }
    }
    // Online softmax of rows g8 (hf 0) and g8 + 8 (hf 1) of this warp's 16: registers 4j + 2hf
    // and 4j + 2hf + 1 of every n8 tile j. Every tile has a valid key, so m stays finite.
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
    // O += P V(i); k16 step kc of P = the accumulators of n8 tiles 2kc and 2kc + 1.
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
      WgmmaPv<kD>::Run(o, pa[kc], WgmmaDescAdvance(desc_v0, st * T::kStage + kc * 2 * 256));
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
