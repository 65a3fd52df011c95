// The vision encoder's device buffers for batches of up to N = max_patches patch rows, carved out
// of one allocation at load (no cudaMalloc in a forward). The attention phase and the MLP /
// merger phase of a block never overlap, so their scratch buffers share one region.
#pragma once

#include <cuda_bf16.h>

#include <cstddef>
#include <cstdint>

#include "core/config.h"

namespace qwen::vision::cuda {

struct VisionWorkspace {
  // Persistent across one forward (and, for pixels / metadata, until the next Prepare).
  __nv_bfloat16* pixels = nullptr;  // [N, patch_dim]: the batch's pixel rows
  int32_t* metadata = nullptr;      // i32 [VisionMetadataElems(N)] (batch_metadata.h layout)
  __nv_bfloat16* hidden = nullptr;  // [N, Hvis]: the residual stream (bf16, as in HF)
  __nv_bfloat16* normed = nullptr;  // [N, Hvis]: LayerNorm output ([N/m², m²Hvis] for the merger)
  __nv_bfloat16* mix = nullptr;     // [N, Hvis]: attention / MLP output before the residual add
  __nv_bfloat16* out = nullptr;     // [N/m², out_hidden_size]: the merged embeddings

  // Scratch, attention phase.
  __nv_bfloat16* qkv = nullptr;   // [N, 3*Hvis]: [q | k | v], each head-major
  __nv_bfloat16* attn = nullptr;  // [N, Hvis]
  // Scratch, MLP and merger phase: the fc1 product before bias + GELU, and the activation.
  float* mid = nullptr;          // f32 [N * max(Ivis, Hvis)]
  __nv_bfloat16* act = nullptr;  // [N * max(Ivis, Hvis)]
};

// Lays the workspace for `config` and `max_patches` out from `base` (nullptr: sizes only) and
// returns its size in bytes.
size_t LayoutVisionWorkspace(const core::VisionConfig& config, int64_t max_patches, char* base,
                             VisionWorkspace* out);

// The largest m * n of the encoder's bf16-output GEMMs with a bias (patch embedding, qkv, proj,
// fc2, merger fc2) at `max_patches` rows: the fp32 scratch of the cuBLASLt context they need
// (kernels/cuda/gemm.h ReserveBiasScratch), reserved at load.
int64_t VisionBiasScratchElems(const core::VisionConfig& config, int64_t max_patches);

}  // namespace qwen::vision::cuda
