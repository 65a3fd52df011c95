// The forward pass's device buffers, carved out of one allocation at load (MemoryPlan). Rows are
// token-major with N = max_batched_tokens capacity; phases that never overlap (the DeltaNet
// mixer, the attention mixer, the MLP) share one scratch region.
#pragma once

#include <cuda_bf16.h>

#include <cstddef>
#include <cstdint>

#include "core/config.h"

namespace qwen::text::cuda {

struct WorkspaceDims {
  int64_t max_tokens = 0;          // N
  int64_t max_seqs = 0;            // S
  int64_t logits_rows = 0;         // R
  int64_t metadata_capacity = 0;   // int32 entries
  int64_t attention_head_dim = 0;  // Da (== D: no padded attention buffers)
};

struct Workspace {
  // Residual stream and norm output: bf16 [N, H] each (HF keeps the residual in bf16).
  __nv_bfloat16* hidden = nullptr;
  __nv_bfloat16* normed = nullptr;
  // Mixer / MLP output, then the last-token rows for the LM head: bf16 [N, H].
  __nv_bfloat16* mix = nullptr;
  int32_t* metadata = nullptr;          // i32 [metadata_capacity] (BatchPlan layout)
  __nv_bfloat16* embed_rows = nullptr;  // bf16 [N, H]: injected embedding rows
  float* logits = nullptr;              // f32 [R, V]

  // Padded attention (only when Da != D; the pad columns are zeroed once at load and never
  // written): q [N, Hq, Da], k and v [N, Hkv, Da], out [N, Hq, Da].
  __nv_bfloat16* q_pad = nullptr;
  __nv_bfloat16* k_pad = nullptr;
  __nv_bfloat16* v_pad = nullptr;
  __nv_bfloat16* o_pad = nullptr;
  size_t pad_offset = 0, pad_bytes = 0;  // the padded buffers' byte range (for the one memset)

  // Scratch, DeltaNet phase.
  __nv_bfloat16* lin_proj = nullptr;  // [N, conv_dim + Hv*Dv + 2Hv]: [qkv | z | b | a]
  float* conv_out = nullptr;          // f32 [N, conv_dim]: silu(conv), q/k then L2-normalised
  float* g = nullptr;                 // f32 [N, Hv]
  float* beta = nullptr;              // f32 [N, Hv]
  float* core_out = nullptr;          // f32 [N, Hv*Dv]: delta-rule output
  __nv_bfloat16* gated = nullptr;     // [N, Hv*Dv]: gated RMSNorm output
  // Scratch, attention phase.
  __nv_bfloat16* qg = nullptr;    // [N, Hq, 2D]: per head [query | gate]
  __nv_bfloat16* kv = nullptr;    // [N, 2*Hkv*D]: [k | v]
  __nv_bfloat16* attn = nullptr;  // [N, Hq*D]
  // Scratch, MLP phase.
  __nv_bfloat16* gate_up = nullptr;  // [N, 2I]: [gate | up]
  __nv_bfloat16* act = nullptr;      // [N, I]
};

// Lays the workspace of `config` and `dims` out from `base` (nullptr: only sizes it) and returns
// its size in bytes.
size_t LayoutWorkspace(const core::TextConfig& config, const WorkspaceDims& dims, char* base,
                       Workspace* out);

}  // namespace qwen::text::cuda
