// The varlen batch layout of the vision encoder: which patch rows belong to which item and frame,
// and where each patch sits in its image (MODEL.md 4, first paragraph). Host-side metadata computed
// once per batch (the "plan") and shared by every block.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "core/tensor.h"
#include "vision_service/grid_thw.h"

namespace qwen::vision {

// Rows of an i64 (or i32) [num_items, 3] grid tensor.
absl::StatusOr<std::vector<GridThw>> GridsFromTensor(const core::Tensor& grid_thw);

struct VisionPlan {
  int64_t num_patches = 0;  // N = sum t*h*w
  // i64 [N]: un-merged patch row / column of every pixel_values row (2x2 merge-block order,
  // repeated for every temporal index).
  std::vector<int64_t> rows;
  std::vector<int64_t> cols;
  // Attention segments: one per frame of every item (h*w patches each), prefix sums from 0.
  std::vector<int64_t> cu_seqlens;
  // [num_items + 1]: item i owns pixel rows [patch_offsets[i], patch_offsets[i+1]) and merged
  // output rows [merged_offsets[i], merged_offsets[i+1]).
  std::vector<int64_t> patch_offsets;
  std::vector<int64_t> merged_offsets;
};

// Validates `grids` against `num_patches` pixel rows and builds the plan. Errors
// (InvalidArgument) name the item: no items, a non-positive extent, h or w not a multiple of
// `merge_size`, an extent over kMaxGridExtent, or grid products that do not sum to num_patches.
absl::StatusOr<VisionPlan> PlanVisionBatch(std::span<const GridThw> grids, int64_t num_patches,
                                           int64_t merge_size);

// Bound on each of t, h, w (far above any real input: 2^16 patches = 1M pixels per side), so that
// products cannot overflow int64.
inline constexpr int64_t kMaxGridExtent = int64_t{1} << 16;

}  // namespace qwen::vision
