// The vision inputs of the committed reference cases, for the CUDA encoder tests: each case's
// image batch, video batch, and both as one mixed batch (images first), with Hugging Face's fp32
// embeddings of the same rows.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "vision_service/model/vision_grid.h"

namespace qwen::testing {

struct VisionCaseInput {
  std::string name;     // "image", "video" or "mixed"
  core::Tensor pixels;  // f32 [N, patch_dim]
  std::vector<vision::GridThw> grids;
  core::Tensor expected;  // f32 [N / m², out_hidden]: HF's image_embeds / video_embeds rows
};

// The inputs of one vision_* / multimodal_* case folder: "image" when it has pixel_values,
// "video" when it has pixel_values_videos, and "mixed" (the concatenation) when it has both.
// Fails the calling test (ADD_FAILURE) on unreadable files.
std::vector<VisionCaseInput> ReadVisionCaseInputs(const std::filesystem::path& case_dir);

// Row-wise concatenation of f32 [*, d] tensors.
core::Tensor ConcatRows(const std::vector<core::Tensor>& parts);

}  // namespace qwen::testing
