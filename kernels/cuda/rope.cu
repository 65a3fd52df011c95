// M-RoPE launcher (kernels/cuda/rope.h); block program in detail/rope_core.h.
#include "kernels/cuda/detail/launch_util.cuh"
#include "kernels/cuda/detail/rope_core.h"
#include "kernels/cuda/rope.h"

namespace qwen::kernels::cuda {
namespace detail {

// One block per token: cos/sin of its slots in shared memory, then every (head, pair).
template <class Pos>
__global__ void __launch_bounds__(kRopeThreads)
    ApplyMRopeKernel(RopeArgs<Pos> a, RopeTables tables) {
  __shared__ float cos_sin[2 * kRopeMaxHalf];
  RopeBlock<Pos>(DeviceBlock{}, blockIdx.x, a, tables, cos_sin);
}

template <class Pos>
cudaError_t LaunchMRope(__nv_bfloat16* x, const Pos* positions, const MRopeParams& p,
                        cudaStream_t stream) {
  QWEN_CUDA_CHECK_ARG(p.num_tokens >= 0 && p.num_tokens <= 0x7fffffff);
  QWEN_CUDA_CHECK_ARG(p.num_heads >= 1 && p.head_dim >= 1);
  QWEN_CUDA_CHECK_ARG(p.rotary_dim >= 2 && p.rotary_dim % 2 == 0 && p.rotary_dim <= p.head_dim &&
                      p.rotary_dim / 2 <= kRopeMaxHalf);
  QWEN_CUDA_CHECK_ARG(p.num_heads * (p.rotary_dim / 2) <= 0x7fffffff);
  QWEN_CUDA_CHECK_ARG(p.token_stride >= 0 && p.head_stride >= 0);
  QWEN_CUDA_CHECK_ARG(p.theta > 0.0);
  QWEN_CUDA_CHECK_ARG(
      p.mrope_section[0] >= 0 && p.mrope_section[1] >= 0 && p.mrope_section[2] >= 0 &&
      p.mrope_section[0] + p.mrope_section[1] + p.mrope_section[2] == p.rotary_dim / 2);
  if (p.num_tokens == 0) return cudaSuccess;
  QWEN_CUDA_CHECK_ARG(x != nullptr && positions != nullptr);
  RopeArgs<Pos> a;
  a.x = x;
  a.positions = positions;
  a.num_tokens = p.num_tokens;
  a.num_heads = static_cast<int>(p.num_heads);
  a.half = static_cast<int>(p.rotary_dim / 2);
  a.token_stride = p.token_stride;
  a.head_stride = p.head_stride;
  const RopeTables tables =
      MakeRopeTables(p.theta, static_cast<int>(p.rotary_dim), p.mrope_section);
  ApplyMRopeKernel<Pos>
      <<<static_cast<unsigned>(p.num_tokens), kRopeThreads, 0, stream>>>(a, tables);
  return cudaGetLastError();
}

}  // namespace detail

cudaError_t ApplyMRope(__nv_bfloat16* x, const int64_t* positions, const MRopeParams& p,
                       cudaStream_t stream) {
  return detail::LaunchMRope<int64_t>(x, positions, p, stream);
}

cudaError_t ApplyMRope(__nv_bfloat16* x, const int32_t* positions, const MRopeParams& p,
                       cudaStream_t stream) {
  return detail::LaunchMRope<int32_t>(x, positions, p, stream);
}

}  // namespace qwen::kernels::cuda
