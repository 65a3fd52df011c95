// The forward pass's device buffers, carved out of one allocation at load (MemoryPlan). Rows are
// token-major with N = max_batched_tokens capacity; phases that never overlap (the DeltaNet
// mixer, the attention mixer, the MLP) share one scratch region.
#pragma once

#include <cuda_bf16.h>

#include <cstddef>
#include <cstdint>

#include "core/config.h"
#include "kernels/cuda/sampling.h"

namespace qwen::text::cuda {

struct WorkspaceDims {
  int64_t max_tokens = 0;          // N
  int64_t max_seqs = 0;            // S
  int64_t logits_rows = 0;         // R
  int64_t metadata_capacity = 0;   // int32 entries
  int64_t attention_head_dim = 0;  // Da (== D: no padded attention buffers)
  int64_t max_penalty_tokens = 0;  // entries of the sampling penalty token list
};

// Device side of GPU sampling (kernels/cuda/sampling.h): per-row parameters, the penalty token
// lists (CSR by row) and the outputs, for up to max_seqs rows. The inputs are uploaded with one
// copy from a pinned mirror of the same layout (`inputs_bytes` from `inputs`).
struct SamplingBuffers {
  char* inputs = nullptr;  // start of rows..penalty_counts (one contiguous range)
  size_t inputs_bytes = 0;
  kernels::cuda::SamplingRowParams* rows = nullptr;  // [max_seqs]
  int32_t* penalty_offsets = nullptr;                // [max_seqs + 1]
  int32_t* penalty_tokens = nullptr;                 // [max_penalty_tokens]
  int32_t* penalty_counts = nullptr;                 // [max_penalty_tokens]
  char* outputs = nullptr;  // start of tokens..top_logprobs (one contiguous range)
  size_t outputs_bytes = 0;
  int32_t* tokens = nullptr;      // [max_seqs]
  float* logprobs = nullptr;      // [max_seqs]
  int32_t* top_tokens = nullptr;  // [max_seqs, kMaxTopLogprobs]
  float* top_logprobs = nullptr;  // [max_seqs, kMaxTopLogprobs]
};

inline constexpr int64_t kMaxTopLogprobs = 32;  // SampleParams::num_top_logprobs limit

// Lays out the sampling buffers from `base` (nullptr: only sizes them); returns the bytes. The
// same layout serves the device buffers and their pinned host mirror.
size_t LayoutSamplingBuffers(int64_t max_seqs, int64_t max_penalty_tokens, char* base,
                             SamplingBuffers* out);

struct Workspace {
  // Residual stream and norm output: bf16 [N, H] each (HF keeps the residual in bf16).
  __nv_bfloat16* hidden = nullptr;
  __nv_bfloat16* normed = nullptr;
  // Mixer / MLP output, then the last-token rows for the LM head: bf16 [N, H].
  __nv_bfloat16* mix = nullptr;
  int32_t* metadata = nullptr;          // i32 [metadata_capacity] (BatchPlan layout)
  __nv_bfloat16* embed_rows = nullptr;  // bf16 [N, H]: injected embedding rows
  float* logits = nullptr;              // f32 [R, V]
  SamplingBuffers sampling;

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
  void* gdr_chunked = nullptr;        // chunked delta-rule workspace (kernels/cuda/gated_delta_rule.h)
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
