// CUDA element-wise ops of the decoder (bf16 in/out, fp32 arithmetic, one rounding): the twins of
// kernels/cpu elementwise ops, with strided rows where the model's layouts need them, plus the
// embedding gather with injected (multimodal) rows and the split of the per-head [q | gate]
// projection. 16-byte accesses when every pointer and stride allows, scalar otherwise.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

namespace qwen::kernels::cuda {

// A [rows, cols] view: element (r, c) at base + r * stride + c.
struct Rows2d {
  int64_t rows = 0;
  int64_t cols = 0;
};

// out = silu(gate) * up (the MLP activation, MODEL.md 2.8); gate/up/out rows strided (e.g. gate
// and up halves of one fused [T, 2I] projection). out may alias gate or up (same strides).
cudaError_t SiluMul(const __nv_bfloat16* gate, int64_t gate_stride, const __nv_bfloat16* up,
                    int64_t up_stride, __nv_bfloat16* out, int64_t out_stride, Rows2d shape,
                    cudaStream_t stream);

// x *= sigmoid(gate) in place (gated attention output gate, MODEL.md 2.5 step 6). With the
// per-head [q | gate] layout the gate is read in place: rows = T*Hq, cols = D, x_stride = D,
// gate = qg + D, gate_stride = 2D.
cudaError_t MulSigmoid(__nv_bfloat16* x, int64_t x_stride, const __nv_bfloat16* gate,
                       int64_t gate_stride, Rows2d shape, cudaStream_t stream);

// out[i] = a[i] + b[i] over n contiguous elements (fp32 sum, one rounding); out may alias a or b.
cudaError_t Add(const __nv_bfloat16* a, const __nv_bfloat16* b, __nv_bfloat16* out, int64_t n,
                cudaStream_t stream);

struct EmbeddingGatherParams {
  int64_t num_tokens = 0;
  int64_t dim = 0;         // H
  int64_t vocab_size = 0;  // rows of the table
  int64_t out_stride = 0;  // elements between output rows (>= dim)
  // Optional multimodal injection (MODEL.md 5): when inject_index is non-null, token r with
  // inject_index[r] >= 0 takes row inject_index[r] of `inject_rows` (bf16 [*, dim], rows
  // inject_stride apart) instead of the table row.
  int64_t inject_stride = 0;
};

// out[r] = table[ids[r]] (bf16 [vocab, dim]) or an injected row. ids outside [0, vocab_size)
// give a zero row (callers validate token ids first; this only keeps a bad id from reading out
// of bounds). ids: i32 or i64 [num_tokens] on the device; inject_index: i32 [num_tokens] or null.
cudaError_t EmbeddingGather(const __nv_bfloat16* table, const int32_t* ids,
                            const __nv_bfloat16* inject_rows, const int32_t* inject_index,
                            __nv_bfloat16* out, const EmbeddingGatherParams& p,
                            cudaStream_t stream);
cudaError_t EmbeddingGather(const __nv_bfloat16* table, const int64_t* ids,
                            const __nv_bfloat16* inject_rows, const int32_t* inject_index,
                            __nv_bfloat16* out, const EmbeddingGatherParams& p,
                            cudaStream_t stream);

struct SplitQGateParams {
  int64_t num_tokens = 0;
  int64_t num_heads = 0;    // Hq
  int64_t head_dim = 0;     // D
  int64_t qg_stride = 0;    // elements between token rows of qg (>= 2 * Hq * D)
  int64_t q_stride = 0;     // ... of q (>= Hq * D)
  int64_t gate_stride = 0;  // ... of gate (>= Hq * D)
};

// Splits the per-head interleaved q_proj output qg [T, Hq, 2D] (head h = [q_h | gate_h], MODEL.md
// 2.5 step 1, TRAP: not [all q | all gates]) into q [T, Hq, D] and gate [T, Hq, D]. Exact copies.
cudaError_t SplitQGate(const __nv_bfloat16* qg, __nv_bfloat16* q, __nv_bfloat16* gate,
                       const SplitQGateParams& p, cudaStream_t stream);

}  // namespace qwen::kernels::cuda
