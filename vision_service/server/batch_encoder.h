// The encoder as the scheduler sees it: one call encodes a varlen batch of items. The production
// implementation runs VisionModel::Forward (vision_model_encoder.h); tests may wrap it.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "core/tensor.h"
#include "vision_service/server/encode_types.h"

namespace qwen::vision {

struct EncoderInfo {
  int64_t patch_size = 0;
  int64_t temporal_patch_size = 0;
  int64_t spatial_merge_size = 0;
  int64_t out_hidden_size = 0;
  int64_t patch_dim = 0;  // width of a pixel_values row
};

struct BatchEncoderOutput {
  core::Tensor embeds;                // f32 [total merged tokens, out_hidden_size]
  std::vector<int64_t> item_offsets;  // [items + 1]: item i owns rows [offsets[i], offsets[i+1])
};

class BatchEncoder {
 public:
  virtual ~BatchEncoder() = default;
  virtual EncoderInfo info() const = 0;
  // pixels: f32 [sum of grids[i].num_patches(), patch_dim], items concatenated in order.
  // Called from one thread at a time.
  virtual absl::StatusOr<BatchEncoderOutput> Encode(const core::Tensor& pixels,
                                                    std::span<const ItemGrid> grids) = 0;
};

}  // namespace qwen::vision
