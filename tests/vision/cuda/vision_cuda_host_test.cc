// Host-side pieces of the CUDA vision encoder (run everywhere, no GPU): the packed batch metadata
// and the workspace layout.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "core/config.h"
#include "core/cuda/device_memory.h"
#include "vision_service/model/cuda/batch_metadata.h"
#include "vision_service/model/cuda/device_weights.h"
#include "vision_service/model/cuda/workspace.h"
#include "vision_service/model/vision_grid.h"

namespace qwen::vision::cuda {
namespace {

TEST(VisionBatchMetadataTest, PacksSegmentsAndCoordinatesOfTheCpuPlan) {
  const std::vector<GridThw> grids = {{1, 4, 6}, {3, 2, 4}, {1, 2, 2}};
  auto plan = PlanVisionBatch(grids, 24 + 24 + 4, 2);
  ASSERT_TRUE(plan.ok()) << plan.status();
  std::vector<int32_t> buf(static_cast<size_t>(VisionMetadataElems(plan->num_patches)), -7);
  const VisionMetadataLayout l = PackVisionMetadata(*plan, buf.data());
  EXPECT_EQ(l.num_segments, 5);  // 1 + 3 frames + 1
  EXPECT_EQ(l.cu_seqlens, 0);
  EXPECT_EQ(l.rows, 6);
  EXPECT_EQ(l.cols, 6 + 52);
  EXPECT_EQ(l.size, 6 + 2 * 52);
  EXPECT_LE(l.size, static_cast<int64_t>(buf.size()));
  const std::vector<int32_t> cu(buf.begin(), buf.begin() + 6);
  EXPECT_EQ(cu, (std::vector<int32_t>{0, 24, 32, 40, 48, 52}));
  for (int64_t n = 0; n < plan->num_patches; ++n) {
    EXPECT_EQ(buf[l.rows + n], plan->rows[n]) << n;
    EXPECT_EQ(buf[l.cols + n], plan->cols[n]) << n;
  }
  // The first item's rows are in 2x2 merge-block order: (0,0) (0,1) (1,0) (1,1) (0,2) ...
  EXPECT_EQ(std::vector<int32_t>(buf.begin() + l.rows, buf.begin() + l.rows + 6),
            (std::vector<int32_t>{0, 0, 1, 1, 0, 0}));
  EXPECT_EQ(std::vector<int32_t>(buf.begin() + l.cols, buf.begin() + l.cols + 6),
            (std::vector<int32_t>{0, 1, 0, 1, 2, 3}));
  const VisionMetadataLayout again = VisionMetadataLayoutFor(5, 52);
  EXPECT_EQ(again.rows, l.rows);
  EXPECT_EQ(again.cols, l.cols);
  EXPECT_EQ(again.size, l.size);
}

TEST(VisionBatchMetadataTest, CapacityCoversTheMostSegments) {
  // Smallest possible segments (1 x 1 frames with merge size 1) give one segment per row.
  const std::vector<GridThw> grids = {{5, 1, 1}, {2, 1, 1}};
  auto plan = PlanVisionBatch(grids, 7, 1);
  ASSERT_TRUE(plan.ok()) << plan.status();
  std::vector<int32_t> buf(static_cast<size_t>(VisionMetadataElems(7)));
  EXPECT_EQ(PackVisionMetadata(*plan, buf.data()).size, VisionMetadataElems(7));
}

bool Aligned(const void* p) { return reinterpret_cast<uintptr_t>(p) % 256 == 0; }

TEST(VisionWorkspaceTest, BuffersAreAlignedAndPhasesDoNotOverlapPersistentOnes) {
  const core::VisionConfig c;  // the 9B / 27B encoder (Hvis 1152, Ivis 4304, out 3584)
  const int64_t n = 16384;
  const size_t bytes = LayoutVisionWorkspace(c, n, nullptr, nullptr);
  // A fake base: only addresses are computed.
  char* base = reinterpret_cast<char*>(uintptr_t{1} << 40);
  VisionWorkspace w;
  EXPECT_EQ(LayoutVisionWorkspace(c, n, base, &w), bytes);
  const int64_t h = c.hidden_size, inter = c.intermediate_size, pd = 1536;
  using Range = std::pair<const char*, size_t>;
  auto r = [](const void* p, size_t b) { return Range{static_cast<const char*>(p), b}; };
  // mid (the fp32 GEMM products of both phases: qkv [N, 3H] as well as fc1 [N, I]) is live across
  // the phases, like the persistent buffers.
  const std::vector<Range> persistent = {r(w.pixels, n * pd * 2),
                                         r(w.metadata, VisionMetadataElems(n) * 4),
                                         r(w.hidden, n * h * 2),
                                         r(w.normed, n * h * 2),
                                         r(w.out, n / 4 * c.out_hidden_size * 2),
                                         r(w.mid, n * std::max(inter, 3 * h) * 4)};
  const std::vector<Range> attention = {r(w.qkv, n * 3 * h * 2), r(w.attn, n * h * 2)};
  const std::vector<Range> mlp = {r(w.act, n * std::max(inter, h) * 2)};
  auto disjoint = [](const Range& a, const Range& b) {
    return a.first + a.second <= b.first || b.first + b.second <= a.first;
  };
  auto check_group = [&](const std::vector<Range>& group) {
    for (const Range& x : group) {
      EXPECT_TRUE(Aligned(x.first));
      EXPECT_GE(x.first, base);
      EXPECT_LE(x.first + x.second, base + bytes);
      for (const Range& p : persistent) {
        if (x.first != p.first) {
          EXPECT_TRUE(disjoint(x, p));
        }
      }
    }
    for (size_t i = 0; i < group.size(); ++i) {
      for (size_t j = i + 1; j < group.size(); ++j) EXPECT_TRUE(disjoint(group[i], group[j]));
    }
  };
  check_group(persistent);
  check_group(attention);
  check_group(mlp);
  // The bias scratch covers the patch embedding and the merger's fc2 (the blocks' GEMMs write
  // their fp32 products into mid instead).
  EXPECT_EQ(VisionBiasScratchElems(c, n), std::max(n * h, n / 4 * c.out_hidden_size));
  // 16384 patches of the shipped encoder: about 0.6 GiB (the number the service plans with).
  EXPECT_LT(bytes, size_t{1} << 30) << core::cuda::FormatMiB(bytes);
}

TEST(VisionWorkspaceTest, WeightBytesOfTheShippedEncoder) {
  core::VisionConfig c;
  c.out_hidden_size = 4096;  // 9B
  // 27 blocks of 4·1152² + 2·1152·4304 + 6·1152 + 4304 weights, the patch embedding, the
  // 48² position table and the merger: ~0.46 B bf16 parameters.
  const size_t bytes = VisionDeviceWeights::BytesFor(c);
  EXPECT_GT(bytes, size_t{850} << 20);
  EXPECT_LT(bytes, size_t{950} << 20);
}

}  // namespace
}  // namespace qwen::vision::cuda
