// CPU fp32 reference of the causal depthwise conv1d + SiLU of Gated DeltaNet (kernels/conv1d.h,
// MODEL.md 2.7.2 step 2 and 2.7.6).
#include "kernels/conv1d.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

namespace qwen::kernels::cpu {

void CausalConv1dSilu(const float* u, const float* w, float* state, float* out,
                      const CausalConv1dParams& p) {
  const int64_t c_count = p.channels;
  const int64_t hist = p.kernel - 1;  // rows of state
  // Input row r of the virtual sequence [state (hist rows) ; u (T rows)].
  auto row = [&](int64_t r) -> const float* {
    return r < hist ? state + r * c_count : u + (r - hist) * p.u_stride;
  };
  for (int64_t t = 0; t < p.num_tokens; ++t) {
    float* o = out + t * c_count;
    // Output t covers virtual rows t .. t + Kc - 1; TRAP: w[c][Kc-1] multiplies the current
    // token (PyTorch conv1d is a cross-correlation), w[c][0] the oldest one.
    std::fill(o, o + c_count, 0.0f);
    for (int64_t j = 0; j < p.kernel; ++j) {
      const float* src = row(t + j);
      for (int64_t c = 0; c < c_count; ++c) o[c] += w[c * p.kernel + j] * src[c];
    }
    for (int64_t c = 0; c < c_count; ++c) o[c] = o[c] / (1.0f + std::exp(-o[c]));
  }
  if (hist <= 0) return;
  // The new state is the last Kc-1 rows of [state ; u]. TRAP: when T < Kc-1 part of the old state
  // survives, shifted towards the front (oldest first), so rows are moved front to back before
  // the new inputs are written behind them.
  const int64_t kept = std::max<int64_t>(hist - p.num_tokens, 0);
  const size_t row_bytes = static_cast<size_t>(c_count) * sizeof(float);
  for (int64_t s = 0; s < kept; ++s) {
    std::memmove(state + s * c_count, state + (s + p.num_tokens) * c_count, row_bytes);
  }
  for (int64_t s = kept; s < hist; ++s) {
    const int64_t t = p.num_tokens - hist + s;  // the input that lands in state row s
    std::memcpy(state + s * c_count, u + t * p.u_stride, row_bytes);
  }
}

}  // namespace qwen::kernels::cpu
