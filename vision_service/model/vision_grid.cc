#include "vision_service/model/vision_grid.h"

#include "absl/strings/str_cat.h"
#include "core/status.h"

namespace qwen::vision {

absl::StatusOr<std::vector<GridThw>> GridsFromTensor(const core::Tensor& grid_thw) {
  if (grid_thw.rank() != 2 || grid_thw.dim(1) != 3) {
    return absl::InvalidArgumentError(absl::StrCat("grid_thw must be [num_items, 3], got ",
                                                   core::ShapeToString(grid_thw.shape())));
  }
  if (grid_thw.dtype() != core::DType::kI64 && grid_thw.dtype() != core::DType::kI32) {
    return absl::InvalidArgumentError(
        absl::StrCat("grid_thw must be I64 or I32, got ", core::DTypeName(grid_thw.dtype())));
  }
  QWEN_ASSIGN_OR_RETURN(core::Tensor g, grid_thw.To(core::DType::kI64));
  std::vector<GridThw> grids(static_cast<size_t>(g.dim(0)));
  const int64_t* p = g.data<int64_t>();
  for (size_t i = 0; i < grids.size(); ++i) grids[i] = {p[3 * i], p[3 * i + 1], p[3 * i + 2]};
  return grids;
}

absl::StatusOr<VisionPlan> PlanVisionBatch(std::span<const GridThw> grids, int64_t num_patches,
                                           int64_t merge_size) {
  if (grids.empty()) return absl::InvalidArgumentError("no images or videos (grid_thw is empty)");
  const int64_t m = merge_size;
  VisionPlan plan;
  plan.patch_offsets.push_back(0);
  plan.merged_offsets.push_back(0);
  plan.cu_seqlens.push_back(0);
  int64_t total = 0;
  for (size_t i = 0; i < grids.size(); ++i) {
    const GridThw& g = grids[i];
    const std::string where =
        absl::StrCat("item ", i, " grid (t=", g.t, ", h=", g.h, ", w=", g.w, ")");
    if (g.t < 1 || g.h < 1 || g.w < 1) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": every extent must be >= 1"));
    }
    if (g.t > kMaxGridExtent || g.h > kMaxGridExtent || g.w > kMaxGridExtent) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": an extent exceeds the supported maximum ", kMaxGridExtent));
    }
    if (g.h % m != 0 || g.w % m != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": h and w must be multiples of spatial_merge_size ", m,
                       " (the patch merger concatenates ", m, "x", m, " blocks)"));
    }
    total += g.num_patches();
    if (total > num_patches) {
      return absl::InvalidArgumentError(absl::StrCat("grid_thw needs at least ", total,
                                                     " patch rows up to ", where,
                                                     ", but pixel_values has ", num_patches));
    }
    plan.patch_offsets.push_back(total);
    plan.merged_offsets.push_back(total / (m * m));
    for (int64_t f = 0; f < g.t; ++f) plan.cu_seqlens.push_back(plan.cu_seqlens.back() + g.h * g.w);
  }
  if (total != num_patches) {
    return absl::InvalidArgumentError(
        absl::StrCat("grid_thw covers ", total, " patch rows but pixel_values has ", num_patches));
  }
  plan.num_patches = total;
  plan.rows.reserve(static_cast<size_t>(total));
  plan.cols.reserve(static_cast<size_t>(total));
  for (const GridThw& g : grids) {
    const int64_t blocks_w = g.w / m;
    for (int64_t f = 0; f < g.t; ++f) {
      // TRAP: pixel rows are in m x m merge-block order (bh, bw, mh, mw), not raster order.
      for (int64_t n = 0; n < g.h * g.w; ++n) {
        const int64_t mw = n % m, mh = (n / m) % m;
        const int64_t bw = (n / (m * m)) % blocks_w, bh = n / (m * m * blocks_w);
        plan.rows.push_back(bh * m + mh);
        plan.cols.push_back(bw * m + mw);
      }
    }
  }
  return plan;
}

}  // namespace qwen::vision
