// The bf16 noise level of a vision input: what rounding alone costs, on that input, at exactly
// the points where the CUDA encoder (vision_service/model/cuda) rounds to bf16. A CPU oracle built
// from the fp32 reference ops of kernels/cpu runs the CPU VisionModel's op sequence
// (vision_service/model/vision_model.cc and its pieces) with bf16 weights and pixel rows, and
// rounds to bf16 every activation the CUDA encoder stores as bf16:
//   patch embedding (GEMM + bias), + position embedding, each LayerNorm output, qkv (+ bias),
//   q and k after RoPE, the attention output, proj (+ bias), each residual add, gelu(fc1 + bias)
//   (fc1's product stays fp32 as the CUDA GemmF32Out), fc2 (+ bias), and the merger's outputs;
// and keeps fp32 where the kernels do (LayerNorm statistics, RoPE angles, softmax, accumulation).
// What it cannot reproduce: the order of the GPU's fp32 sums, and the flash attention's bf16
// rounding of the softmax probabilities before P·V (a per-tile running max makes it
// schedule-dependent); both are further bf16-sized noise of the same kind.
//
// With rounding off the oracle is the CPU fp32 VisionModel exactly (vision_oracle_test.cc checks
// this bit for bit), so its op order provably mirrors the model under test.
#pragma once

#include <filesystem>
#include <memory>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "core/config.h"
#include "core/tensor.h"
#include "vision_service/model/vision_grid.h"

namespace qwen::testing {

class VisionBf16Oracle {
 public:
  // Reads config.json and the vision weights of the checkpoint in `model_dir` (f32 copies,
  // rounded to bf16 when `round_bf16`).
  static absl::StatusOr<std::unique_ptr<VisionBf16Oracle>> Load(
      const std::filesystem::path& model_dir, bool round_bf16);
  ~VisionBf16Oracle();

  // f32 [sum t*h*w / m², out_hidden_size] for pixel rows [N, patch_dim] (any floating dtype)
  // and their grids (validated by PlanVisionBatch). The GEMMs may use `num_threads` threads (the
  // values do not depend on it).
  absl::StatusOr<core::Tensor> Embeds(const core::Tensor& pixels,
                                      std::span<const vision::GridThw> grids,
                                      int num_threads = 1) const;

 private:
  struct Weights;
  VisionBf16Oracle() = default;
  void Round(float* x, int64_t n) const;

  bool round_ = true;
  core::VisionConfig config_;
  int64_t pos_side_ = 0;
  std::unique_ptr<Weights> w_;
};

// max |a - b| over n elements; +inf when any difference is NaN (a NaN must fail a bound).
float MaxAbsDiffOrInf(const float* a, const float* b, int64_t n);

}  // namespace qwen::testing
