// A tiny random Qwen3.5 vision checkpoint written to a temporary directory, and an independent
// double-precision reference of the whole encoder that works in raster order (MODEL.md 4) — used
// by the vision unit tests, which must not depend on committed reference cases.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "vision_service/model/vision_grid.h"

namespace qwen::vision::testing {

struct TinyVisionSpec {
  int64_t depth = 2;
  int64_t hidden = 16;
  int64_t heads = 2;  // head dim 8
  int64_t inter = 24;
  int64_t patch = 2;  // patch_dim = 3 * 2 * 2 * 2 = 24
  int64_t temporal = 2;
  int64_t merge = 2;
  int64_t pos_side = 4;  // 16 position embeddings
  int64_t out_hidden = 8;
  uint32_t seed = 7;
};

struct TinyVisionCheckpoint {
  std::filesystem::path dir;
  std::map<std::string, core::Tensor> weights;  // f32, checkpoint names
  TinyVisionSpec spec;
  int64_t patch_dim() const { return 3 * spec.temporal * spec.patch * spec.patch; }
};

// Writes config.json + model.safetensors under a fresh directory below the test temp dir.
// `extra` tensors are added to the file as they are (to provoke loader errors); names in
// `omit` are left out.
TinyVisionCheckpoint WriteTinyVisionCheckpoint(
    const std::string& name, const TinyVisionSpec& spec,
    const std::map<std::string, core::Tensor>& extra = {},
    const std::vector<std::string>& omit = {});

// Random pixel rows f32 [sum t*h*w, patch_dim] in [-1, 1).
core::Tensor RandomPixels(int64_t rows, int64_t patch_dim, uint32_t seed);

// The encoder in double, written independently of the library: every item is unpacked from the
// merge-block row order into a raster [t][r][c] grid, processed with plain loops (full-softmax
// attention over the frame, F.interpolate-style position table resampling, rotate_half RoPE on
// (r, c)), and merged by gathering patches (2bh+mh, 2bw+mw) explicitly. Returns f32
// [sum t*h*w/m², out_hidden].
std::vector<double> ReferenceEncoder(const TinyVisionCheckpoint& ckpt, const core::Tensor& pixels,
                                     const std::vector<GridThw>& grids);

}  // namespace qwen::vision::testing
