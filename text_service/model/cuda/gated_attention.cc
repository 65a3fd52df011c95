#include "text_service/model/cuda/gated_attention.h"

#include <cuda_runtime_api.h>

#include <cmath>

#include "core/cuda/cuda_status.h"
#include "kernels/cuda/elementwise.h"
#include "kernels/cuda/paged_attention.h"
#include "kernels/cuda/rms_norm.h"
#include "kernels/cuda/rope.h"

namespace qwen::text::cuda {

namespace kcu = ::qwen::kernels::cuda;
using bf16 = __nv_bfloat16;

namespace {

// Strided 2-D device copy of `rows` rows of `cols` bf16 (exact; capturable in a CUDA graph).
cudaError_t CopyRows(bf16* dst, int64_t dst_stride, const bf16* src, int64_t src_stride,
                     int64_t rows, int64_t cols, cudaStream_t stream) {
  return cudaMemcpy2DAsync(dst, static_cast<size_t>(dst_stride) * sizeof(bf16), src,
                           static_cast<size_t>(src_stride) * sizeof(bf16),
                           static_cast<size_t>(cols) * sizeof(bf16), static_cast<size_t>(rows),
                           cudaMemcpyDeviceToDevice, stream);
}

}  // namespace

absl::Status GatedAttentionForward(const Step& s, const DeviceGatedAttention& w, bf16* k_pages,
                                   bf16* v_pages, const bf16* x, bf16* out) {
  const core::TextConfig& c = *s.config;
  const Workspace& ws = *s.ws;
  const int64_t n = s.num_tokens(), h = c.hidden_size, d = c.head_dim;
  const int64_t hq = c.num_attention_heads, hkv = c.num_key_value_heads;
  const int64_t qg_stride = 2 * hq * d, kv_stride = 2 * hkv * d;
  const float eps = static_cast<float>(c.rms_norm_eps);
  bf16* k = ws.kv;
  bf16* v = ws.kv + hkv * d;

  // MODEL.md 2.5 step 1: q_proj keeps its per-head [query | gate] layout (TRAP), used in place.
  QWEN_RETURN_IF_ERROR(Linear(s, x, h, w.q_proj, ws.qg, qg_stride, n, qg_stride, h, "q_proj"));
  QWEN_RETURN_IF_ERROR(Linear(s, x, h, w.kv_proj, ws.kv, kv_stride, n, kv_stride, h, "kv_proj"));
  // Step 2: zero-centred RMSNorm per head over D (q inside qg: head stride 2D).
  QWEN_CUDA_RETURN_IF_ERROR(kcu::RmsNorm(ws.qg, w.q_norm, ws.qg,
                                         {.num_tokens = n,
                                          .num_heads = hq,
                                          .dim = d,
                                          .x_token_stride = qg_stride,
                                          .x_head_stride = 2 * d,
                                          .y_token_stride = qg_stride,
                                          .y_head_stride = 2 * d,
                                          .eps = eps,
                                          .weight_offset = 1.0f},
                                         s.stream),
                            "q_norm");
  QWEN_CUDA_RETURN_IF_ERROR(kcu::RmsNorm(k, w.k_norm, k,
                                         {.num_tokens = n,
                                          .num_heads = hkv,
                                          .dim = d,
                                          .x_token_stride = kv_stride,
                                          .x_head_stride = d,
                                          .y_token_stride = kv_stride,
                                          .y_head_stride = d,
                                          .eps = eps,
                                          .weight_offset = 1.0f},
                                         s.stream),
                            "k_norm");
  // Step 3: interleaved M-RoPE on the first rotary_dim dims of every q and k head.
  kcu::MRopeParams rope{.num_tokens = n,
                        .num_heads = hq,
                        .head_dim = d,
                        .rotary_dim = c.rotary_dim(),
                        .token_stride = qg_stride,
                        .head_stride = 2 * d,
                        .theta = c.rope_theta,
                        .mrope_section = c.mrope_section};
  QWEN_CUDA_RETURN_IF_ERROR(kcu::ApplyMRope(ws.qg, s.positions, rope, s.stream), "q rope");
  rope.num_heads = hkv;
  rope.token_stride = kv_stride;
  rope.head_stride = d;
  QWEN_CUDA_RETURN_IF_ERROR(kcu::ApplyMRope(k, s.positions, rope, s.stream), "k rope");

  // Steps 4-5: append K/V to the pages, causal GQA attention over the cache. With a head dim the
  // kernels lack (memory_plan.h AttentionHeadDim) q/k/v go through zero-padded copies.
  const int64_t da = s.attention_head_dim;
  const bool padded = da != d;
  const bf16* q_in = ws.qg;
  int64_t q_stride = qg_stride, q_head_stride = 2 * d;
  const bf16* k_in = k;
  const bf16* v_in = v;
  int64_t k_in_stride = kv_stride;
  bf16* attn_out = ws.attn;
  int64_t out_stride = hq * d;
  if (padded) {
    QWEN_CUDA_RETURN_IF_ERROR(CopyRows(ws.q_pad, da, ws.qg, 2 * d, n * hq, d, s.stream),
                              "padding q");
    for (int64_t g = 0; g < hkv; ++g) {
      QWEN_CUDA_RETURN_IF_ERROR(
          CopyRows(ws.k_pad + g * da, hkv * da, k + g * d, kv_stride, n, d, s.stream), "padding k");
      QWEN_CUDA_RETURN_IF_ERROR(
          CopyRows(ws.v_pad + g * da, hkv * da, v + g * d, kv_stride, n, d, s.stream), "padding v");
    }
    q_in = ws.q_pad;
    q_stride = hq * da;
    q_head_stride = da;
    k_in = ws.k_pad;
    v_in = ws.v_pad;
    k_in_stride = hkv * da;
    attn_out = ws.o_pad;
    out_stride = hq * da;
  }
  QWEN_CUDA_RETURN_IF_ERROR(
      kcu::PagedKvAppend(k_in, v_in, s.cu_seqlens, s.cached_lens, s.block_table, k_pages, v_pages,
                         {.num_tokens = n,
                          .num_seqs = s.num_seqs(),
                          .num_heads_kv = hkv,
                          .head_dim = da,
                          .page_size = s.page_size,
                          .block_table_stride = s.plan->block_table_stride,
                          .k_stride = k_in_stride,
                          .v_stride = k_in_stride},
                         s.stream),
      "paged KV append");
  QWEN_CUDA_RETURN_IF_ERROR(kcu::PagedAttention(q_in, k_pages, v_pages, s.cu_seqlens, s.cached_lens,
                                                s.block_table, attn_out,
                                                {.num_tokens = n,
                                                 .num_seqs = s.num_seqs(),
                                                 .max_query_len = s.plan->max_query_len,
                                                 .num_heads_q = hq,
                                                 .num_heads_kv = hkv,
                                                 .head_dim = da,
                                                 .page_size = s.page_size,
                                                 .block_table_stride = s.plan->block_table_stride,
                                                 .q_stride = q_stride,
                                                 .q_head_stride = q_head_stride,
                                                 .out_stride = out_stride,
                                                 .scale = 1.0f / std::sqrt(static_cast<float>(d))},
                                                s.stream),
                            "paged attention");
  if (padded) {
    QWEN_CUDA_RETURN_IF_ERROR(CopyRows(ws.attn, d, ws.o_pad, da, n * hq, d, s.stream),
                              "unpadding the attention output");
  }
  // Step 6: o *= sigmoid(gate), the gate read in place from qg (head h at h*2D + D).
  QWEN_CUDA_RETURN_IF_ERROR(
      kcu::MulSigmoid(ws.attn, d, ws.qg + d, 2 * d, {.rows = n * hq, .cols = d}, s.stream),
      "attention output gate");
  // Step 7.
  return Linear(s, ws.attn, hq * d, w.o_proj, out, h, n, h, hq * d, "o_proj");
}

}  // namespace qwen::text::cuda
