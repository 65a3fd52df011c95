// Vectorised loads/stores converting to/from fp32 (CUDA translation units only). A Vec<T, V> load
// is one 16-byte (or narrower) access when the pointer is aligned to sizeof(T) * V.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/detail/numeric.h"

namespace qwen::kernels::cuda::detail {

template <class T, int V>
struct alignas(sizeof(T) * V) Vec {
  T v[V];
};

template <int V, class T>
__device__ __forceinline__ void LoadF(const T* p, float (&out)[V]) {
  const Vec<T, V> tmp = *reinterpret_cast<const Vec<T, V>*>(p);
#pragma unroll
  for (int i = 0; i < V; ++i) out[i] = ToFloat(tmp.v[i]);
}

template <int V, class T>
__device__ __forceinline__ void LoadRaw(const T* p, Vec<T, V>& out) {
  out = *reinterpret_cast<const Vec<T, V>*>(p);
}

template <int V, class T>
__device__ __forceinline__ void StoreRaw(T* p, const Vec<T, V>& in) {
  *reinterpret_cast<Vec<T, V>*>(p) = in;
}

__device__ __forceinline__ void FromFloat(float x, float& out) { out = x; }
__device__ __forceinline__ void FromFloat(float x, __nv_bfloat16& out) {
  out = __float2bfloat16(x);
}

template <int V, class T>
__device__ __forceinline__ void StoreF(T* p, const float (&in)[V]) {
  Vec<T, V> tmp;
#pragma unroll
  for (int i = 0; i < V; ++i) FromFloat(in[i], tmp.v[i]);
  *reinterpret_cast<Vec<T, V>*>(p) = tmp;
}

// True when every pointer is aligned to `bytes` (nullptr counts as aligned).
inline bool AllAligned(uintptr_t /*bytes*/) { return true; }
template <class P, class... Rest>
inline bool AllAligned(uintptr_t bytes, const P* p, const Rest*... rest) {
  return reinterpret_cast<uintptr_t>(p) % bytes == 0 && AllAligned(bytes, rest...);
}

}  // namespace qwen::kernels::cuda::detail
