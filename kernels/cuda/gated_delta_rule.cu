// Gated delta rule launchers (kernels/cuda/gated_delta_rule.h); block programs in
// detail/gated_delta_rule_core.h, GB10 instantiation in sm121/gated_delta_rule_gb10.cu.
#include "kernels/cuda/detail/gated_delta_rule_kernels.cuh"
#include "kernels/cuda/gated_delta_rule.h"

namespace qwen::kernels::cuda {
namespace detail {

extern template int64_t GdrChunkSharedBytes<GdrChunkGb10Config>(int);
extern template cudaError_t LaunchGdrChunked<GdrChunkGb10Config>(const GdrArgs&, cudaStream_t);
extern template cudaError_t LaunchGdrDecode<GdrDecodeGb10Config>(const GdrArgs&, cudaStream_t);

__global__ void __launch_bounds__(kGatesThreads) GatedDeltaGatesKernel(GatesArgs a) {
  GatesBlock(DeviceBlock{}, blockIdx.x, a);
}

namespace {

cudaError_t CheckHeads(int64_t hk, int64_t hv, int64_t dk, int64_t dv) {
  QWEN_CUDA_CHECK_ARG(hk >= 1 && hv >= hk && hv % hk == 0 && hv <= 65535);
  QWEN_CUDA_CHECK_ARG(dk >= 4 && dk <= kMaxGdnHeadDim && dk % 4 == 0);
  QWEN_CUDA_CHECK_ARG(dv >= 1 && dv <= kMaxGdnHeadDim);
  return cudaSuccess;
}

}  // namespace
}  // namespace detail

cudaError_t GatedDeltaGates(const __nv_bfloat16* a, const __nv_bfloat16* b, const float* a_log,
                            const float* dt_bias, float* g, float* beta,
                            const GatedDeltaGatesParams& p, cudaStream_t stream) {
  QWEN_CUDA_CHECK_ARG(p.num_tokens >= 0 && p.num_heads_v >= 1 && p.num_heads_v <= 65535);
  QWEN_CUDA_CHECK_ARG(p.a_stride >= p.num_heads_v && p.b_stride >= p.num_heads_v);
  if (p.num_tokens == 0) return cudaSuccess;
  QWEN_CUDA_CHECK_ARG(a != nullptr && b != nullptr && a_log != nullptr && dt_bias != nullptr &&
                      g != nullptr && beta != nullptr);
  QWEN_CUDA_CHECK_ARG(
      detail::CeilDiv<int64_t>(p.num_tokens * p.num_heads_v, detail::kGatesThreads) <= 0x7fffffff);
  detail::GatesArgs args;
  args.a = a;
  args.b = b;
  args.a_log = a_log;
  args.dt_bias = dt_bias;
  args.g = g;
  args.beta = beta;
  args.num_tokens = p.num_tokens;
  args.num_heads_v = static_cast<int>(p.num_heads_v);
  args.a_stride = p.a_stride;
  args.b_stride = p.b_stride;
  detail::GatedDeltaGatesKernel<<<detail::ToDim3(detail::GatesGrid(args)), detail::kGatesThreads, 0,
                                  stream>>>(args);
  return cudaGetLastError();
}

cudaError_t GatedDeltaRuleChunkedVarlen(const float* q, const float* k, const float* v,
                                        const float* g, const float* beta,
                                        const int32_t* cu_seqlens, const int32_t* state_slots,
                                        const int32_t* has_initial_state, float* state_pool,
                                        float* out, void* workspace,
                                        const GatedDeltaRuleVarlenParams& p, cudaStream_t stream) {
  QWEN_CUDA_TRY(detail::CheckHeads(p.num_heads_k, p.num_heads_v, p.head_dim_k, p.head_dim_v));
  QWEN_CUDA_CHECK_ARG(p.num_tokens >= 0 && p.num_seqs >= 0 && p.num_seqs <= 65535);
  QWEN_CUDA_CHECK_ARG(p.qk_stride >= p.num_heads_k * p.head_dim_k &&
                      p.v_stride >= p.num_heads_v * p.head_dim_v &&
                      p.out_stride >= p.num_heads_v * p.head_dim_v);
  if (p.num_seqs == 0) return cudaSuccess;
  QWEN_CUDA_CHECK_ARG(cu_seqlens != nullptr && state_slots != nullptr && state_pool != nullptr);
  QWEN_CUDA_CHECK_ARG(p.num_tokens == 0 || (q != nullptr && k != nullptr && v != nullptr &&
                                            g != nullptr && beta != nullptr && out != nullptr));
  // The prep kernel's token tiles run along grid.x; the workspace takes 16-byte copies.
  QWEN_CUDA_CHECK_ARG(detail::CeilDiv<int64_t>(p.num_tokens, 16) <= 0x7fffffff);
  QWEN_CUDA_CHECK_ARG(p.num_tokens == 0 ||
                      (workspace != nullptr && detail::IsAligned(workspace, 16)));
  detail::GdrArgs a;
  a.q = q;
  a.k = k;
  a.v = v;
  a.g = g;
  a.beta = beta;
  a.cu_seqlens = cu_seqlens;
  a.slots = state_slots;
  a.has_initial_state = has_initial_state;
  a.state_pool = state_pool;
  a.out = out;
  a.num_seqs = static_cast<int>(p.num_seqs);
  a.num_heads_k = static_cast<int>(p.num_heads_k);
  a.num_heads_v = static_cast<int>(p.num_heads_v);
  a.head_dim_k = static_cast<int>(p.head_dim_k);
  a.head_dim_v = static_cast<int>(p.head_dim_v);
  a.qk_stride = p.qk_stride;
  a.v_stride = p.v_stride;
  a.out_stride = p.out_stride;
  a.workspace = static_cast<float*>(workspace);
  a.num_tokens = p.num_tokens;
  detail::GdrChooseAccessWidths(&a);
  GdnVariant variant;
  QWEN_CUDA_TRY(detail::ResolveGdnVariant(p.variant, &variant));
  return QWEN_DISPATCH_GDN_VARIANT(variant, detail::GdrChunkDefaultConfig,
                                   detail::GdrChunkGb10Config,
                                   [&] { return detail::LaunchGdrChunked<Cfg>(a, stream); });
}

cudaError_t GatedDeltaRuleRecurrentDecode(const float* q, const float* k, const float* v,
                                          const float* g, const float* beta,
                                          const int32_t* state_slots, float* state_pool, float* out,
                                          const GatedDeltaRuleDecodeParams& p,
                                          cudaStream_t stream) {
  QWEN_CUDA_TRY(detail::CheckHeads(p.num_heads_k, p.num_heads_v, p.head_dim_k, p.head_dim_v));
  QWEN_CUDA_CHECK_ARG(p.num_seqs >= 0 && p.num_seqs <= 65535);
  QWEN_CUDA_CHECK_ARG(p.qk_stride >= p.num_heads_k * p.head_dim_k &&
                      p.v_stride >= p.num_heads_v * p.head_dim_v &&
                      p.out_stride >= p.num_heads_v * p.head_dim_v);
  if (p.num_seqs == 0) return cudaSuccess;
  QWEN_CUDA_CHECK_ARG(q != nullptr && k != nullptr && v != nullptr && g != nullptr &&
                      beta != nullptr && state_slots != nullptr && state_pool != nullptr &&
                      out != nullptr);
  detail::GdrArgs a;
  a.q = q;
  a.k = k;
  a.v = v;
  a.g = g;
  a.beta = beta;
  a.slots = state_slots;
  a.state_pool = state_pool;
  a.out = out;
  a.num_seqs = static_cast<int>(p.num_seqs);
  a.num_heads_k = static_cast<int>(p.num_heads_k);
  a.num_heads_v = static_cast<int>(p.num_heads_v);
  a.head_dim_k = static_cast<int>(p.head_dim_k);
  a.head_dim_v = static_cast<int>(p.head_dim_v);
  a.qk_stride = p.qk_stride;
  a.v_stride = p.v_stride;
  a.out_stride = p.out_stride;
  GdnVariant variant;
  QWEN_CUDA_TRY(detail::ResolveGdnVariant(p.variant, &variant));
  return QWEN_DISPATCH_GDN_VARIANT(variant, detail::GdrDecodeDefaultConfig,
                                   detail::GdrDecodeGb10Config,
                                   [&] { return detail::LaunchGdrDecode<Cfg>(a, stream); });
}

int64_t GatedDeltaRuleChunkedWorkspaceBytes(const GatedDeltaRuleVarlenParams& p) {
  if (p.num_tokens <= 0 || p.num_heads_v < 1 || p.num_heads_v > 65535) return 0;
  const int hv = static_cast<int>(p.num_heads_v);
  const int64_t def = detail::GdrWorkspaceFloats<detail::GdrChunkDefaultConfig>(p.num_tokens, hv);
  const int64_t gb10 = detail::GdrWorkspaceFloats<detail::GdrChunkGb10Config>(p.num_tokens, hv);
  switch (p.variant) {
    case GdnVariant::kAuto:
      return 4 * (def > gb10 ? def : gb10);
    case GdnVariant::kDefault:
      return 4 * def;
    case GdnVariant::kGb10:
      return 4 * gb10;
  }
  return 0;
}

int64_t GatedDeltaRuleChunkedSharedBytes(GdnVariant variant, int64_t head_dim_k) {
  if (head_dim_k < 4 || head_dim_k > kMaxGdnHeadDim) return 0;
  const int dk = static_cast<int>(head_dim_k);
  switch (variant) {
    case GdnVariant::kDefault:
      return detail::GdrChunkSharedBytes<detail::GdrChunkDefaultConfig>(dk);
    case GdnVariant::kGb10:
      return detail::GdrChunkSharedBytes<detail::GdrChunkGb10Config>(dk);
    default:
      return 0;
  }
}

}  // namespace qwen::kernels::cuda
