// The vision half of `qwen35 bench`: the CUDA vision encoder (vision_service/model/cuda) on square
// images, timed as bench/model/hf_baseline.py times Hugging Face's encoder (pixel rows already
// prepared, encoder only, the GPU synchronised), plus the host-to-device upload on its own.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

#include "absl/status/statusor.h"
#include "core/cuda/device_context.h"

namespace qwen::bench {

struct VisionBenchOptions {
  std::filesystem::path model_dir;
  std::vector<int64_t> sides = {448, 1024, 2048};  // pixels; multiples of patch * merge (32)
  int repeats = 10;                                // median of this many after a warm-up
  uint64_t seed = 0;
};

struct VisionTiming {
  int64_t side = 0;
  int64_t patches = 0;
  int64_t merged_tokens = 0;
  double ms = 0.0;         // median encoder time (Encode + synchronise)
  double upload_ms = 0.0;  // median Prepare (validate, stage, upload the bf16 pixel rows) + sync
};

struct VisionBenchResult {
  double load_s = 0.0;
  std::vector<VisionTiming> images;
  double peak_memory_gib = 0.0;  // weights + workspace + staging of the encoder
};

absl::StatusOr<VisionBenchResult> RunVisionBench(const core::cuda::DeviceContext& ctx,
                                                 const VisionBenchOptions& options);

}  // namespace qwen::bench
