// The text half of `qwen35 bench`: prefill latency and decode throughput of the CUDA text model
// on a checkpoint (normally the 9B-shaped random one, `qwen35 make-demo-checkpoint --preset 9b`),
// measured the way bench/model/hf_baseline.py measures Hugging Face so the two can be compared
// (bench/model/compare.py).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/cuda/device_context.h"

namespace qwen::bench {

struct TextBenchOptions {
  std::filesystem::path model_dir;
  std::vector<int64_t> prompt_lens = {1024, 8192};  // prefill latency, one sequence each
  std::vector<int64_t> batches = {1, 8, 32, 64};    // decode throughput
  int64_t decode_prompt_len = 1024;                 // prompt of every decode sequence
  int64_t new_tokens = 256;                         // generated per decode sequence (>= 2)
  int repeats = 3;                                  // prefill: median of this many after a warm-up
  uint64_t seed = 0;                                // prompt token ids
  bool cuda_graphs = true;
};

struct PrefillTiming {
  int64_t tokens = 0;
  double ms = 0.0;  // median time to the first sampled token (forward + GPU sampling + copy)
};

struct DecodeTiming {
  int64_t batch = 0;
  int64_t prompt_tokens = 0;
  int64_t new_tokens = 0;
  double prefill_ms = 0.0;     // prefilling the batch's prompts (not part of decode_ms)
  double first_step_ms = 0.0;  // the first decode step (captures its CUDA graph)
  double decode_ms = 0.0;      // steps 2..new_tokens (new_tokens - 1 tokens per sequence)
  double tok_s_total = 0.0;    // batch * (new_tokens - 1) / decode_ms
  double tok_s_per_seq = 0.0;
};

struct TextBenchResult {
  double load_s = 0.0;
  std::string memory_plan;  // MemoryPlan::Describe()
  int64_t decode_graphs = 0;
  std::vector<PrefillTiming> prefill;
  std::vector<DecodeTiming> decode;
  double peak_memory_gib = 0.0;  // device memory in use at the end (all allocations are static)
};

// Loads the text model with caches sized for the largest configuration, then runs the prefill
// and decode measurements, printing one progress line per configuration to stderr.
absl::StatusOr<TextBenchResult> RunTextBench(const core::cuda::DeviceContext& ctx,
                                             const TextBenchOptions& options);

}  // namespace qwen::bench
