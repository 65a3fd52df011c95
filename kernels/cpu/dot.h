// The fp32 dot product the CPU reference ops share: 8 independent partial sums (so it vectorises)
// combined in a fixed tree order, so every op rounds the same way on every machine.
#pragma once

#include <cstdint>

namespace qwen::kernels::cpu {

inline float Dot(const float* a, const float* b, int64_t n) {
  float acc[8] = {};
  const int64_t n_main = n - n % 8;
  for (int64_t i = 0; i < n_main; i += 8) {
    for (int l = 0; l < 8; ++l) acc[l] += a[i + l] * b[i + l];
  }
  float s = ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
  for (int64_t i = n_main; i < n; ++i) s += a[i] * b[i];
  return s;
}

}  // namespace qwen::kernels::cpu
