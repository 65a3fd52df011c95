#include "bench/gpu/vision_bench.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>

#include "absl/strings/str_cat.h"
#include "bench/gpu/timing.h"
#include "core/status.h"
#include "vision_service/model/cuda/cuda_vision_model.h"

namespace qwen::bench {
absl::StatusOr<VisionBenchResult> RunVisionBench(const core::cuda::DeviceContext& ctx,
                                                 const VisionBenchOptions& o) {
  if (o.repeats < 1) return absl::InvalidArgumentError("repeats must be >= 1");
  size_t free0 = 0, total = 0;
  QWEN_RETURN_IF_ERROR(ctx.MemoryInfo(&free0, &total));
  VisionBenchResult r;
  const Clock::time_point t_load = Clock::now();
  // Patch size and merge size are read from the config after loading; size the workspace for the
  // largest image assuming the Qwen3.5 patch of 16 px and check below.
  const int64_t max_side =
      o.sides.empty() ? 448 : *std::max_element(o.sides.begin(), o.sides.end());
  const int64_t max_patches = std::max<int64_t>((max_side / 16) * (max_side / 16), 1);
  QWEN_ASSIGN_OR_RETURN(
      std::unique_ptr<vision::cuda::CudaVisionModel> model,
      vision::cuda::CudaVisionModel::Load(ctx, o.model_dir, {.max_patches = max_patches}));
  r.load_s = MsSince(t_load) / 1000.0;
  const core::VisionConfig& c = model->config();
  std::fprintf(stderr, "[bench] vision encoder loaded in %.1f s (depth %lld, hidden %lld)\n",
               r.load_s, static_cast<long long>(c.depth), static_cast<long long>(c.hidden_size));
  std::mt19937_64 rng(o.seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  const int64_t unit = c.patch_size * c.spatial_merge_size;
  for (int64_t side : o.sides) {
    if (side <= 0 || side % unit != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("image side ", side, " is not a positive multiple of ", unit));
    }
    const int64_t grid = side / c.patch_size;
    const vision::GridThw g{.t = 1, .h = grid, .w = grid};
    const int64_t n = grid * grid;
    core::Tensor pixels = core::Tensor::Zeros({n, model->patch_dim()}, core::DType::kF32);
    for (int64_t i = 0; i < pixels.numel(); ++i) pixels.data<float>()[i] = dist(rng);
    std::vector<double> enc, up;
    VisionTiming t{.side = side, .patches = n};
    for (int rep = 0; rep <= o.repeats; ++rep) {  // rep 0: warm-up
      Clock::time_point t0 = Clock::now();
      QWEN_ASSIGN_OR_RETURN(vision::cuda::PreparedVisionBatch batch,
                            model->Prepare(pixels, std::span(&g, 1)));
      QWEN_RETURN_IF_ERROR(model->Synchronize());
      const double up_ms = MsSince(t0);
      t0 = Clock::now();
      QWEN_ASSIGN_OR_RETURN(vision::cuda::DeviceVisionOutput out, model->Encode(batch));
      QWEN_RETURN_IF_ERROR(model->Synchronize());
      if (rep > 0) {
        enc.push_back(MsSince(t0));
        up.push_back(up_ms);
      }
      t.merged_tokens = out.rows;
    }
    t.ms = Median(enc);
    t.upload_ms = Median(up);
    r.images.push_back(t);
    std::fprintf(stderr,
                 "[bench] vision %lldx%lld (%lld patches): encoder %.2f ms, upload %.2f ms\n",
                 static_cast<long long>(side), static_cast<long long>(side),
                 static_cast<long long>(n), t.ms, t.upload_ms);
  }
  size_t free1 = 0;
  QWEN_RETURN_IF_ERROR(ctx.MemoryInfo(&free1, &total));
  r.peak_memory_gib = static_cast<double>(free0 > free1 ? free0 - free1 : 0) / (1 << 30);
  return r;
}

}  // namespace qwen::bench
