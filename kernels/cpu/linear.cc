// CPU fp32 reference of Linear (kernels/linear.h): y = x · Wᵀ (+ b).
//
// This is the CPU hot spot (every projection of the test models and the demo), so it is written as
// a small register-blocked GEMM rather than a naive triple loop:
//   * x [m, k] and W [n, k] are both row-major with k contiguous, so every output element is one
//     contiguous dot product of an x row with a W row;
//   * a tile of kTileM x rows × kTileN W rows is computed at once, so each loaded vector is reused
//     kTileN (x) or kTileM (W) times;
//   * W is walked in blocks of rows that fit in L2 while all x rows stream over them;
//   * each dot product keeps 8 independent fp32 lanes (a GCC/Clang vector type), which the
//     compiler maps onto SSE or AVX registers.
// Determinism: every output element is produced by exactly the same sequence of fp32 operations
// (lane l sums products k ≡ l mod 8 of the full 8-blocks in order, a fixed reduction tree, then the
// tail in order, then the bias), whatever tile, block or thread it falls in. So results do not
// depend on num_threads, and the AVX2 and baseline clones agree bitwise (the library is built with
// -ffp-contract=off, so no FMA contraction changes the rounding).
#include "kernels/linear.h"

#include <algorithm>
#include <cstring>
#include <system_error>
#include <thread>
#include <vector>

namespace qwen::kernels::cpu {
namespace {

typedef float Vec8 __attribute__((vector_size(32)));
constexpr int64_t kLanes = 8;
constexpr int kTileM = 2;  // x rows per tile
constexpr int kTileN = 4;  // W rows per tile; 2×4 accumulators + 3 operands fit 16 registers
// W rows per cache block: about 128 KiB of W, so a block stays in L2 while x streams over it.
constexpr int64_t kBlockBytes = 128 * 1024;
// Below this many multiply-adds (m*n*k) spawning threads costs more than it saves.
constexpr int64_t kMinWorkForThreads = 1 << 20;

// Vec8 travels by pointer/reference only (passing it by value is ABI-dependent on AVX).
__attribute__((always_inline)) inline void Load8(const float* p, Vec8* v) {
  std::memcpy(v, p, sizeof(*v));
}

// The fixed lane reduction shared by every output element.
__attribute__((always_inline)) inline float Reduce(const Vec8& a) {
  const float s0 = (a[0] + a[4]) + (a[2] + a[6]);
  const float s1 = (a[1] + a[5]) + (a[3] + a[7]);
  return s0 + s1;
}

// y[r][c] = x[r] · w[c] (+ bias[c]) for r < MR, c < NR. always_inline so that it is compiled with
// the instruction set of the calling clone of LinearColumns.
template <int MR, int NR>
__attribute__((always_inline)) inline void Tile(const float* x, const float* w, const float* bias,
                                                float* y, int64_t n, int64_t k) {
  Vec8 acc[MR][NR] = {};
  const int64_t k_main = k - k % kLanes;
  for (int64_t kk = 0; kk < k_main; kk += kLanes) {
    Vec8 xv[MR];
    for (int r = 0; r < MR; ++r) Load8(x + r * k + kk, &xv[r]);
    for (int c = 0; c < NR; ++c) {
      Vec8 wv;
      Load8(w + c * k + kk, &wv);
      for (int r = 0; r < MR; ++r) acc[r][c] += xv[r] * wv;
    }
  }
  for (int r = 0; r < MR; ++r) {
    for (int c = 0; c < NR; ++c) {
      float s = Reduce(acc[r][c]);
      for (int64_t kk = k_main; kk < k; ++kk) s += x[r * k + kk] * w[c * k + kk];
      if (bias != nullptr) s += bias[c];
      y[r * n + c] = s;
    }
  }
}

// Tiles of kTileM x rows against `cols` (1..kTileN) W rows, dispatched to a fixed-size Tile.
template <int MR>
__attribute__((always_inline)) inline void TileCols(const float* x, const float* w,
                                                    const float* bias, float* y, int64_t n,
                                                    int64_t k, int64_t cols) {
  switch (cols) {
    case 4:
      Tile<MR, 4>(x, w, bias, y, n, k);
      break;
    case 3:
      Tile<MR, 3>(x, w, bias, y, n, k);
      break;
    case 2:
      Tile<MR, 2>(x, w, bias, y, n, k);
      break;
    default:
      Tile<MR, 1>(x, w, bias, y, n, k);
      break;
  }
}

// Output columns [col_begin, col_end) for all m rows. Compiled twice (AVX2 and baseline x86-64),
// picked at load time; both clones perform identical fp32 operations.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx2", "default")))
#endif
void LinearColumns(const float* x, const float* w, const float* bias, float* y, int64_t m,
                   int64_t n, int64_t k, int64_t col_begin, int64_t col_end) {
  static_assert(kTileM == 2 && kTileN == 4, "TileCols dispatch assumes a 2x4 tile");
  const int64_t row_bytes = std::max<int64_t>(k, 1) * static_cast<int64_t>(sizeof(float));
  const int64_t block = std::max<int64_t>(kTileN, kBlockBytes / row_bytes / kTileN * kTileN);
  for (int64_t jb = col_begin; jb < col_end; jb += block) {
    const int64_t je = std::min(col_end, jb + block);
    for (int64_t i = 0; i < m; i += kTileM) {
      const int64_t rows = std::min<int64_t>(kTileM, m - i);
      for (int64_t j = jb; j < je; j += kTileN) {
        const int64_t cols = std::min<int64_t>(kTileN, je - j);
        const float* b = bias != nullptr ? bias + j : nullptr;
        if (rows == 2) {
          TileCols<2>(x + i * k, w + j * k, b, y + i * n + j, n, k, cols);
        } else {
          TileCols<1>(x + i * k, w + j * k, b, y + i * n + j, n, k, cols);
        }
      }
    }
  }
}

}  // namespace

void Linear(const float* x, const float* w, const float* bias, float* y, int64_t m, int64_t n,
            int64_t k, int num_threads) {
  if (m <= 0 || n <= 0) return;
  const int64_t work = m * n * k;
  // Split the output columns (rows of W) so each thread reads a disjoint part of W once; keep
  // at least one full W tile per thread.
  int64_t threads = num_threads > 1 && work > kMinWorkForThreads ? num_threads : 1;
  threads = std::min(threads, (n + kTileN - 1) / kTileN);
  if (threads <= 1) {
    LinearColumns(x, w, bias, y, m, n, k, 0, n);
    return;
  }
  // Column ranges are multiples of kTileN (except the last) for full tiles; this only affects
  // speed, never the values.
  const int64_t tiles = (n + kTileN - 1) / kTileN;
  std::vector<std::thread> pool;
  pool.reserve(static_cast<size_t>(threads - 1));
  int64_t begin = 0;
  for (int64_t t = 0; t < threads; ++t) {
    const int64_t end = std::min(n, (tiles * (t + 1) / threads) * kTileN);
    if (t + 1 == threads) {
      LinearColumns(x, w, bias, y, m, n, k, begin, end);  // the caller's thread takes the last
    } else {
      try {
        pool.emplace_back(LinearColumns, x, w, bias, y, m, n, k, begin, end);
      } catch (const std::system_error&) {
        // No thread available: do this range here; the values are the same either way, and no
        // exception may leave the op.
        LinearColumns(x, w, bias, y, m, n, k, begin, end);
      }
    }
    begin = end;
  }
  for (std::thread& th : pool) th.join();
}

}  // namespace qwen::kernels::cpu
