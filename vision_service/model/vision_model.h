// Qwen3_5VisionModel on the CPU (fp32): patch embedding, bilinear learned position embedding,
// `depth` ViT blocks with 2-D RoPE and per-frame attention, and the 2x2 patch merger (MODEL.md 4).
// Immutable after Load(); one Forward() encodes a varlen batch of images and videos (possibly from
// different requests) at once.
#pragma once

#include <filesystem>
#include <memory>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "core/config.h"
#include "core/safetensors.h"
#include "core/tensor.h"
#include "vision_service/model/vision_block.h"
#include "vision_service/model/vision_context.h"
#include "vision_service/model/vision_grid.h"
#include "vision_service/model/vision_merger.h"
#include "vision_service/model/vision_patch_embed.h"

namespace qwen::vision {

struct VisionOutput {
  // f32 [sum_i t_i*h_i*w_i / m², out_hidden_size]: merged tokens of every item, items in input
  // order, each item's tokens in (t, h/m, w/m) raster order (the placeholder order).
  core::Tensor embeds;
  // [num_items + 1]: item i owns embeds rows [item_offsets[i], item_offsets[i+1]).
  std::vector<int64_t> item_offsets;
};

// The vision_config checks every encoder (CPU and CUDA) makes at load: InvalidArgument naming the
// field for an activation other than gelu_pytorch_tanh, a hidden size that is not a positive
// multiple of num_heads, a head dim that is not a multiple of 4 (2-D RoPE), non-positive sizes, or
// a position table that is not square.
absl::Status ValidateVisionConfig(const core::VisionConfig& c);

class VisionModel {
 public:
  // Loads config.json (which must have a vision_config) and the vision weights of a Hugging Face
  // checkpoint directory.
  static absl::StatusOr<std::unique_ptr<VisionModel>> Load(const std::filesystem::path& dir);
  // Loads from an already opened checkpoint. Missing or mis-shaped tensors, and tensors under the
  // vision prefix that the config does not explain, are errors naming them.
  static absl::StatusOr<std::unique_ptr<VisionModel>> Load(core::Checkpoint& checkpoint,
                                                           const core::ModelConfig& config);

  // The pieces point at config_, so the model stays where Load() put it.
  VisionModel(const VisionModel&) = delete;
  VisionModel& operator=(const VisionModel&) = delete;

  const core::VisionConfig& config() const { return config_; }
  // Width of a pixel_values row: in_channels * temporal_patch_size * patch_size² (1536).
  int64_t patch_dim() const { return patch_embed_.patch_dim(); }

  // pixel_values: [N, patch_dim] (F32, BF16 or F16; computed in fp32), rows of all items
  // concatenated in `grids` order, each item's rows in merge-block order as the processor emits
  // them. Inputs are validated first (shape, dtype, grids: see PlanVisionBatch).
  absl::StatusOr<VisionOutput> Forward(const VisionContext& ctx, const core::Tensor& pixel_values,
                                       std::span<const GridThw> grids) const;

 private:
  VisionModel() = default;
  // Adds the interpolated position embedding of every item (repeated per frame) to x [N, Hvis].
  void AddPositionEmbeddings(const VisionPlan& plan, std::span<const GridThw> grids,
                             core::Tensor& x) const;

  core::VisionConfig config_;
  int64_t pos_side_ = 0;    // S: pos_embed is an S x S grid
  core::Tensor pos_embed_;  // f32 [S*S, Hvis]
  VisionPatchEmbed patch_embed_;
  std::vector<VisionBlock> blocks_;
  VisionMerger merger_;
};

}  // namespace qwen::vision
