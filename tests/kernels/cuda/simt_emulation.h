// A CPU emulator of CUDA's SIMT model, just large enough to run the warp-level attention kernels
// (detail/flash_attention.cuh, detail/paged_decode.cuh) from their own source in the CI, which has
// no GPU. Include this header before the kernel headers, in a translation unit of its own (it
// defines the CUDA keywords and built-ins as macros).
//
// Every thread of a block (or of a thread-block cluster) is a fiber (ucontext) on one host
// thread. A fiber runs until it reaches a collective (a warp shuffle, vote, ldmatrix, mma.sync,
// __syncwarp, __syncthreads, cluster.sync); the last participant to arrive executes it for all of
// them from the inputs they left, and every participant continues with its own result. A
// collective that not all of its participants reach (divergence around a shuffle, a missing
// thread at a barrier) is reported as a deadlock. Fragment layouts of ldmatrix and mma.sync follow
// the PTX ISA (see detail/mma_sm80.cuh); cp.async copies complete at once (races between a copy and
// its readers cannot show here: the GPU tests cover those).
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <ucontext.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#define QWEN_SIMT_EMULATION 1

namespace qwen::kernels::cuda::emu {

// The kinds of collective (a warp's lanes must all reach the same kind).
enum class Op { kNone, kShfl, kBallot, kSyncWarp, kLdMatrix, kMma, kBlockBar, kClusterBar };

struct LaneIn {
  Op op = Op::kNone;
  uint32_t u[8] = {};
  float f[8] = {};
  const void* ptr = nullptr;
  int a = 0, b = 0;
};
struct LaneOut {
  uint32_t u[4] = {};
  float f[4] = {};
};

struct Fiber {
  ucontext_t ctx;
  std::unique_ptr<char[]> stack;
  dim3 thread_idx, block_idx;
  int block = 0;  // block index within the running cluster
  int tid = 0;
  bool done = false;
  bool waiting = false;
  LaneIn in;
  LaneOut out;
};

struct Machine {
  ucontext_t sched;
  std::vector<std::unique_ptr<Fiber>> fibers;
  std::vector<std::vector<unsigned char>> smem;  // per block of the cluster
  dim3 grid_dim, block_dim;
  int cluster = 1, threads = 0;
  Fiber* cur = nullptr;
  std::function<void()> body;
  std::vector<int> warp_arrived, block_arrived;
  int cluster_arrived = 0;
  std::exception_ptr error;
};

inline constexpr size_t kFiberStack = 64 * 1024;
inline constexpr size_t kSmemGuard = 4096;

// The 16-byte aligned base of a block's shared memory buffer.
inline unsigned char* DynamicSmemOf(std::vector<unsigned char>& s) {
  return reinterpret_cast<unsigned char*>((reinterpret_cast<uintptr_t>(s.data()) + 15) &
                                          ~uintptr_t{15});
}

inline Machine*& CurMachine() {
  static Machine* m = nullptr;
  return m;
}
inline Fiber& Cur() { return *CurMachine()->cur; }

inline void FiberEntry() {
  Machine& m = *CurMachine();
  try {
    m.body();
  } catch (...) {  // rethrown by Launch on the host stack
    if (!m.error) m.error = std::current_exception();
  }
  m.cur->done = true;  // an exited thread no longer counts at block and cluster barriers
}

inline uint32_t FloatBits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  return u;
}
inline float BitsFloat(uint32_t u) {
  float x;
  std::memcpy(&x, &u, 4);
  return x;
}

// Executes a warp collective once all 32 lanes have deposited their LaneIn.
inline void ExecWarp(Machine& m, int block, int warp) {
  Fiber* lanes[32];
  for (int l = 0; l < 32; ++l) lanes[l] = m.fibers[block * m.threads + warp * 32 + l].get();
  const Op op = lanes[0]->in.op;
  for (int l = 1; l < 32; ++l) {
    if (lanes[l]->in.op != op || lanes[l]->in.a != lanes[0]->in.a ||
        (op == Op::kShfl && lanes[l]->in.b != lanes[0]->in.b)) {
      throw std::runtime_error("warp lanes reached different collectives");
    }
  }
  switch (op) {
    case Op::kShfl: {
      // in.a: 0 xor, 1 idx, 2 up; in.u[0]: value bits; in.b: operand (lane mask / src / delta).
      for (int l = 0; l < 32; ++l) {
        const int mode = lanes[l]->in.a;
        int src = l;
        if (mode == 0) src = l ^ lanes[l]->in.b;
        if (mode == 1) src = lanes[l]->in.u[1] & 31;
        if (mode == 2) src = l - lanes[l]->in.b >= 0 ? l - lanes[l]->in.b : l;
        lanes[l]->out.u[0] = lanes[src]->in.u[0];
      }
      break;
    }
    case Op::kBallot: {
      uint32_t bits = 0;
      for (int l = 0; l < 32; ++l) bits |= (lanes[l]->in.u[0] != 0 ? 1u : 0u) << l;
      for (int l = 0; l < 32; ++l) lanes[l]->out.u[0] = bits;
      break;
    }
    case Op::kSyncWarp:
      break;
    case Op::kLdMatrix: {
      // in.a: number of 8x8 matrices; in.u[0]: transposed. Matrix i's row j is at the address of
      // lane 8i + j (16 bytes of b16).
      const int n = lanes[0]->in.a;
      const bool trans = lanes[0]->in.u[0] != 0;
      for (int l = 0; l < 32; ++l) {
        for (int i = 0; i < n; ++i) {
          uint16_t lo, hi;
          if (!trans) {
            const auto* row = static_cast<const uint16_t*>(lanes[8 * i + l / 4]->in.ptr);
            lo = row[2 * (l % 4)];
            hi = row[2 * (l % 4) + 1];
          } else {
            const auto* r0 = static_cast<const uint16_t*>(lanes[8 * i + 2 * (l % 4)]->in.ptr);
            const auto* r1 = static_cast<const uint16_t*>(lanes[8 * i + 2 * (l % 4) + 1]->in.ptr);
            lo = r0[l / 4];
            hi = r1[l / 4];
          }
          lanes[l]->out.u[i] = static_cast<uint32_t>(lo) | (static_cast<uint32_t>(hi) << 16);
        }
      }
      break;
    }
    case Op::kMma: {
      // in.a: k (16 or 8); in.u[0..3]: A, in.u[4..5]: B, in.f[0..3]: C.
      const int kk = lanes[0]->in.a;
      float A[16][16] = {}, B[16][8] = {}, C[16][8] = {};
      auto lo = [](uint32_t w) { return BitsFloat(w << 16); };
      auto hi = [](uint32_t w) { return BitsFloat(w & 0xffff0000u); };
      for (int l = 0; l < 32; ++l) {
        const int g = l / 4, t = l % 4;
        const LaneIn& in = lanes[l]->in;
        A[g][2 * t] = lo(in.u[0]);
        A[g][2 * t + 1] = hi(in.u[0]);
        A[g + 8][2 * t] = lo(in.u[1]);
        A[g + 8][2 * t + 1] = hi(in.u[1]);
        B[2 * t][g] = lo(in.u[4]);
        B[2 * t + 1][g] = hi(in.u[4]);
        if (kk == 16) {
          A[g][2 * t + 8] = lo(in.u[2]);
          A[g][2 * t + 9] = hi(in.u[2]);
          A[g + 8][2 * t + 8] = lo(in.u[3]);
          A[g + 8][2 * t + 9] = hi(in.u[3]);
          B[2 * t + 8][g] = lo(in.u[5]);
          B[2 * t + 9][g] = hi(in.u[5]);
        }
        C[g][2 * t] = in.f[0];
        C[g][2 * t + 1] = in.f[1];
        C[g + 8][2 * t] = in.f[2];
        C[g + 8][2 * t + 1] = in.f[3];
      }
      for (int l = 0; l < 32; ++l) {
        const int g = l / 4, t = l % 4;
        const int rows[4] = {g, g, g + 8, g + 8}, cols[4] = {2 * t, 2 * t + 1, 2 * t, 2 * t + 1};
        for (int e = 0; e < 4; ++e) {
          double acc = C[rows[e]][cols[e]];
          for (int k = 0; k < kk; ++k) acc += static_cast<double>(A[rows[e]][k]) * B[k][cols[e]];
          lanes[l]->out.f[e] = static_cast<float>(acc);
        }
      }
      break;
    }
    default:
      throw std::runtime_error("unexpected warp collective");
  }
}

// Arrives at a collective of the current fiber's warp (or block / cluster barrier); returns once
// it has executed.
inline void Arrive() {
  Machine& m = *CurMachine();
  Fiber& f = *m.cur;
  const int warp = f.tid / 32;
  const Op op = f.in.op;
  if (op == Op::kBlockBar || op == Op::kClusterBar) {
    int& count = op == Op::kBlockBar ? m.block_arrived[f.block] : m.cluster_arrived;
    const int first = op == Op::kBlockBar ? f.block * m.threads : 0;
    const int n = op == Op::kBlockBar ? m.threads : m.threads * m.cluster;
    ++count;
    int live = 0;
    for (int i = first; i < first + n; ++i) live += m.fibers[i]->done ? 0 : 1;
    if (count < live) {
      f.waiting = true;
      swapcontext(&f.ctx, &m.sched);
      return;
    }
    count = 0;
    for (int i = first; i < first + n; ++i) m.fibers[i]->waiting = false;
    return;
  }
  int& count = m.warp_arrived[f.block * (m.threads / 32) + warp];
  ++count;
  if (count < 32) {
    f.waiting = true;
    swapcontext(&f.ctx, &m.sched);
    return;
  }
  count = 0;
  ExecWarp(m, f.block, warp);
  for (int l = 0; l < 32; ++l) m.fibers[f.block * m.threads + warp * 32 + l]->waiting = false;
}

// A fiber for thread t of block b of the cluster, starting in FiberEntry (kept out of Launch:
// getcontext there would make the compiler assume Launch's locals can be clobbered).
[[gnu::noinline]] inline std::unique_ptr<Fiber> NewFiber(Machine& m, int b, int t, dim3 block_idx) {
  auto f = std::make_unique<Fiber>();
  f->stack.reset(new char[kFiberStack]);
  f->block = b;
  f->tid = t;
  f->thread_idx = dim3(t, 0, 0);
  f->block_idx = block_idx;
  getcontext(&f->ctx);
  f->ctx.uc_stack.ss_sp = f->stack.get();
  f->ctx.uc_stack.ss_size = kFiberStack;
  f->ctx.uc_link = &m.sched;
  makecontext(&f->ctx, FiberEntry, 0);
  return f;
}

// Runs `body` for every block of `grid` (blockDim `block`, `smem_bytes` of dynamic shared memory),
// `cluster` consecutive blocks along x at a time (they share cluster barriers and DSMEM).
inline void Launch(dim3 grid, dim3 block, int cluster, size_t smem_bytes,
                   const std::function<void()>& body) {
  if (block.y != 1 || block.z != 1 || block.x % 32 != 0 || grid.x % cluster != 0) {
    throw std::runtime_error("unsupported launch shape");
  }
  Machine m;
  m.grid_dim = grid;
  m.block_dim = block;
  m.cluster = cluster;
  m.threads = static_cast<int>(block.x);
  m.body = body;
  CurMachine() = &m;
  for (unsigned z = 0; z < grid.z; ++z) {
    for (unsigned y = 0; y < grid.y; ++y) {
      for (unsigned x0 = 0; x0 < grid.x; x0 += cluster) {
        m.fibers.clear();
        // Poisoned shared memory (reading what nothing wrote shows up as NaN), with a guard
        // region past the launch's size that must still be poison when the cluster is done.
        m.smem.assign(cluster, std::vector<unsigned char>(smem_bytes + 16 + kSmemGuard));
        for (auto& s : m.smem) std::memset(s.data(), 0xff, s.size());
        m.warp_arrived.assign(cluster * m.threads / 32, 0);
        m.block_arrived.assign(cluster, 0);
        m.cluster_arrived = 0;
        for (int b = 0; b < cluster; ++b) {
          for (int t = 0; t < m.threads; ++t) {
            m.fibers.push_back(NewFiber(m, b, t, dim3(x0 + b, y, z)));
          }
        }
        for (;;) {
          bool any_left = false, progressed = false;
          for (auto& f : m.fibers) {
            if (f->done) continue;
            any_left = true;
            if (f->waiting) continue;
            m.cur = f.get();
            swapcontext(&m.sched, &f->ctx);
            progressed = true;
            if (m.error) {
              CurMachine() = nullptr;
              std::rethrow_exception(m.error);
            }
          }
          if (!any_left) {
            for (auto& s : m.smem) {
              const unsigned char* base = DynamicSmemOf(s);
              for (size_t i = smem_bytes; i < smem_bytes + kSmemGuard; ++i) {
                if (base[i] != 0xff) {
                  CurMachine() = nullptr;
                  throw std::runtime_error("write past the dynamic shared memory size");
                }
              }
            }
            break;
          }
          if (!progressed) {
            // Barriers complete once every live thread has arrived: re-check after exits.
            bool released = false;
            for (int b = 0; b < cluster && !released; ++b) {
              int live = 0;
              for (int t = 0; t < m.threads; ++t) live += m.fibers[b * m.threads + t]->done ? 0 : 1;
              if (m.block_arrived[b] > 0 && m.block_arrived[b] == live) {
                m.block_arrived[b] = 0;
                for (int t = 0; t < m.threads; ++t) m.fibers[b * m.threads + t]->waiting = false;
                released = true;
              }
            }
            if (!released) {
              CurMachine() = nullptr;
              throw std::runtime_error("deadlock: a collective not every participant reaches");
            }
          }
        }
      }
    }
  }
  CurMachine() = nullptr;
}

template <class T>
T Shfl(T v, int mode, int operand) {
  static_assert(sizeof(T) == 4, "32-bit shuffles only");
  Fiber& f = Cur();
  f.in = LaneIn{};
  f.in.op = Op::kShfl;
  f.in.a = mode;
  std::memcpy(&f.in.u[0], &v, 4);
  if (mode == 1) {
    f.in.u[1] = static_cast<uint32_t>(operand);
  } else {
    f.in.b = operand;
  }
  Arrive();
  T r;
  std::memcpy(&r, &Cur().out.u[0], 4);
  return r;
}

inline uint32_t Ballot(bool p) {
  Fiber& f = Cur();
  f.in = LaneIn{};
  f.in.op = Op::kBallot;
  f.in.u[0] = p ? 1u : 0u;
  Arrive();
  return Cur().out.u[0];
}

}  // namespace qwen::kernels::cuda::emu

// ---- CUDA keywords and built-ins -----------------------------------------------------------------
#undef __global__
#undef __device__
#undef __host__
#undef __forceinline__
#undef __shared__
#undef __align__
#undef __launch_bounds__
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__
#define __align__(n) alignas(n)
#define __launch_bounds__(...)
#define threadIdx (::qwen::kernels::cuda::emu::Cur().thread_idx)
#define blockIdx (::qwen::kernels::cuda::emu::Cur().block_idx)
#define blockDim (::qwen::kernels::cuda::emu::CurMachine()->block_dim)
#define gridDim (::qwen::kernels::cuda::emu::CurMachine()->grid_dim)

inline void __syncthreads() {
  auto& f = ::qwen::kernels::cuda::emu::Cur();
  f.in = {};
  f.in.op = ::qwen::kernels::cuda::emu::Op::kBlockBar;
  ::qwen::kernels::cuda::emu::Arrive();
}
inline void __syncwarp(unsigned = 0xffffffffu) {
  auto& f = ::qwen::kernels::cuda::emu::Cur();
  f.in = {};
  f.in.op = ::qwen::kernels::cuda::emu::Op::kSyncWarp;
  ::qwen::kernels::cuda::emu::Arrive();
}
template <class T>
T __shfl_xor_sync(unsigned, T v, int mask) {
  return ::qwen::kernels::cuda::emu::Shfl(v, 0, mask);
}
template <class T>
T __shfl_sync(unsigned, T v, int src) {
  return ::qwen::kernels::cuda::emu::Shfl(v, 1, src);
}
template <class T>
T __shfl_up_sync(unsigned, T v, unsigned delta) {
  return ::qwen::kernels::cuda::emu::Shfl(v, 2, static_cast<int>(delta));
}
inline unsigned __ballot_sync(unsigned, int p) { return ::qwen::kernels::cuda::emu::Ballot(p != 0); }
inline int __any_sync(unsigned, int p) { return ::qwen::kernels::cuda::emu::Ballot(p != 0) != 0; }
inline int __ffs(int x) { return x == 0 ? 0 : __builtin_ctz(static_cast<unsigned>(x)) + 1; }
inline int __popc(unsigned x) { return __builtin_popcount(x); }
template <class T>
T __ldg(const T* p) {
  return *p;
}

// ---- Thread-block clusters (the subset the decode kernel uses) ---------------------------------
namespace cooperative_groups {
struct cluster_group {
  void sync() const {
    auto& f = ::qwen::kernels::cuda::emu::Cur();
    f.in = {};
    f.in.op = ::qwen::kernels::cuda::emu::Op::kClusterBar;
    ::qwen::kernels::cuda::emu::Arrive();
  }
  template <class T>
  T* map_shared_rank(T* p, int rank) const {
    auto& m = *::qwen::kernels::cuda::emu::CurMachine();
    auto& mine = m.smem[::qwen::kernels::cuda::emu::Cur().block];
    const auto off = reinterpret_cast<unsigned char*>(p) - mine.data();
    if (off < 0 || static_cast<size_t>(off) >= mine.size()) {
      throw std::runtime_error("map_shared_rank of a pointer outside shared memory");
    }
    return reinterpret_cast<T*>(m.smem[rank].data() + off);
  }
};
inline cluster_group this_cluster() { return {}; }
}  // namespace cooperative_groups

// ---- detail/mma_sm80.cuh -----------------------------------------------------------------------
namespace qwen::kernels::cuda::detail {

inline unsigned char* DynamicSmem() {
  return emu::DynamicSmemOf(emu::CurMachine()->smem[emu::Cur().block]);
}

inline void CpAsync16(void* smem_dst, const void* gmem_src, bool valid) {
  if (valid) {
    std::memcpy(smem_dst, gmem_src, 16);
  } else {
    std::memset(smem_dst, 0, 16);
  }
}
inline void CpAsyncCommit() {}
template <int kPending>
void CpAsyncWait() {}

inline void LdMatrix(uint32_t* r, int n, bool trans, const void* row) {
  auto& f = emu::Cur();
  f.in = {};
  f.in.op = emu::Op::kLdMatrix;
  f.in.a = n;
  f.in.u[0] = trans ? 1u : 0u;
  f.in.ptr = row;
  emu::Arrive();
  for (int i = 0; i < n; ++i) r[i] = emu::Cur().out.u[i];
}
inline void LdMatrixX2(uint32_t (&r)[2], const void* row) { LdMatrix(r, 2, false, row); }
inline void LdMatrixX2Trans(uint32_t (&r)[2], const void* row) { LdMatrix(r, 2, true, row); }
inline void LdMatrixX4(uint32_t (&r)[4], const void* row) { LdMatrix(r, 4, false, row); }
inline void LdMatrixX4Trans(uint32_t (&r)[4], const void* row) { LdMatrix(r, 4, true, row); }

inline void Mma(float (&c)[4], int k, const uint32_t* a, uint32_t b0, uint32_t b1) {
  auto& f = emu::Cur();
  f.in = {};
  f.in.op = emu::Op::kMma;
  f.in.a = k;
  for (int i = 0; i < (k == 16 ? 4 : 2); ++i) f.in.u[i] = a[i];
  f.in.u[4] = b0;
  f.in.u[5] = b1;
  for (int i = 0; i < 4; ++i) f.in.f[i] = c[i];
  emu::Arrive();
  for (int i = 0; i < 4; ++i) c[i] = emu::Cur().out.f[i];
}
inline void MmaBf16(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  Mma(c, 16, a, b0, b1);
}
inline void MmaBf16K8(float (&c)[4], const uint32_t (&a)[2], uint32_t b0) { Mma(c, 8, a, b0, 0); }

inline float Exp2Approx(float x) { return exp2f(x); }
inline uint32_t PackBf16x2(float x, float y) {
  const __nv_bfloat162 h = __floats2bfloat162_rn(x, y);
  uint32_t u;
  std::memcpy(&u, &h, 4);
  return u;
}
inline float Bf16Lo(uint32_t w) { return emu::BitsFloat(w << 16); }
inline float Bf16Hi(uint32_t w) { return emu::BitsFloat(w & 0xffff0000u); }

}  // namespace qwen::kernels::cuda::detail
