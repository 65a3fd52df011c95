// Paged-KV append and attention launchers (kernels/cuda/paged_attention.h). The decode kernel is
// in detail/paged_decode.cuh; the prefill kernel (detail/flash_attention.cuh) is instantiated in
// paged_prefill.cu.
#include <cmath>

#include "kernels/cuda/detail/flash_attention.cuh"
#include "kernels/cuda/detail/launch_util.cuh"
#include "kernels/cuda/detail/paged_decode.cuh"
#include "kernels/cuda/detail/paged_kv_core.h"
#include "kernels/cuda/paged_attention.h"

namespace qwen::kernels::cuda {
namespace detail {

// paged_prefill.cu: the causal flash kernel for D in {64, 128, 256} (arguments validated here).
cudaError_t LaunchPagedPrefill(const FlashArgs& a, int64_t num_tokens, int num_heads_q,
                               cudaStream_t stream);

namespace {

template <int kVec>
__global__ void __launch_bounds__(kAppendThreads) PagedKvAppendKernel(const KvAppendArgs a) {
  KvAppendBlock<kVec>(DeviceBlock{}, blockIdx.x, a);
}

template <int kVec>
cudaError_t LaunchAppend(const KvAppendArgs& a, cudaStream_t stream) {
  const int64_t blocks = CeilDiv<int64_t>(KvAppendItems<kVec>(a), kAppendThreads);
  if (blocks == 0) return cudaSuccess;
  QWEN_CUDA_CHECK_ARG(blocks <= 0x7fffffff);
  PagedKvAppendKernel<kVec><<<static_cast<unsigned>(blocks), kAppendThreads, 0, stream>>>(a);
  return cudaGetLastError();
}

// Query heads per decode block: the next power of two >= Hq / Hkv, at most 8 (larger groups are
// split into tiles of 8). Supported set: {1, 2, 4, 8}.
int DecodeHeadsPerBlock(int64_t group) {
  int kg = 1;
  while (kg < group && kg < 8) kg *= 2;
  return kg;
}

// The previous decode kernel (detail/paged_decode.cuh, PagedDecodeLegacyKernel) instead of the
// warp-pipelined one; a fallback to flip if the new kernel ever misbehaves on a device.
constexpr bool kUseLegacyDecode = false;

// Launch shape of the decode: warps per block and cluster size (context splits).
struct DecodePlan {
  int warps = 4;
  int splits = 1;
};

// Device limits the plan depends on.
struct DecodeDevice {
  int sms = 132;
  int smem_optin = 48 * 1024;
  int smem_per_sm = 48 * 1024;
  bool clusters = false;
};

cudaError_t QueryDecodeDevice(DecodeDevice* d) {
  int device = 0, clusters = 0;
  QWEN_CUDA_TRY(cudaGetDevice(&device));
  QWEN_CUDA_TRY(cudaDeviceGetAttribute(&d->sms, cudaDevAttrMultiProcessorCount, device));
  QWEN_CUDA_TRY(
      cudaDeviceGetAttribute(&d->smem_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  QWEN_CUDA_TRY(cudaDeviceGetAttribute(&d->smem_per_sm,
                                       cudaDevAttrMaxSharedMemoryPerMultiprocessor, device));
  if (cudaDeviceGetAttribute(&clusters, cudaDevAttrClusterLaunch, device) != cudaSuccess) {
    cudaGetLastError();
    clusters = 0;
  }
  d->clusters = clusters != 0;
  return cudaSuccess;
}

// pairs = (sequence, KV head, head tile) blocks before splitting. Many pairs: 4 warps per block,
// two blocks per SM (Hopper). Few pairs (long contexts of a small batch): 8 warps per block, so
// each SM keeps more bytes in flight. Fewer warps where the device's per-block shared memory is
// smaller (GB10). Then the context is split over a cluster (at most 8) until the blocks fill
// about 80 % of the SM slots, as long as every warp keeps at least two steps per split of the
// longest possible context (the block table's width).
template <int kD, int kG>
DecodePlan PlanDecode(const DecodeDevice& dev, int64_t pairs, int64_t max_context) {
  using L = DecodeShape<kD, kG>;
  DecodePlan plan;
  plan.warps = pairs >= dev.sms ? 4 : kDecodeMaxWarps;
  while (plan.warps > 1 && L::SmemBytes(plan.warps) > dev.smem_optin) --plan.warps;
  const int smem = L::SmemBytes(plan.warps);
  const int per_sm = MaxOf(1, MinOf(dev.smem_per_sm / (smem + 1024), 2048 / (plan.warps * 32)));
  const int64_t slots = static_cast<int64_t>(dev.sms) * per_sm;
  if (!dev.clusters) return plan;
  while (plan.splits < kDecodeMaxSplits && pairs * plan.splits * 5 < slots * 4 &&
         max_context / (2 * plan.splits) >= static_cast<int64_t>(plan.warps) * L::kT * 2) {
    plan.splits *= 2;
  }
  return plan;
}

template <int kD, int kG>
cudaError_t LaunchDecodeT(const DecodeDevice& dev, const DecodeArgs& a, int num_seqs,
                          int64_t max_context, cudaStream_t stream) {
  const int64_t pairs = static_cast<int64_t>(num_seqs) * a.num_heads_kv * a.head_tiles;
  cudaLaunchConfig_t cfg = {};
  cudaLaunchAttribute attr[1];
  int splits = 1;
  if constexpr (kUseLegacyDecode) {
    // The previous split rule: ~3 blocks per SM, one split per 128 tokens at most.
    while (dev.clusters && splits < kDecodeMaxSplits && pairs * splits < 3 * dev.sms &&
           static_cast<int64_t>(splits) * 2 * 128 <= max_context) {
      splits *= 2;
    }
    cfg.blockDim = dim3(kDecodeLegacyThreads);
    cfg.dynamicSmemBytes = 0;
  } else {
    const DecodePlan plan = PlanDecode<kD, kG>(dev, pairs, max_context);
    splits = plan.splits;
    const int smem = DecodeShape<kD, kG>::SmemBytes(plan.warps);
    // The kernel's shared-memory limit is raised to one value per instantiation (the most any
    // plan on this device uses), never to this launch's need: decode graphs captured for other
    // batch sizes may need more, and lowering the limit under them would break their replays.
    const int limit = MinOf(DecodeShape<kD, kG>::SmemBytes(kDecodeMaxWarps), dev.smem_optin);
    QWEN_CUDA_CHECK_ARG(smem <= limit);
    QWEN_CUDA_TRY(
        PrepareDynamicSmem(reinterpret_cast<const void*>(&PagedDecodeKernel<kD, kG>), limit));
    cfg.blockDim = dim3(static_cast<unsigned>(plan.warps * 32));
    cfg.dynamicSmemBytes = static_cast<size_t>(smem);
  }
  cfg.gridDim =
      dim3(static_cast<unsigned>(splits), static_cast<unsigned>(a.num_heads_kv * a.head_tiles),
           static_cast<unsigned>(num_seqs));
  cfg.stream = stream;
  attr[0].id = cudaLaunchAttributeClusterDimension;
  attr[0].val.clusterDim.x = static_cast<unsigned>(splits);
  attr[0].val.clusterDim.y = 1;
  attr[0].val.clusterDim.z = 1;
  cfg.attrs = attr;
  cfg.numAttrs = splits > 1 ? 1 : 0;
  if constexpr (kUseLegacyDecode) {
    QWEN_CUDA_TRY(cudaLaunchKernelEx(&cfg, PagedDecodeLegacyKernel<kD, kG>, a));
  } else {
    QWEN_CUDA_TRY(cudaLaunchKernelEx(&cfg, PagedDecodeKernel<kD, kG>, a));
  }
  return cudaGetLastError();
}

// Supported set: D in {64, 128, 256} x kG in {1, 2, 4, 8}.
template <int kD>
cudaError_t DispatchDecodeGroup(int kg, const DecodeDevice& dev, const DecodeArgs& a,
                                int num_seqs, int64_t max_context, cudaStream_t stream) {
  switch (kg) {
    case 1:
      return LaunchDecodeT<kD, 1>(dev, a, num_seqs, max_context, stream);
    case 2:
      return LaunchDecodeT<kD, 2>(dev, a, num_seqs, max_context, stream);
    case 4:
      return LaunchDecodeT<kD, 4>(dev, a, num_seqs, max_context, stream);
    case 8:
      return LaunchDecodeT<kD, 8>(dev, a, num_seqs, max_context, stream);
    default:
      return cudaErrorInvalidValue;
  }
}

// Sets the head tiling of `a` (head_tiles) and launches. Query heads per block: the GQA group's
// (DecodeHeadsPerBlock), or half of them when even the largest cluster split would leave most
// SMs idle (a batch of a few long sequences): twice the blocks stream the context, and the
// second read of each K/V row comes from L2 while the other half's block reads it.
cudaError_t LaunchDecode(const PagedAttentionParams& p, DecodeArgs a, cudaStream_t stream) {
  DecodeDevice dev;
  QWEN_CUDA_TRY(QueryDecodeDevice(&dev));
  int kg = DecodeHeadsPerBlock(a.group);
  const auto tiles_of = [&](int heads) { return (a.group + heads - 1) / heads; };
  if (!kUseLegacyDecode && dev.clusters && kg >= 2 &&
      p.num_seqs * p.num_heads_kv * tiles_of(kg) * kDecodeMaxSplits * 2 <= dev.sms) {
    kg /= 2;
  }
  a.head_tiles = tiles_of(kg);
  QWEN_CUDA_CHECK_ARG(p.num_heads_kv * a.head_tiles <= 65535);
  const int num_seqs = static_cast<int>(p.num_seqs);
  const int64_t max_context = p.block_table_stride * p.page_size;
  switch (p.head_dim) {
    case 64:
      return DispatchDecodeGroup<64>(kg, dev, a, num_seqs, max_context, stream);
    case 128:
      return DispatchDecodeGroup<128>(kg, dev, a, num_seqs, max_context, stream);
    case 256:
      return DispatchDecodeGroup<256>(kg, dev, a, num_seqs, max_context, stream);
    default:
      return cudaErrorInvalidValue;
  }
}

}  // namespace
}  // namespace detail

cudaError_t PagedKvAppend(const __nv_bfloat16* k, const __nv_bfloat16* v, const int32_t* cu_seqlens,
                          const int32_t* cached_lens, const int32_t* block_table,
                          __nv_bfloat16* k_pages, __nv_bfloat16* v_pages, const PagedKvParams& p,
                          cudaStream_t stream) {
  QWEN_CUDA_CHECK_ARG(p.num_tokens >= 0 && p.num_seqs >= 0 && p.num_seqs <= 0x7fffffff);
  QWEN_CUDA_CHECK_ARG(p.num_heads_kv >= 1 && p.head_dim >= 1);
  QWEN_CUDA_CHECK_ARG(p.page_size >= 8 && detail::Log2Exact(p.page_size) >= 0);
  QWEN_CUDA_CHECK_ARG(p.block_table_stride >= 1);
  QWEN_CUDA_CHECK_ARG(p.k_stride >= p.num_heads_kv * p.head_dim &&
                      p.v_stride >= p.num_heads_kv * p.head_dim);
  if (p.num_tokens == 0 || p.num_seqs == 0) return cudaSuccess;
  QWEN_CUDA_CHECK_ARG(k != nullptr && v != nullptr && cu_seqlens != nullptr &&
                      cached_lens != nullptr && block_table != nullptr && k_pages != nullptr &&
                      v_pages != nullptr);
  detail::KvAppendArgs a;
  a.k = k;
  a.v = v;
  a.cu_seqlens = cu_seqlens;
  a.cached_lens = cached_lens;
  a.block_table = block_table;
  a.k_pages = k_pages;
  a.v_pages = v_pages;
  a.num_tokens = p.num_tokens;
  a.num_seqs = static_cast<int>(p.num_seqs);
  a.num_heads_kv = p.num_heads_kv;
  a.head_dim = p.head_dim;
  a.log2_page = detail::Log2Exact(p.page_size);
  a.bt_stride = p.block_table_stride;
  a.k_stride = p.k_stride;
  a.v_stride = p.v_stride;
  const bool vec = p.head_dim % 8 == 0 && p.k_stride % 8 == 0 && p.v_stride % 8 == 0 &&
                   detail::IsAligned(k, 16) && detail::IsAligned(v, 16) &&
                   detail::IsAligned(k_pages, 16) && detail::IsAligned(v_pages, 16);
  return vec ? detail::LaunchAppend<8>(a, stream) : detail::LaunchAppend<1>(a, stream);
}

cudaError_t PagedAttention(const __nv_bfloat16* q, const __nv_bfloat16* k_pages,
                           const __nv_bfloat16* v_pages, const int32_t* cu_seqlens,
                           const int32_t* cached_lens, const int32_t* block_table,
                           __nv_bfloat16* out, const PagedAttentionParams& p, cudaStream_t stream) {
  QWEN_CUDA_CHECK_ARG(p.num_tokens >= 0 && p.num_seqs >= 0 && p.num_seqs <= 65535);
  QWEN_CUDA_CHECK_ARG(p.num_heads_kv >= 1 && p.num_heads_q >= p.num_heads_kv &&
                      p.num_heads_q % p.num_heads_kv == 0 && p.num_heads_q <= 65535);
  QWEN_CUDA_CHECK_ARG(p.head_dim == 64 || p.head_dim == 128 || p.head_dim == 256);
  QWEN_CUDA_CHECK_ARG(p.page_size >= 8 && detail::Log2Exact(p.page_size) >= 0);
  QWEN_CUDA_CHECK_ARG(p.block_table_stride >= 1);
  QWEN_CUDA_CHECK_ARG(p.q_head_stride >= p.head_dim &&
                      p.q_stride >= (p.num_heads_q - 1) * p.q_head_stride + p.head_dim);
  QWEN_CUDA_CHECK_ARG(p.out_stride >= p.num_heads_q * p.head_dim);
  QWEN_CUDA_CHECK_ARG(std::isfinite(p.scale) && p.scale > 0.0f);
  if (p.num_tokens == 0 || p.num_seqs == 0) return cudaSuccess;
  QWEN_CUDA_CHECK_ARG(p.max_query_len >= 1);
  QWEN_CUDA_CHECK_ARG(q != nullptr && k_pages != nullptr && v_pages != nullptr &&
                      cu_seqlens != nullptr && cached_lens != nullptr && block_table != nullptr &&
                      out != nullptr);
  // Both kernels read 16-byte vectors of q and of the pages, and write bf16 pairs.
  QWEN_CUDA_CHECK_ARG(p.q_stride % 8 == 0 && p.q_head_stride % 8 == 0 && p.out_stride % 2 == 0);
  QWEN_CUDA_CHECK_ARG(detail::IsAligned(q, 16) && detail::IsAligned(k_pages, 16) &&
                      detail::IsAligned(v_pages, 16) && detail::IsAligned(out, 4));
  const float scale_log2 = p.scale * detail::kLog2e;
  const int log2_page = detail::Log2Exact(p.page_size);
  if (p.max_query_len == 1) {
    QWEN_CUDA_CHECK_ARG(p.num_tokens <= p.num_seqs);
    detail::DecodeArgs a;
    a.q = q;
    a.k_pages = k_pages;
    a.v_pages = v_pages;
    a.cu_seqlens = cu_seqlens;
    a.cached_lens = cached_lens;
    a.block_table = block_table;
    a.out = out;
    a.num_heads_kv = static_cast<int>(p.num_heads_kv);
    a.group = static_cast<int>(p.num_heads_q / p.num_heads_kv);
    a.log2_page = log2_page;
    a.bt_stride = p.block_table_stride;
    a.q_stride = p.q_stride;
    a.q_head_stride = p.q_head_stride;
    a.out_stride = p.out_stride;
    a.scale_log2 = scale_log2;
    return detail::LaunchDecode(p, a, stream);
  }
  detail::FlashArgs a;
  a.q = q;
  a.k = k_pages;
  a.v = v_pages;
  a.cu_seqlens = cu_seqlens;
  a.cached_lens = cached_lens;
  a.block_table = block_table;
  a.out = out;
  a.num_seqs = static_cast<int>(p.num_seqs);
  a.num_heads_kv = static_cast<int>(p.num_heads_kv);
  a.group = static_cast<int>(p.num_heads_q / p.num_heads_kv);
  a.head_dim = static_cast<int>(p.head_dim);
  a.log2_page = log2_page;
  a.bt_stride = p.block_table_stride;
  a.q_stride = p.q_stride;
  a.q_head_stride = p.q_head_stride;
  a.out_stride = p.out_stride;
  a.scale_log2 = scale_log2;
  return detail::LaunchPagedPrefill(a, p.num_tokens, static_cast<int>(p.num_heads_q), stream);
}

}  // namespace qwen::kernels::cuda
