// The bf16 noise level of a reference case: what rounding alone costs, on that case, at exactly
// the points where the CUDA model rounds to bf16. A CPU oracle (the fp32 reference ops of
// kernels/cpu) runs the decoder with bf16 weights and every activation the CUDA kernels store as
// bf16 rounded to bf16 (embeddings; norm, projection, RoPE, attention, gate and MLP outputs; the
// residual stream), and fp32 where they keep fp32 (conv output, L2 norm, gates, delta rule and
// its state, softmax, logits). Its distance to the Hugging Face fp32 reference is the case's
// bf16 sensitivity, which the GPU tolerances are derived from (agreement.h).
//
// The tiny reference models are far from uniformly sensitive: measured this way the max logit
// error of a correct bf16 pipeline ranges from 0.5% (text_causal_untied_1tok) to 14.5%
// (text_cond_untied_hv2: 150 tokens through 8 noisy layers) of the logits' scale.
#pragma once

#include <filesystem>
#include <vector>

#include "absl/status/statusor.h"
#include "core/tensor.h"

namespace qwen::testing {

// f32 [ids.size(), V] logits of one sequence run from an empty state in one pass (text positions).
absl::StatusOr<core::Tensor> Bf16OracleLogits(const std::filesystem::path& model_dir,
                                              const std::vector<int64_t>& ids);

struct CaseNoise {
  float scale = 0.0f;  // max |reference prefill logits|
  // max |oracle - reference| / scale over the prefill positions and the greedy steps (teacher
  // forced along the reference's greedy ids, whose step logits are then row T-1+i of one pass).
  float noise = 0.0f;
  float prefill_noise = 0.0f;
  float step_noise = 0.0f;
};

// Reads `case_dir`/{model, inputs.safetensors, expected.safetensors} and measures its noise.
absl::StatusOr<CaseNoise> MeasureCaseNoise(const std::filesystem::path& case_dir);

}  // namespace qwen::testing
