#include "text_service/model/cuda/gated_deltanet.h"

#include <cmath>

#include "core/cuda/cuda_status.h"
#include "kernels/cuda/conv1d.h"
#include "kernels/cuda/gated_delta_rule.h"
#include "kernels/cuda/rms_norm.h"

namespace qwen::text::cuda {

namespace kcu = ::qwen::kernels::cuda;

absl::Status GatedDeltaNetForward(const Step& s, const DeviceGatedDeltaNet& w, float* conv_pool,
                                  float* state_pool, const __nv_bfloat16* x, __nv_bfloat16* out) {
  const core::TextConfig& c = *s.config;
  const Workspace& ws = *s.ws;
  const int64_t n = s.num_tokens(), h = c.hidden_size;
  const int64_t hk = c.linear_num_key_heads, hv = c.linear_num_value_heads;
  const int64_t dk = c.linear_key_head_dim, dv = c.linear_value_head_dim;
  const int64_t conv_dim = c.linear_conv_dim();
  const int64_t proj = conv_dim + hv * dv + 2 * hv;  // [qkv | z | b | a]
  const __nv_bfloat16* u = ws.lin_proj;
  const __nv_bfloat16* z = ws.lin_proj + conv_dim;
  const __nv_bfloat16* b = z + hv * dv;
  const __nv_bfloat16* a = b + hv;

  // MODEL.md 2.7.2 step 1: one GEMM for in_proj_qkv, in_proj_z, in_proj_b, in_proj_a.
  QWEN_RETURN_IF_ERROR(Linear(s, x, h, w.in_proj, ws.lin_proj, proj, n, proj, h, "gdn in_proj"));
  // Step 4: g = -exp(A_log) softplus(a + dt_bias), beta = sigmoid(b), fp32.
  QWEN_CUDA_RETURN_IF_ERROR(
      kcu::GatedDeltaGates(a, b, w.a_log, w.dt_bias, ws.g, ws.beta,
                           {.num_tokens = n, .num_heads_v = hv, .a_stride = proj, .b_stride = proj},
                           s.stream),
      "gdn gates");
  // Step 2: causal depthwise conv + SiLU over q, k, v, continuing each sequence's conv state.
  if (s.plan->decode_only) {
    QWEN_CUDA_RETURN_IF_ERROR(
        kcu::CausalConv1dSiluUpdate(u, w.conv_weight, s.state_slots, conv_pool, ws.conv_out,
                                    {.num_seqs = s.num_seqs(),
                                     .channels = conv_dim,
                                     .kernel = c.linear_conv_kernel_dim,
                                     .u_stride = proj,
                                     .out_stride = conv_dim,
                                     .variant = s.gdn_variant},
                                    s.stream),
        "gdn conv1d update");
  } else {
    QWEN_CUDA_RETURN_IF_ERROR(
        kcu::CausalConv1dSiluVarlen(u, w.conv_weight, s.cu_seqlens, s.state_slots,
                                    s.has_initial_state, conv_pool, ws.conv_out,
                                    {.num_tokens = n,
                                     .num_seqs = s.num_seqs(),
                                     .channels = conv_dim,
                                     .kernel = c.linear_conv_kernel_dim,
                                     .u_stride = proj,
                                     .out_stride = conv_dim,
                                     .variant = s.gdn_variant},
                                    s.stream),
        "gdn conv1d varlen");
  }
  // Step 5: q, k L2-normalised per head (eps 1e-6 on the sum of squares, TRAP), q scaled Dk^-1/2.
  float* q = ws.conv_out;
  float* k = q + hk * dk;
  float* v = q + 2 * hk * dk;
  QWEN_CUDA_RETURN_IF_ERROR(kcu::L2NormHeads(q,
                                             {.num_tokens = n,
                                              .num_heads = hk,
                                              .dim = dk,
                                              .token_stride = conv_dim,
                                              .eps = 1e-6f,
                                              .scale = 1.0f / std::sqrt(static_cast<float>(dk))},
                                             s.stream),
                            "gdn q l2norm");
  QWEN_CUDA_RETURN_IF_ERROR(kcu::L2NormHeads(k,
                                             {.num_tokens = n,
                                              .num_heads = hk,
                                              .dim = dk,
                                              .token_stride = conv_dim,
                                              .eps = 1e-6f,
                                              .scale = 1.0f},
                                             s.stream),
                            "gdn k l2norm");
  // MODEL.md 2.7.3 / 2.7.4: the delta rule, fp32 state in the sequences' slots.
  if (s.plan->decode_only) {
    QWEN_CUDA_RETURN_IF_ERROR(kcu::GatedDeltaRuleRecurrentDecode(
                                  q, k, v, ws.g, ws.beta, s.state_slots, state_pool, ws.core_out,
                                  {.num_seqs = s.num_seqs(),
                                   .num_heads_k = hk,
                                   .num_heads_v = hv,
                                   .head_dim_k = dk,
                                   .head_dim_v = dv,
                                   .qk_stride = conv_dim,
                                   .v_stride = conv_dim,
                                   .out_stride = hv * dv,
                                   .variant = s.gdn_variant},
                                  s.stream),
                              "gdn recurrent decode");
  } else {
    QWEN_CUDA_RETURN_IF_ERROR(kcu::GatedDeltaRuleChunkedVarlen(
                                  q, k, v, ws.g, ws.beta, s.cu_seqlens, s.state_slots,
                                  s.has_initial_state, state_pool, ws.core_out, ws.gdr_chunked,
                                  {.num_tokens = n,
                                   .num_seqs = s.num_seqs(),
                                   .num_heads_k = hk,
                                   .num_heads_v = hv,
                                   .head_dim_k = dk,
                                   .head_dim_v = dv,
                                   .qk_stride = conv_dim,
                                   .v_stride = conv_dim,
                                   .out_stride = hv * dv,
                                   .variant = s.gdn_variant},
                                  s.stream),
                              "gdn chunked prefill");
  }
  // MODEL.md 2.7.5: gated RMSNorm per value head (plain weight, silu(z) gate), then out_proj.
  QWEN_CUDA_RETURN_IF_ERROR(kcu::GatedRmsNorm(ws.core_out, z, w.norm, ws.gated,
                                              {.num_tokens = n,
                                               .num_heads = hv,
                                               .dim = dv,
                                               .x_token_stride = hv * dv,
                                               .x_head_stride = dv,
                                               .z_token_stride = proj,
                                               .z_head_stride = dv,
                                               .y_token_stride = hv * dv,
                                               .y_head_stride = dv,
                                               .eps = static_cast<float>(c.rms_norm_eps)},
                                              s.stream),
                            "gdn gated rmsnorm");
  return Linear(s, ws.gated, hv * dv, w.out_proj, out, h, n, h, hv * dv, "gdn out_proj");
}

}  // namespace qwen::text::cuda
