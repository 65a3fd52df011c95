// One image or video in patch units, as a row of HF's image_grid_thw / video_grid_thw: shared by
// the pre-processing (which produces it) and the encoder (which lays its batch out from it).
#pragma once

#include <cstdint>

namespace qwen::vision {

// t = frames / temporal_patch_size (1 for images), h = H_px / patch_size, w = W_px / patch_size.
struct GridThw {
  int64_t t = 0;
  int64_t h = 0;
  int64_t w = 0;
  int64_t num_patches() const { return t * h * w; }
  friend bool operator==(const GridThw&, const GridThw&) = default;
};

}  // namespace qwen::vision
