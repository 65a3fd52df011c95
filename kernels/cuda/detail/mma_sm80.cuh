// Warp-level tensor-core and async-copy primitives (sm_80+ PTX, also run on Hopper and GB10):
// cp.async 16-byte copies with zero fill, ldmatrix (plain and transposed) and the bf16
// m16n8k16 / m16n8k8 mma.sync with fp32 accumulators. Fragment layouts (PTX ISA, "mma.m16n8k16"),
// with g = lane / 4 and t = lane % 4:
//   A (16x16, row): a[0] = (row g, k 2t..2t+1), a[1] = (g+8, 2t..), a[2] = (g, 2t+8..),
//                   a[3] = (g+8, 2t+8..)  (two bf16 per register, lower k in the low half);
//   B (16x8, col):  b[0] = (k 2t..2t+1, col g), b[1] = (k 2t+8.., col g);
//   C (16x8, f32):  c[0..1] = (row g, cols 2t, 2t+1), c[2..3] = (row g+8, cols 2t, 2t+1).
// m16n8k8 is the first half of that: A = {a[0], a[1]}, B = {b[0]}, the same C.
//
// Under QWEN_SIMT_EMULATION (host compilation of the kernels by the CPU emulation test,
// tests/kernels/cuda/simt_emulation.h) this header defines nothing: the emulator provides the
// same functions with the same semantics.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

#if !defined(QWEN_SIMT_EMULATION)
namespace qwen::kernels::cuda::detail {

// Base of the block's dynamic shared memory.
__device__ __forceinline__ unsigned char* DynamicSmem() {
  extern __shared__ __align__(16) unsigned char qwen_dynamic_smem[];
  return qwen_dynamic_smem;
}

__device__ __forceinline__ uint32_t SmemAddr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 16 bytes global -> shared, bypassing L1; when !valid nothing is read and the 16 bytes are zeroed
// (src must still be a valid pointer value; it is not dereferenced).
__device__ __forceinline__ void CpAsync16(void* smem_dst, const void* gmem_src, bool valid) {
  const uint32_t bytes = valid ? 16u : 0u;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(SmemAddr(smem_dst)),
               "l"(gmem_src), "r"(bytes)
               : "memory");
}
__device__ __forceinline__ void CpAsyncCommit() {
  asm volatile("cp.async.commit_group;\n" ::: "memory");
}
template <int kPending>
__device__ __forceinline__ void CpAsyncWait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending) : "memory");
}

// Two 8x8 b16 matrices; lanes 8i..8i+7 give the row addresses of matrix i (lanes 16..31 unused).
__device__ __forceinline__ void LdMatrixX2(uint32_t (&r)[2], const void* smem_row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0, %1}, [%2];\n"
               : "=r"(r[0]), "=r"(r[1])
               : "r"(SmemAddr(smem_row)));
}
__device__ __forceinline__ void LdMatrixX2Trans(uint32_t (&r)[2], const void* smem_row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0, %1}, [%2];\n"
               : "=r"(r[0]), "=r"(r[1])
               : "r"(SmemAddr(smem_row)));
}

// Four 8x8 b16 matrices; lanes 8i..8i+7 give the row addresses of matrix i.
__device__ __forceinline__ void LdMatrixX4(uint32_t (&r)[4], const void* smem_row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(SmemAddr(smem_row)));
}
__device__ __forceinline__ void LdMatrixX4Trans(uint32_t (&r)[4], const void* smem_row) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(SmemAddr(smem_row)));
}

// c += a * b (bf16 inputs, fp32 accumulation).
__device__ __forceinline__ void MmaBf16(float (&c)[4], const uint32_t (&a)[4], uint32_t b0,
                                        uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// c += a * b over k = 8 (head dims that are an odd multiple of 8 end with one of these).
__device__ __forceinline__ void MmaBf16K8(float (&c)[4], const uint32_t (&a)[2], uint32_t b0) {
  asm volatile(
      "mma.sync.aligned.m16n8k8.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5}, {%6}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(b0));
}

// 2^x on the special-function unit (one MUFU.EX2; |rel err| ~2^-22, denormal results flush to 0,
// 2^-inf = 0). exp2f without --use_fast_math adds range fix-ups around the same instruction.
__device__ __forceinline__ float Exp2Approx(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

// Two floats -> one register of two bf16 (x in the low half), round to nearest even.
__device__ __forceinline__ uint32_t PackBf16x2(float x, float y) {
  const __nv_bfloat162 h = __floats2bfloat162_rn(x, y);
  return *reinterpret_cast<const uint32_t*>(&h);
}

// The two bf16 of a register as floats (low half first).
__device__ __forceinline__ float Bf16Lo(uint32_t w) { return __uint_as_float(w << 16); }
__device__ __forceinline__ float Bf16Hi(uint32_t w) { return __uint_as_float(w & 0xffff0000u); }

}  // namespace qwen::kernels::cuda::detail
#endif  // !QWEN_SIMT_EMULATION
