// The vision encoder's weights on the GPU: every tensor of MODEL.md 7.4 as bf16, in one device
// allocation, read from an F32/BF16/F16 safetensors checkpoint with the names, shapes and
// strictness of the CPU loader (vision_model.cc: a missing or mis-shaped tensor, a non-floating
// dtype, or a tensor under the vision prefix that the config does not explain is an error naming
// it). Layouts are the checkpoint's ([out, in] matrices), so each linear layer is one cuBLASLt
// GEMM.
#pragma once

#include <cuda_bf16.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <vector>

#include "absl/status/statusor.h"
#include "core/config.h"
#include "core/cuda/device_context.h"
#include "core/cuda/device_memory.h"

namespace qwen::vision::cuda {

using bf16 = __nv_bfloat16;

// blocks.{j}.* (MODEL.md 4.4).
struct DeviceVisionBlock {
  const bf16* norm1_w = nullptr;  // [Hvis]
  const bf16* norm1_b = nullptr;  // [Hvis]
  const bf16* qkv_w = nullptr;    // [3*Hvis, Hvis]: output [q | k | v], each head-major
  const bf16* qkv_b = nullptr;    // [3*Hvis]
  const bf16* proj_w = nullptr;   // [Hvis, Hvis]
  const bf16* proj_b = nullptr;   // [Hvis]
  const bf16* norm2_w = nullptr;  // [Hvis]
  const bf16* norm2_b = nullptr;  // [Hvis]
  const bf16* fc1_w = nullptr;    // [Ivis, Hvis]
  const bf16* fc1_b = nullptr;    // [Ivis]
  const bf16* fc2_w = nullptr;    // [Hvis, Ivis]
  const bf16* fc2_b = nullptr;    // [Hvis]
};

// merger.* (MODEL.md 4.5), m = spatial_merge_size.
struct DeviceVisionMerger {
  const bf16* norm_w = nullptr;  // [Hvis]
  const bf16* norm_b = nullptr;  // [Hvis]
  const bf16* fc1_w = nullptr;   // [m²Hvis, m²Hvis]
  const bf16* fc1_b = nullptr;   // [m²Hvis]
  const bf16* fc2_w = nullptr;   // [out_hidden_size, m²Hvis]
  const bf16* fc2_b = nullptr;   // [out_hidden_size]
};

class VisionDeviceWeights {
 public:
  VisionDeviceWeights() = default;
  // Reads the vision tensors (prefix config.vision_weight_prefix) of the checkpoint in `dir`;
  // config.vision must be set. Errors as the CPU loader's; ResourceExhausted when the weights do
  // not fit the GPU's free memory.
  static absl::StatusOr<VisionDeviceWeights> Load(const core::cuda::DeviceContext& ctx,
                                                  const std::filesystem::path& dir,
                                                  const core::ModelConfig& config);
  // Device bytes the weights of `config` take (the layout Load allocates).
  static size_t BytesFor(const core::VisionConfig& config);

  size_t bytes() const { return memory_.bytes(); }
  const bf16* patch_embed_w() const { return patch_embed_w_; }  // [Hvis, C*Tp*P*P]
  const bf16* patch_embed_b() const { return patch_embed_b_; }  // [Hvis]
  const bf16* pos_embed() const { return pos_embed_; }          // [num_position_embeddings, Hvis]
  const std::vector<DeviceVisionBlock>& blocks() const { return blocks_; }
  const DeviceVisionMerger& merger() const { return merger_; }

 private:
  core::cuda::DeviceMemory memory_;
  const bf16* patch_embed_w_ = nullptr;
  const bf16* patch_embed_b_ = nullptr;
  const bf16* pos_embed_ = nullptr;
  std::vector<DeviceVisionBlock> blocks_;
  DeviceVisionMerger merger_;
};

}  // namespace qwen::vision::cuda
