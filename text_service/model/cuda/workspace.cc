#include "text_service/model/cuda/workspace.h"

#include <algorithm>

#include "core/cuda/device_memory.h"
#include "kernels/cuda/gated_delta_rule.h"

namespace qwen::text::cuda {
namespace {}  // namespace

size_t LayoutSamplingBuffers(int64_t max_seqs, int64_t max_penalty_tokens, char* base,
                             SamplingBuffers* out) {
  SamplingBuffers b;
  core::cuda::Carver c(base);
  b.inputs = base;
  b.rows = c.Take<kernels::cuda::SamplingRowParams>(max_seqs);
  b.penalty_offsets = c.Take<int32_t>(max_seqs + 1);
  b.penalty_tokens = c.Take<int32_t>(max_penalty_tokens);
  b.penalty_counts = c.Take<int32_t>(max_penalty_tokens);
  b.inputs_bytes = c.at();
  const size_t outputs = c.at();
  b.outputs = base == nullptr ? nullptr : base + outputs;
  b.tokens = c.Take<int32_t>(max_seqs);
  b.logprobs = c.Take<float>(max_seqs);
  b.top_tokens = c.Take<int32_t>(max_seqs * kMaxTopLogprobs);
  b.top_logprobs = c.Take<float>(max_seqs * kMaxTopLogprobs);
  b.outputs_bytes = c.at() - outputs;
  if (out != nullptr) *out = b;
  return c.at();
}

size_t LayoutWorkspace(const core::TextConfig& c, const WorkspaceDims& d, char* base,
                       Workspace* out) {
  Workspace w;
  const int64_t n = d.max_tokens, h = c.hidden_size;
  core::cuda::Carver persistent(base);
  w.hidden = persistent.Take<__nv_bfloat16>(n * h);
  w.normed = persistent.Take<__nv_bfloat16>(n * h);
  w.mix = persistent.Take<__nv_bfloat16>(n * h);
  w.metadata = persistent.Take<int32_t>(d.metadata_capacity);
  w.embed_rows = persistent.Take<__nv_bfloat16>(n * h);
  w.logits = persistent.Take<float>(d.logits_rows * c.vocab_size);
  {
    const size_t bytes = LayoutSamplingBuffers(d.max_seqs, d.max_penalty_tokens, nullptr, nullptr);
    char* at = persistent.Take<char>(static_cast<int64_t>(bytes));
    LayoutSamplingBuffers(d.max_seqs, d.max_penalty_tokens, at, &w.sampling);
  }

  const int64_t hq = c.num_attention_heads, hkv = c.num_key_value_heads, dh = c.head_dim;
  if (d.attention_head_dim != dh) {
    const int64_t da = d.attention_head_dim;
    w.pad_offset = persistent.at();
    w.q_pad = persistent.Take<__nv_bfloat16>(n * hq * da);
    w.k_pad = persistent.Take<__nv_bfloat16>(n * hkv * da);
    w.v_pad = persistent.Take<__nv_bfloat16>(n * hkv * da);
    w.o_pad = persistent.Take<__nv_bfloat16>(n * hq * da);
    w.pad_bytes = persistent.at() - w.pad_offset;
  }
  const size_t scratch = persistent.at();

  const int64_t hv = c.linear_num_value_heads, dv = c.linear_value_head_dim;
  const int64_t conv_dim = c.linear_conv_dim();
  core::cuda::Carver linear(base, scratch);
  w.lin_proj = linear.Take<__nv_bfloat16>(n * (conv_dim + hv * dv + 2 * hv));
  w.conv_out = linear.Take<float>(n * conv_dim);
  w.g = linear.Take<float>(n * hv);
  w.beta = linear.Take<float>(n * hv);
  w.core_out = linear.Take<float>(n * hv * dv);
  // Enough for any GDN variant (kAuto), so the layout does not depend on the device.
  w.gdr_chunked = linear.Take<char>(kernels::cuda::GatedDeltaRuleChunkedWorkspaceBytes(
      {.num_tokens = n, .num_heads_v = hv, .variant = kernels::cuda::GdnVariant::kAuto}));
  w.gated = linear.Take<__nv_bfloat16>(n * hv * dv);

  core::cuda::Carver attention(base, scratch);
  w.qg = attention.Take<__nv_bfloat16>(n * 2 * hq * dh);
  w.kv = attention.Take<__nv_bfloat16>(n * 2 * hkv * dh);
  w.attn = attention.Take<__nv_bfloat16>(n * hq * dh);

  core::cuda::Carver mlp(base, scratch);
  w.gate_up = mlp.Take<__nv_bfloat16>(n * 2 * c.intermediate_size);
  w.act = mlp.Take<__nv_bfloat16>(n * c.intermediate_size);

  if (out != nullptr) *out = w;
  return std::max({linear.at(), attention.at(), mlp.at()});
}

}  // namespace qwen::text::cuda
