// Segment attention launcher (kernels/cuda/vision_attention.h): the flash kernel of
// detail/flash_attention.cuh without the causal mask, head dims padded to {64, 72, 80, 128}
// (72, the 9B vision head dim, runs unpadded: its Q Kᵀ ends with a k8 step).
#include <cmath>

#include "kernels/cuda/detail/flash_attention.cuh"
#include "kernels/cuda/detail/vision_attention_sm90.h"
#include "kernels/cuda/vision_attention.h"

namespace qwen::kernels::cuda {

const char* SegmentAttentionKernelName(SegmentAttentionKernel kernel) {
  switch (kernel) {
    case SegmentAttentionKernel::kAuto:
      return "auto";
    case SegmentAttentionKernel::kMmaSync:
      return "mma.sync";
    case SegmentAttentionKernel::kWgmma:
      return "wgmma";
  }
  return "invalid";
}

SegmentAttentionKernel SegmentAttentionKernelFor(int major, int minor, int64_t head_dim) {
  // sm_90a machine code runs on 9.0 only (not on later majors, nor through PTX).
  return major == 9 && minor == 0 && head_dim <= 72 ? SegmentAttentionKernel::kWgmma
                                                    : SegmentAttentionKernel::kMmaSync;
}

cudaError_t SegmentAttention(const __nv_bfloat16* q, const __nv_bfloat16* k, const __nv_bfloat16* v,
                             const int32_t* cu_seqlens, __nv_bfloat16* out,
                             const SegmentAttentionParams& p, cudaStream_t stream) {
  QWEN_CUDA_CHECK_ARG(p.num_tokens >= 0 && p.num_segments >= 0 && p.num_segments <= 0x7fffffff);
  QWEN_CUDA_CHECK_ARG(p.num_heads >= 1 && p.num_heads <= 65535);
  QWEN_CUDA_CHECK_ARG(p.head_dim >= 8 && p.head_dim <= 128 && p.head_dim % 8 == 0);
  QWEN_CUDA_CHECK_ARG(p.q_stride >= p.num_heads * p.head_dim &&
                      p.kv_stride >= p.num_heads * p.head_dim &&
                      p.out_stride >= p.num_heads * p.head_dim);
  QWEN_CUDA_CHECK_ARG(std::isfinite(p.scale) && p.scale > 0.0f);
  QWEN_CUDA_CHECK_ARG(p.kernel == SegmentAttentionKernel::kAuto ||
                      p.kernel == SegmentAttentionKernel::kMmaSync ||
                      p.kernel == SegmentAttentionKernel::kWgmma);
  if (p.num_tokens == 0 || p.num_segments == 0) return cudaSuccess;
  QWEN_CUDA_CHECK_ARG(q != nullptr && k != nullptr && v != nullptr && cu_seqlens != nullptr &&
                      out != nullptr);
  QWEN_CUDA_CHECK_ARG(p.q_stride % 8 == 0 && p.kv_stride % 8 == 0 && p.out_stride % 2 == 0);
  QWEN_CUDA_CHECK_ARG(detail::IsAligned(q, 16) && detail::IsAligned(k, 16) &&
                      detail::IsAligned(v, 16) && detail::IsAligned(out, 4));
  detail::FlashArgs a;
  a.q = q;
  a.k = k;
  a.v = v;
  a.cu_seqlens = cu_seqlens;
  a.out = out;
  a.num_seqs = static_cast<int>(p.num_segments);
  a.num_heads_kv = static_cast<int>(p.num_heads);
  a.group = 1;
  a.head_dim = static_cast<int>(p.head_dim);
  a.q_stride = p.q_stride;
  a.q_head_stride = p.head_dim;
  a.kv_stride = p.kv_stride;
  a.out_stride = p.out_stride;
  a.scale_log2 = p.scale * detail::kLog2e;
  SegmentAttentionKernel kernel = p.kernel;
  if (kernel != SegmentAttentionKernel::kMmaSync) {
    int device = 0, major = 0, minor = 0;
    QWEN_CUDA_TRY(cudaGetDevice(&device));
    QWEN_CUDA_TRY(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
    QWEN_CUDA_TRY(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device));
    const SegmentAttentionKernel runs = SegmentAttentionKernelFor(major, minor, p.head_dim);
    if (kernel == SegmentAttentionKernel::kWgmma && runs != kernel) return cudaErrorNotSupported;
    if (kernel == SegmentAttentionKernel::kAuto) kernel = runs;
  }
  if (kernel == SegmentAttentionKernel::kWgmma) {
    return detail::LaunchSegmentAttentionWgmma(a, p.num_tokens, stream);
  }
  const int heads = static_cast<int>(p.num_heads);
  // Supported set of padded head dims: {64, 72, 80, 128} (previous kernel: {64, 80, 80, 128}).
  if (p.head_dim <= 64) {
    return detail::LaunchFlashAttention<64, 64, false>(a, p.num_tokens, heads, stream);
  }
  if (p.head_dim <= 72) {
    return detail::LaunchFlashAttention<72, 80, false>(a, p.num_tokens, heads, stream);
  }
  if (p.head_dim <= 80) {
    return detail::LaunchFlashAttention<80, 80, false>(a, p.num_tokens, heads, stream);
  }
  return detail::LaunchFlashAttention<128, 128, false>(a, p.num_tokens, heads, stream);
}

}  // namespace qwen::kernels::cuda
