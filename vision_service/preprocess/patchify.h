// Normalisation and patchify: frames of one image/video -> pixel_values rows (MODEL.md §4 intro,
// §6.2 steps 4-5, §6.3 step 3).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "core/tensor.h"
#include "vision_service/grid_thw.h"
#include "vision_service/preprocess/image.h"
#include "vision_service/preprocess/preprocess_config.h"

namespace qwen::vision {

// The 256-entry float lookup tables of HF's fused rescale + normalise, per channel:
// with do_rescale and do_normalize, mean' = f32(mean) * f32(1 / rescale_factor) (likewise std')
// and x = (f32(pixel) - mean') / std' in fp32 — for Qwen3.5 x = (pixel - 127.5) / 127.5.
// Only do_rescale: x = pixel * f32(rescale_factor). Only do_normalize: (pixel - mean) / std.
std::array<std::array<float, 256>, 3> NormalizationTables(const ImageProcessorConfig& cfg);

// Frames (all the same size, a multiple of patch_size * merge_size on both sides) are padded to a
// multiple of temporal_patch_size by repeating the last one (an image is one frame: it becomes
// temporal_patch_size identical copies), normalised and patchified:
//   row n = (((ti * h/m + bh) * w/m + bw) * m + mh) * m + mw  — 2x2 merge-block order, not raster
//   (TRAP, MODEL.md §4); patch row = bh*m + mh, patch column = bw*m + mw;
//   column = ((c * tp + t) * p + y) * p + x  — vector order (channel, time, y, x), x fastest.
// Returns f32 [t*h*w, 3*tp*p*p]; `grid` receives (t, h, w).
absl::StatusOr<core::Tensor> NormalizeAndPatchify(const std::vector<const RgbImage*>& frames,
                                                  const ImageProcessorConfig& cfg, GridThw* grid);

}  // namespace qwen::vision
