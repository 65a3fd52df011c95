// Element-wise ops (kernels/cuda/elementwise.h): one grid-stride kernel over a [rows, cols] view
// in vectors of V elements, and an Op per operation.
#include <algorithm>

#include "kernels/cuda/detail/launch_util.cuh"
#include "kernels/cuda/detail/vec.cuh"
#include "kernels/cuda/elementwise.h"

namespace qwen::kernels::cuda {
namespace detail {
namespace {

constexpr int kEwThreads = 256;
using bf16 = __nv_bfloat16;

template <int V, class Op>
__global__ void __launch_bounds__(kEwThreads) Rows2dKernel(Op op, int64_t rows, int64_t cols) {
  const int64_t per_row = cols / V;
  const int64_t total = rows * per_row;
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += step) {
    const int64_t r = i / per_row;
    op.template Apply<V>(r, (i - r * per_row) * V);
  }
}

template <int V, class Op>
cudaError_t LaunchRows2d(const Op& op, int64_t rows, int64_t cols, cudaStream_t stream) {
  const int64_t total = rows * (cols / V);
  if (total == 0) return cudaSuccess;
  const int64_t grid = std::min<int64_t>(CeilDiv<int64_t>(total, kEwThreads), int64_t{1} << 20);
  Rows2dKernel<V, Op><<<static_cast<unsigned>(grid), kEwThreads, 0, stream>>>(op, rows, cols);
  return cudaGetLastError();
}

// Supported set of vector widths: {8, 1} (8 bf16 = 16 bytes).
template <class Op>
cudaError_t DispatchRows2d(bool vec_ok, const Op& op, int64_t rows, int64_t cols,
                           cudaStream_t stream) {
  return vec_ok ? LaunchRows2d<8>(op, rows, cols, stream) : LaunchRows2d<1>(op, rows, cols, stream);
}

struct SiluMulOp {
  const bf16* gate;
  int64_t gs;
  const bf16* up;
  int64_t us;
  bf16* out;
  int64_t os;
  template <int V>
  __device__ void Apply(int64_t r, int64_t c) const {
    float g[V], u[V], o[V];
    LoadF<V>(gate + r * gs + c, g);
    LoadF<V>(up + r * us + c, u);
#pragma unroll
    for (int j = 0; j < V; ++j) o[j] = Silu(g[j]) * u[j];
    StoreF<V>(out + r * os + c, o);
  }
};

struct MulSigmoidOp {
  bf16* x;
  int64_t xs;
  const bf16* gate;
  int64_t gs;
  template <int V>
  __device__ void Apply(int64_t r, int64_t c) const {
    float v[V], g[V];
    LoadF<V>(x + r * xs + c, v);
    LoadF<V>(gate + r * gs + c, g);
#pragma unroll
    for (int j = 0; j < V; ++j) v[j] *= Sigmoid(g[j]);
    StoreF<V>(x + r * xs + c, v);
  }
};

struct AddOp {
  const bf16* a;
  const bf16* b;
  bf16* out;
  template <int V>
  __device__ void Apply(int64_t, int64_t c) const {
    float x[V], y[V];
    LoadF<V>(a + c, x);
    LoadF<V>(b + c, y);
#pragma unroll
    for (int j = 0; j < V; ++j) x[j] += y[j];
    StoreF<V>(out + c, x);
  }
};

template <class Id>
struct EmbeddingOp {
  const bf16* table;
  const Id* ids;
  const bf16* inject_rows;
  const int32_t* inject_index;
  bf16* out;
  int64_t dim, vocab, out_stride, inject_stride;
  template <int V>
  __device__ void Apply(int64_t r, int64_t c) const {
    Vec<bf16, V> v;
    const int32_t inj = inject_index != nullptr ? inject_index[r] : -1;
    if (inj >= 0) {
      LoadRaw<V>(inject_rows + inj * inject_stride + c, v);
    } else {
      const int64_t id = static_cast<int64_t>(ids[r]);
      if (id >= 0 && id < vocab) {
        LoadRaw<V>(table + id * dim + c, v);
      } else {
#pragma unroll
        for (int j = 0; j < V; ++j) v.v[j] = __float2bfloat16(0.0f);
      }
    }
    StoreRaw<V>(out + r * out_stride + c, v);
  }
};

struct SplitQGateOp {
  const bf16* qg;
  bf16* q;
  bf16* gate;
  int64_t heads, dim, qg_stride, q_stride, gate_stride;
  template <int V>
  __device__ void Apply(int64_t r, int64_t c) const {  // r = token * heads + head
    const int64_t t = r / heads, h = r - t * heads;
    const bf16* src = qg + t * qg_stride + h * 2 * dim + c;
    Vec<bf16, V> a, b;
    LoadRaw<V>(src, a);
    LoadRaw<V>(src + dim, b);
    StoreRaw<V>(q + t * q_stride + h * dim + c, a);
    StoreRaw<V>(gate + t * gate_stride + h * dim + c, b);
  }
};

template <class Id>
cudaError_t LaunchEmbedding(const bf16* table, const Id* ids, const bf16* inject_rows,
                            const int32_t* inject_index, bf16* out, const EmbeddingGatherParams& p,
                            cudaStream_t stream) {
  QWEN_CUDA_CHECK_ARG(p.num_tokens >= 0 && p.dim >= 1 && p.vocab_size >= 1);
  QWEN_CUDA_CHECK_ARG(p.out_stride >= p.dim);
  QWEN_CUDA_CHECK_ARG(inject_index == nullptr ||
                      (inject_rows != nullptr && p.inject_stride >= p.dim));
  if (p.num_tokens == 0) return cudaSuccess;
  QWEN_CUDA_CHECK_ARG(table != nullptr && ids != nullptr && out != nullptr);
  const EmbeddingOp<Id> op{table, ids,          inject_rows,  inject_index,   out,
                           p.dim, p.vocab_size, p.out_stride, p.inject_stride};
  const bool vec = p.dim % 8 == 0 && p.out_stride % 8 == 0 && p.inject_stride % 8 == 0 &&
                   AllAligned(16, table, inject_rows, out);
  return DispatchRows2d(vec, op, p.num_tokens, p.dim, stream);
}

}  // namespace
}  // namespace detail

cudaError_t SiluMul(const __nv_bfloat16* gate, int64_t gate_stride, const __nv_bfloat16* up,
                    int64_t up_stride, __nv_bfloat16* out, int64_t out_stride, Rows2d shape,
                    cudaStream_t stream) {
  QWEN_CUDA_CHECK_ARG(shape.rows >= 0 && shape.cols >= 0);
  QWEN_CUDA_CHECK_ARG(gate_stride >= shape.cols && up_stride >= shape.cols &&
                      out_stride >= shape.cols);
  if (shape.rows == 0 || shape.cols == 0) return cudaSuccess;
  QWEN_CUDA_CHECK_ARG(gate != nullptr && up != nullptr && out != nullptr);
  const detail::SiluMulOp op{gate, gate_stride, up, up_stride, out, out_stride};
  const bool vec = shape.cols % 8 == 0 && gate_stride % 8 == 0 && up_stride % 8 == 0 &&
                   out_stride % 8 == 0 && detail::AllAligned(16, gate, up, out);
  return detail::DispatchRows2d(vec, op, shape.rows, shape.cols, stream);
}

cudaError_t MulSigmoid(__nv_bfloat16* x, int64_t x_stride, const __nv_bfloat16* gate,
                       int64_t gate_stride, Rows2d shape, cudaStream_t stream) {
  QWEN_CUDA_CHECK_ARG(shape.rows >= 0 && shape.cols >= 0);
  QWEN_CUDA_CHECK_ARG(x_stride >= shape.cols && gate_stride >= shape.cols);
  if (shape.rows == 0 || shape.cols == 0) return cudaSuccess;
  QWEN_CUDA_CHECK_ARG(x != nullptr && gate != nullptr);
  const detail::MulSigmoidOp op{x, x_stride, gate, gate_stride};
  const bool vec = shape.cols % 8 == 0 && x_stride % 8 == 0 && gate_stride % 8 == 0 &&
                   detail::AllAligned(16, x, gate);
  return detail::DispatchRows2d(vec, op, shape.rows, shape.cols, stream);
}

cudaError_t Add(const __nv_bfloat16* a, const __nv_bfloat16* b, __nv_bfloat16* out, int64_t n,
                cudaStream_t stream) {
  QWEN_CUDA_CHECK_ARG(n >= 0);
  if (n == 0) return cudaSuccess;
  QWEN_CUDA_CHECK_ARG(a != nullptr && b != nullptr && out != nullptr);
  const detail::AddOp op{a, b, out};
  const bool vec = n % 8 == 0 && detail::AllAligned(16, a, b, out);
  return detail::DispatchRows2d(vec, op, 1, n, stream);
}

cudaError_t EmbeddingGather(const __nv_bfloat16* table, const int32_t* ids,
                            const __nv_bfloat16* inject_rows, const int32_t* inject_index,
                            __nv_bfloat16* out, const EmbeddingGatherParams& p,
                            cudaStream_t stream) {
  return detail::LaunchEmbedding<int32_t>(table, ids, inject_rows, inject_index, out, p, stream);
}

cudaError_t EmbeddingGather(const __nv_bfloat16* table, const int64_t* ids,
                            const __nv_bfloat16* inject_rows, const int32_t* inject_index,
                            __nv_bfloat16* out, const EmbeddingGatherParams& p,
                            cudaStream_t stream) {
  return detail::LaunchEmbedding<int64_t>(table, ids, inject_rows, inject_index, out, p, stream);
}

cudaError_t SplitQGate(const __nv_bfloat16* qg, __nv_bfloat16* q, __nv_bfloat16* gate,
                       const SplitQGateParams& p, cudaStream_t stream) {
  QWEN_CUDA_CHECK_ARG(p.num_tokens >= 0 && p.num_heads >= 1 && p.head_dim >= 1);
  QWEN_CUDA_CHECK_ARG(p.qg_stride >= 2 * p.num_heads * p.head_dim &&
                      p.q_stride >= p.num_heads * p.head_dim &&
                      p.gate_stride >= p.num_heads * p.head_dim);
  if (p.num_tokens == 0) return cudaSuccess;
  QWEN_CUDA_CHECK_ARG(qg != nullptr && q != nullptr && gate != nullptr);
  const detail::SplitQGateOp op{qg,         q,           gate,       p.num_heads,
                                p.head_dim, p.qg_stride, p.q_stride, p.gate_stride};
  const bool vec = p.head_dim % 8 == 0 && p.qg_stride % 8 == 0 && p.q_stride % 8 == 0 &&
                   p.gate_stride % 8 == 0 && detail::AllAligned(16, qg, q, gate);
  return detail::DispatchRows2d(vec, op, p.num_tokens * p.num_heads, p.head_dim, stream);
}

}  // namespace qwen::kernels::cuda
