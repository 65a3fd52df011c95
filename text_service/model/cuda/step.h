// What every layer of one forward step reads: the stream and cuBLASLt context, the config, the
// workspace, and the device pointers of the step's packed metadata (BatchPlan). Internal to the
// CUDA model (not part of its public API).
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

#include "absl/status/status.h"
#include "core/config.h"
#include "kernels/cuda/gdn_variant.h"
#include "kernels/cuda/gemm.h"
#include "text_service/model/cuda/batch_plan.h"
#include "text_service/model/cuda/workspace.h"

namespace qwen::text::cuda {

struct Step {
  cudaStream_t stream = nullptr;
  kernels::cuda::CublasLt* cublas = nullptr;
  kernels::cuda::GdnVariant gdn_variant = kernels::cuda::GdnVariant::kDefault;
  const core::TextConfig* config = nullptr;
  const Workspace* ws = nullptr;
  const BatchPlan* plan = nullptr;
  int64_t attention_head_dim = 0;  // Da (see memory_plan.h AttentionHeadDim)
  int64_t page_size = 0;

  // Device views of the packed metadata (i32).
  const int32_t* token_ids = nullptr;          // [N]
  const int32_t* positions = nullptr;          // [3, N]
  const int32_t* embed_index = nullptr;        // [N]
  const int32_t* cu_seqlens = nullptr;         // [S + 1]
  const int32_t* cached_lens = nullptr;        // [S]
  const int32_t* state_slots = nullptr;        // [S]
  const int32_t* has_initial_state = nullptr;  // [S]
  const int32_t* last_rows = nullptr;          // [S]
  const int32_t* block_table = nullptr;        // [S, block_table_stride]

  int64_t num_tokens() const { return plan->num_tokens; }
  int64_t num_seqs() const { return plan->num_seqs; }
};

// y [m, n] = x [m, k] · Wᵀ with W [n, k], bf16 in and out, fp32 accumulation (cuBLASLt).
absl::Status Linear(const Step& s, const __nv_bfloat16* x, int64_t x_stride, const __nv_bfloat16* w,
                    __nv_bfloat16* y, int64_t y_stride, int64_t m, int64_t n, int64_t k,
                    const char* what);

}  // namespace qwen::text::cuda
