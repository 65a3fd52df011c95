// The bf16 acceptance bound of the CUDA vision encoder against an fp32 reference (Hugging Face's
// fp32 image_embeds / video_embeds of a reference case, or the CPU fp32 VisionModel on a synthetic
// batch):
//
//   max |gpu - ref| <= tolerance = max(kMinTolerance, kNoiseFactor * noise) * scale
//
// scale = max |ref|; noise = max |oracle - ref| / scale, the input's own bf16 sensitivity measured
// by the CPU oracle that rounds exactly where the CUDA encoder rounds (vision_bf16_oracle.h).
// The constants are the text model's (tests/model/cuda/agreement.h), for the same reasons:
// kMinTolerance = 2e-2 is STYLE.md 6.2.2's "bf16 about 2e-2", a floor for inputs whose oracle run
// happens to land close to the reference; kNoiseFactor = 2 because the GPU is another realisation
// of the same rounding noise (its fp32 sums run in other orders, so other elements round the
// other way, and the flash attention also rounds its probabilities to bf16), and the max of such
// noise varies between realisations. On the committed cases the oracle's noise is 0.5-0.9% of
// the scale, so the 2% floor sets the bound. What it catches, measured by breaking the oracle on
// those cases: no RoPE on k moves the embeddings by 14-26% of the scale, frames of a video
// attending to each other by 23-39%, the position embedding on the first frame only by 38-53%,
// attention replaced by v by 63-96%. What it cannot catch: swapping the tanh and erf GELU forms
// moves them by less than bf16 noise (< 0.2%); that is the fp32 CPU model's 1e-3 parity
// (tests/vision/model) to pin down, and the CUDA kernels' own parity tests. The oracle's distance
// to the reference is checked to stay plausible (kMaxPlausibleNoise) so that the bound can never
// become vacuous.
#pragma once

#include <algorithm>
#include <string>

#include "absl/strings/str_format.h"

namespace qwen::testing {

inline constexpr float kMinTolerance = 2e-2f;
inline constexpr float kNoiseFactor = 2.0f;
// bf16 keeps 8 significant bits (relative rounding error <= 2^-9 = 0.2%); a couple of blocks of
// such noise stays within a few percent of the output scale. An oracle 10% away from the
// reference would mean the oracle (or the case) is broken, not that bf16 is that coarse.
inline constexpr float kMaxPlausibleNoise = 0.10f;

struct EmbedTolerance {
  float scale = 0.0f;      // max |reference|
  float noise = 0.0f;      // max |oracle - reference| / scale
  float tolerance = 0.0f;  // absolute
  std::string Summary() const {
    return absl::StrFormat("scale %.4g, bf16 oracle noise %.3f%% -> tolerance %.4g (%.2f%%)", scale,
                           100.0 * noise, tolerance, 100.0 * tolerance / scale);
  }
};

inline EmbedTolerance MakeEmbedTolerance(float scale, float oracle_max_abs_diff) {
  EmbedTolerance t;
  t.scale = scale;
  t.noise = scale > 0.0f ? oracle_max_abs_diff / scale : 0.0f;
  t.tolerance = std::max(kMinTolerance, kNoiseFactor * t.noise) * scale;
  return t;
}

}  // namespace qwen::testing
