// Linear layer: y = x · Wᵀ (+ b), W stored [out_features, in_features] (PyTorch convention).
#pragma once

#include <cstdint>

namespace qwen::kernels::cpu {

// x: f32 [m, k] (row stride k), w: f32 [n, k], bias: f32 [n] or nullptr, y: f32 [m, n].
// Accumulates in fp32; may use all threads of `num_threads` (<= 1: single-threaded).
void Linear(const float* x, const float* w, const float* bias, float* y, int64_t m, int64_t n,
            int64_t k, int num_threads = 1);

}  // namespace qwen::kernels::cpu
