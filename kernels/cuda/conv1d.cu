// Causal conv1d + SiLU launchers (kernels/cuda/conv1d.h); the block programs are in
// detail/conv1d_core.h, the GB10 instantiation in sm121/conv1d_gb10.cu.
#include "kernels/cuda/conv1d.h"
#include "kernels/cuda/detail/conv1d_kernels.cuh"

namespace qwen::kernels::cuda {
namespace detail {
extern template cudaError_t LaunchConvVarlen<ConvGb10Config>(const ConvArgs&, cudaStream_t);
extern template cudaError_t LaunchConvUpdate<ConvGb10Config>(const ConvArgs&, cudaStream_t);
}  // namespace detail

cudaError_t CausalConv1dSiluVarlen(const __nv_bfloat16* u, const __nv_bfloat16* w,
                                   const int32_t* cu_seqlens, const int32_t* state_slots,
                                   const int32_t* has_initial_state, float* conv_state_pool,
                                   float* out, const CausalConv1dVarlenParams& p,
                                   cudaStream_t stream) {
  QWEN_CUDA_CHECK_ARG(p.num_tokens >= 0 && p.num_seqs >= 0 && p.num_seqs <= 65535);
  QWEN_CUDA_CHECK_ARG(p.channels >= 1 && p.channels <= (int64_t{1} << 30));
  QWEN_CUDA_CHECK_ARG(p.kernel >= 1 && p.kernel <= kMaxConvKernel);
  QWEN_CUDA_CHECK_ARG(p.u_stride >= p.channels && p.out_stride >= p.channels);
  if (p.num_seqs == 0) return cudaSuccess;
  QWEN_CUDA_CHECK_ARG(cu_seqlens != nullptr && state_slots != nullptr && w != nullptr);
  QWEN_CUDA_CHECK_ARG(p.kernel == 1 || conv_state_pool != nullptr);
  QWEN_CUDA_CHECK_ARG(p.num_tokens == 0 || (u != nullptr && out != nullptr));
  detail::ConvArgs a;
  a.u = u;
  a.w = w;
  a.cu_seqlens = cu_seqlens;
  a.slots = state_slots;
  a.has_initial_state = has_initial_state;
  a.state_pool = conv_state_pool;
  a.out = out;
  a.num_tokens = p.num_tokens;
  a.num_seqs = static_cast<int>(p.num_seqs);
  a.channels = static_cast<int>(p.channels);
  a.kernel = static_cast<int>(p.kernel);
  a.u_stride = p.u_stride;
  a.out_stride = p.out_stride;
  GdnVariant variant;
  QWEN_CUDA_TRY(detail::ResolveGdnVariant(p.variant, &variant));
  return QWEN_DISPATCH_GDN_VARIANT(variant, detail::ConvDefaultConfig, detail::ConvGb10Config,
                                   [&] { return detail::LaunchConvVarlen<Cfg>(a, stream); });
}

cudaError_t CausalConv1dSiluUpdate(const __nv_bfloat16* u, const __nv_bfloat16* w,
                                   const int32_t* state_slots, float* conv_state_pool, float* out,
                                   const CausalConv1dUpdateParams& p, cudaStream_t stream) {
  QWEN_CUDA_CHECK_ARG(p.num_seqs >= 0 && p.num_seqs <= 65535);
  QWEN_CUDA_CHECK_ARG(p.channels >= 1 && p.channels <= (int64_t{1} << 30));
  QWEN_CUDA_CHECK_ARG(p.kernel >= 1 && p.kernel <= kMaxConvKernel);
  QWEN_CUDA_CHECK_ARG(p.u_stride >= p.channels && p.out_stride >= p.channels);
  if (p.num_seqs == 0) return cudaSuccess;
  QWEN_CUDA_CHECK_ARG(u != nullptr && w != nullptr && state_slots != nullptr && out != nullptr);
  QWEN_CUDA_CHECK_ARG(p.kernel == 1 || conv_state_pool != nullptr);
  detail::ConvArgs a;
  a.u = u;
  a.w = w;
  a.slots = state_slots;
  a.state_pool = conv_state_pool;
  a.out = out;
  a.num_tokens = p.num_seqs;
  a.num_seqs = static_cast<int>(p.num_seqs);
  a.channels = static_cast<int>(p.channels);
  a.kernel = static_cast<int>(p.kernel);
  a.u_stride = p.u_stride;
  a.out_stride = p.out_stride;
  GdnVariant variant;
  QWEN_CUDA_TRY(detail::ResolveGdnVariant(p.variant, &variant));
  return QWEN_DISPATCH_GDN_VARIANT(variant, detail::ConvDefaultConfig, detail::ConvGb10Config,
                                   [&] { return detail::LaunchConvUpdate<Cfg>(a, stream); });
}

}  // namespace qwen::kernels::cuda
