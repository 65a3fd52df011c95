// Hopper warpgroup MMA (wgmma, sm_90a only) primitives: shared-memory matrix descriptors of the
// 32-byte-swizzle canonical layouts, the fences, and the bf16 shapes the vision flash attention
// uses. Include only from translation units compiled for compute_90a (the launcher files
// of kernels/CMakeLists.txt's qwen_kernels_cuda_sm90a library); the bodies exist only in the
// sm_90a device pass.
//
// Layouts used here (PTX ISA "Shared Memory Matrix Layout"; CUTLASS's canonical GMMA layouts):
// the 32-byte swizzle, whose atom is 8 rows of 32 bytes (16 bf16) with the two 16-byte halves of
// rows 4-7 swapped: half h of row r of an atom at r * 32 + (h ^ ((r >> 2) & 1)) * 16, atoms 256
// bytes, based on 256-byte-aligned addresses (the swizzle reads address bits 4 and 7). Without
// the swizzle (the "interleave" layout of 128-byte core matrices) the tensor cores' reads of these
// shapes conflicted: ~2.4x the ideal shared-memory wavefronts (ncu, H200).
//   K-major operand (A, or B held as its n x k transpose): row = m / n index, the 16 k of one
//     k16 step = one atom width; SBO = byte step between 8-row groups; LBO unused.
//   MN-major operand (B with imm-trans-b = 1): row = k index, 16 contiguous n per atom row;
//     LBO = byte step between 16-wide n groups, SBO = byte step between 8-row (k) groups.
//
// Accumulator fragment of m64nN (f32): warp w of the warpgroup owns rows 16w .. 16w + 15; with
// g = lane / 4, t = lane % 4, d[4j + 0..1] = (row g, cols 8j + 2t, +1), d[4j + 2..3] = (row g + 8,
// same cols): the m16n8 mma.sync C fragment of every n8 tile j. The register A operand is the
// m16n8k16 A fragment of the warp's 16 rows, so P = softmax(S) goes from accumulators to A
// operand without any data movement.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace qwen::kernels::cuda::detail {

// Descriptor of an operand in the 32-byte-swizzle layout at shared address `smem` (16-byte
// aligned; the atoms it covers 256-byte aligned) with the byte offsets described above.
__device__ __forceinline__ uint64_t WgmmaDescSw32(uint32_t smem, uint32_t lbo, uint32_t sbo) {
  return static_cast<uint64_t>((smem & 0x3FFFFu) >> 4) |
         (static_cast<uint64_t>((lbo & 0x3FFFFu) >> 4) << 16) |
         (static_cast<uint64_t>((sbo & 0x3FFFFu) >> 4) << 32) | (uint64_t{3} << 62);
}

// Byte offset of 16-byte half h of row r inside a 32-byte-swizzle atom column that starts at a
// 256-byte-aligned offset (rows 32 bytes apart).
__host__ __device__ __forceinline__ uint32_t Sw32Offset(int r, int h) {
  return static_cast<uint32_t>(r * 32 + ((h ^ ((r >> 2) & 1)) << 4));
}

// Moves a descriptor's start address by `bytes` (a multiple of 16; the address field does not
// overflow within one block's shared memory).
__device__ __forceinline__ uint64_t WgmmaDescAdvance(uint64_t desc, uint32_t bytes) {
  return desc + (bytes >> 4);
}

#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define QWEN_HAVE_WGMMA 1

// Orders this thread's earlier register writes (accumulators, register A operands) before the
// wgmma that follow.
__device__ __forceinline__ void WgmmaFence() {
  asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
}
__device__ __forceinline__ void WgmmaCommit() {
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
}
// Waits until at most kPending committed groups are in flight.
template <int kPending>
__device__ __forceinline__ void WgmmaWait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(kPending) : "memory");
}
// The compiler sees a wgmma's operands only at its issue, but the tensor cores read the register
// A operand and write the accumulators until the wait: pinning them with an empty asm after the
// wait keeps their registers allocated (A) and their reads (accumulators) after it.
template <int kN>
__device__ __forceinline__ void WgmmaFenceOperand(float (&r)[kN]) {
#pragma unroll
  for (int i = 0; i < kN; ++i) asm volatile("" : "+f"(r[i])::"memory");
}
template <int kN>
__device__ __forceinline__ void WgmmaFenceOperand(uint32_t (&r)[kN]) {
#pragma unroll
  for (int i = 0; i < kN; ++i) asm volatile("" : "+r"(r[i])::"memory");
}
// Shared memory written through the generic proxy (st.shared, cp.async) becomes visible to the
// tensor cores' async proxy: each writing thread, before the barrier that publishes it.
__device__ __forceinline__ void FenceProxyAsyncShared() {
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
}

// d = A B (accumulate == 0) or d += A B over k = 16; A (64 x 16, K-major) and B (16 x 64,
// K-major: the 64 rows of Bᵀ hold k contiguously) from shared memory.
__device__ __forceinline__ void WgmmaSsM64N64K16(float (&d)[32], uint64_t desc_a, uint64_t desc_b,
                                                 int accumulate) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 {"
      "%0, %1, %2, %3, %4, %5, %6, %7, "
      "%8, %9, %10, %11, %12, %13, %14, %15, "
      "%16, %17, %18, %19, %20, %21, %22, %23, "
      "%24, %25, %26, %27, %28, %29, %30, %31"
      "}, %32, %33, p, 1, 1, 0, 0;\n}\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]),
        "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]),
        "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]),
        "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]),
        "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
      : "l"(desc_a), "l"(desc_b), "r"(accumulate));
}

// d = A B (accumulate == 0) or d += A B over k = 16; A (64 x 16) from registers (each warp's
// 16 rows as the m16n8k16 A fragment) and B (16 x 64, MN-major: n contiguous, the transposed
// operand) from shared memory.
__device__ __forceinline__ void WgmmaRsM64N64K16(float (&d)[32], const uint32_t (&a)[4],
                                                 uint64_t desc_b, int accumulate) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %37, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 {"
      "%0, %1, %2, %3, %4, %5, %6, %7, "
      "%8, %9, %10, %11, %12, %13, %14, %15, "
      "%16, %17, %18, %19, %20, %21, %22, %23, "
      "%24, %25, %26, %27, %28, %29, %30, %31"
      "}, {%32, %33, %34, %35}, %36, p, 1, 1, 1;\n}\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]),
        "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]),
        "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]),
        "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]),
        "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b), "r"(accumulate));
}

// d = A B (accumulate == 0) or d += A B over k = 16; A (64 x 16) from registers (each warp's
// 16 rows as the m16n8k16 A fragment) and B (16 x 72, MN-major: n contiguous, the transposed
// operand) from shared memory.
__device__ __forceinline__ void WgmmaRsM64N72K16(float (&d)[36], const uint32_t (&a)[4],
                                                 uint64_t desc_b, int accumulate) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %41, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n72k16.f32.bf16.bf16 {"
      "%0, %1, %2, %3, %4, %5, %6, %7, "
      "%8, %9, %10, %11, %12, %13, %14, %15, "
      "%16, %17, %18, %19, %20, %21, %22, %23, "
      "%24, %25, %26, %27, %28, %29, %30, %31, "
      "%32, %33, %34, %35"
      "}, {%36, %37, %38, %39}, %40, p, 1, 1, 1;\n}\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]),
        "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]),
        "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]),
        "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]),
        "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]),
        "+f"(d[35])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b), "r"(accumulate));
}

#endif  // __CUDA_ARCH_FEAT_SM90_ALL

}  // namespace qwen::kernels::cuda::detail
