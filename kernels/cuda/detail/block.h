// Block-parallel execution policy shared by the CUDA kernels and their CPU emulation.
//
// The DeltaNet kernels (conv1d, gates, chunked and recurrent delta rule) and M-RoPE are written as
// *phases*: each phase is a `blk.For(n, f)` over independent items, phases are separated by
// `blk.Sync()`, and everything that lives across phases is in shared memory (never in a thread's
// registers). On the GPU, For strides the items over the block's threads and Sync is
// __syncthreads(). On the CPU, HostBlock runs the items of each For one after another, forward or
// in reverse: the same source then runs in the CI (which has no GPU) against kernels/cpu, and a
// phase whose items are not independent (a missing barrier, a GPU race) shows up as a difference
// between the forward and reverse orders.
//
// Rules for code written against this policy (checked by the emulation tests):
//   * items of one For never write what another item of the same phase reads or writes;
//   * a For's item count and every loop bound around a Sync are uniform across the block;
//   * nothing computed in one item is used by another except through shared/global memory with a
//     Sync in between.
#pragma once

#if defined(__CUDACC__)
#define QWEN_HD __host__ __device__
#define QWEN_HD_INLINE __host__ __device__ __forceinline__
#define QWEN_UNROLL _Pragma("unroll")
#else
#define QWEN_HD
#define QWEN_HD_INLINE inline
#define QWEN_UNROLL
#endif

namespace qwen::kernels::cuda::detail {

// The GPU policy: items i = threadIdx.x, threadIdx.x + blockDim.x, ...
struct DeviceBlock {
  template <class F>
  QWEN_HD_INLINE void For(int n, F&& f) const {
#if defined(__CUDA_ARCH__)
    for (int i = static_cast<int>(threadIdx.x); i < n; i += static_cast<int>(blockDim.x)) f(i);
#else
    (void)n;
    (void)f;
#endif
  }
  QWEN_HD_INLINE void Sync() const {
#if defined(__CUDA_ARCH__)
    __syncthreads();
#endif
  }
};

// The CPU emulation: one host thread runs every item of a phase, in order or in reverse.
struct HostBlock {
  bool reverse = false;
  template <class F>
  void For(int n, F&& f) const {
    if (reverse) {
      for (int i = n - 1; i >= 0; --i) f(i);
    } else {
      for (int i = 0; i < n; ++i) f(i);
    }
  }
  void Sync() const {}
};

// Launch geometry computed once and used by both the CUDA launcher and the emulator.
struct Grid3 {
  int x = 1, y = 1, z = 1;
};

template <class T>
QWEN_HD_INLINE T MinOf(T a, T b) {
  return a < b ? a : b;
}
template <class T>
QWEN_HD_INLINE T MaxOf(T a, T b) {
  return a < b ? b : a;
}
template <class T>
QWEN_HD_INLINE T CeilDiv(T a, T b) {
  return (a + b - 1) / b;
}

}  // namespace qwen::kernels::cuda::detail
