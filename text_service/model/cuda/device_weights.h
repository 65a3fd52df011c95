// The decoder's weights on the GPU: bf16 matrices and norm weights, fp32 A_log / dt_bias, all in
// one device allocation, read from an F32/BF16/F16 safetensors checkpoint through core::Checkpoint
// with the CPU model's tensor names and shape checks (MODEL.md 7.1-7.3). Projections that read
// the same input are concatenated along the output rows at load so one GEMM computes them:
//   GDN in_proj   = [in_proj_qkv | in_proj_z | in_proj_b | in_proj_a]   [conv_dim + Hv*Dv + 2Hv, H]
//   attention kv  = [k_proj | v_proj]                                   [2*Hkv*D, H]
//   MLP gate_up   = [gate_proj | up_proj]                               [2I, H]
// (q_proj stays alone: its per-head [query | gate] layout is used in place by the attention.)
#pragma once

#include <cuda_bf16.h>

#include <cstdint>
#include <filesystem>
#include <vector>

#include "absl/status/statusor.h"
#include "core/config.h"
#include "core/cuda/device_context.h"
#include "core/cuda/device_memory.h"

namespace qwen::text::cuda {

using bf16 = __nv_bfloat16;

// Gated DeltaNet (linear_attn.*, MODEL.md 2.7).
struct DeviceGatedDeltaNet {
  const bf16* in_proj = nullptr;      // [conv_dim + Hv*Dv + 2*Hv, H]: rows [qkv | z | b | a]
  const bf16* conv_weight = nullptr;  // [conv_dim, Kc] (checkpoint [conv_dim, 1, Kc])
  const float* a_log = nullptr;       // f32 [Hv]
  const float* dt_bias = nullptr;     // f32 [Hv]
  const bf16* norm = nullptr;         // [Dv]; TRAP: plain weight (no 1 + w)
  const bf16* out_proj = nullptr;     // [H, Hv*Dv]
};

// Gated full attention (self_attn.*, MODEL.md 2.5).
struct DeviceGatedAttention {
  const bf16* q_proj = nullptr;   // [2*Hq*D, H]; TRAP: per head [query_h (D) | gate_h (D)]
  const bf16* kv_proj = nullptr;  // [2*Hkv*D, H]: rows [k | v]
  const bf16* o_proj = nullptr;   // [H, Hq*D]
  const bf16* q_norm = nullptr;   // [D], zero-centred
  const bf16* k_norm = nullptr;   // [D], zero-centred
};

struct DeviceLayer {
  core::LayerType type = core::LayerType::kLinearAttention;
  // Index among the layers of the same type: selects the layer's KV pool (full attention) or
  // conv/recurrent state pools (linear attention).
  int64_t state_index = 0;
  const bf16* input_layernorm = nullptr;           // [H], zero-centred
  const bf16* post_attention_layernorm = nullptr;  // [H], zero-centred
  const bf16* gate_up_proj = nullptr;              // [2I, H]: rows [gate | up]
  const bf16* down_proj = nullptr;                 // [H, I]
  DeviceGatedDeltaNet linear;                      // when type == kLinearAttention
  DeviceGatedAttention full;                       // when type == kFullAttention
};

class DeviceWeights {
 public:
  DeviceWeights() = default;
  // Reads every text tensor of the checkpoint in `dir` (names under config.text_weight_prefix,
  // plus lm_head.weight when untied). Missing or mis-shaped tensors, non-float dtypes, and unread
  // tensors under the text prefix are errors naming them; ResourceExhausted when the weights do
  // not fit the GPU's free memory (with the numbers).
  static absl::StatusOr<DeviceWeights> Load(const core::cuda::DeviceContext& ctx,
                                            const std::filesystem::path& dir,
                                            const core::ModelConfig& config);
  // Device bytes the weights of `config` take (the same layout Load allocates).
  static size_t BytesFor(const core::TextConfig& config);

  size_t bytes() const { return memory_.bytes(); }
  const bf16* embed_tokens() const { return embed_tokens_; }  // [V, H]
  const bf16* final_norm() const { return final_norm_; }      // [H], zero-centred
  const bf16* lm_head() const { return lm_head_; }            // [V, H]; embed_tokens when tied
  const std::vector<DeviceLayer>& layers() const { return layers_; }

 private:
  core::cuda::DeviceMemory memory_;
  const bf16* embed_tokens_ = nullptr;
  const bf16* final_norm_ = nullptr;
  const bf16* lm_head_ = nullptr;
  std::vector<DeviceLayer> layers_;
};

}  // namespace qwen::text::cuda
