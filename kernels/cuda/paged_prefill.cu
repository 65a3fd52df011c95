// Instantiations of the causal flash-attention prefill over the paged KV cache
// (detail/flash_attention.cuh) for the supported head dims {64, 128, 256}.
#include "kernels/cuda/detail/flash_attention.cuh"

namespace qwen::kernels::cuda::detail {

cudaError_t LaunchPagedPrefill(const FlashArgs& a, int64_t num_tokens, int num_heads_q,
                               cudaStream_t stream) {
  switch (a.head_dim) {
    case 64:
      return LaunchFlashAttention<64, 64, true>(a, num_tokens, num_heads_q, stream);
    case 128:
      return LaunchFlashAttention<128, 128, true>(a, num_tokens, num_heads_q, stream);
    case 256:
      return LaunchFlashAttention<256, 256, true>(a, num_tokens, num_heads_q, stream);
    default:
      return cudaErrorInvalidValue;
  }
}

}  // namespace qwen::kernels::cuda::detail
