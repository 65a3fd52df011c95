// The vision encoder's device buffers for batches of up to N = max_patches patch rows, carved out
// of one allocation at load (no cudaMalloc in a forward). The attention phase and the MLP /
// merger phase of a block never overlap, so their scratch buffers share one region; the fp32
// product buffer leads it, used by both.
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
  __nv_bfloat16* out = nullptr;     // [N/m², out_hidden_size]: the merged embeddings

  // Scratch, both phases: a linear layer's fp32 product before its bias (qkv [N, 3*Hvis], proj and
  // fc2 [N, Hvis], fc1 [N, Ivis], merger fc1 [N/m², m²Hvis]), read by the kernel that adds it.
  float* mid = nullptr;  // f32 [N * max(Ivis, 3*Hvis)]
  // Scratch, attention phase.
  __nv_bfloat16* qkv = nullptr;   // [N, 3*Hvis]: [q | k | v], each head-major
  __nv_bfloat16* attn = nullptr;  // [N, Hvis]
  // Scratch, MLP and merger phase: the activation after bias + GELU.
  __nv_bfloat16* act = nullptr;  // [N * max(Ivis, Hvis)]
};

// Lays the workspace for `config` and `max_patches` out from `base` (nullptr: sizes only) and
// returns its size in bytes.
size_t LayoutVisionWorkspace(const core::VisionConfig& config, int64_t max_patches, char* base,
                             VisionWorkspace* out);

// The largest m * n of the encoder's bf16-output GEMMs with a bias (patch embedding, merger fc2;
// the blocks' linear layers add their biases in their own kernels from `mid`) at `max_patches`
// rows: the fp32 scratch of the cuBLASLt context they need (kernels/cuda/gemm.h
// ReserveBiasScratch), reserved at load.
int64_t VisionBiasScratchElems(const core::VisionConfig& config, int64_t max_patches);

}  // namespace qwen::vision::cuda
