// GPU sampler (kernels/cuda/sampling.h). One 512-thread block per logit row.
//
// Pass 1 reads the row once: raw log-sum-exp (logprobs), the raw top 32 (top-N logprobs), and on
// the processed logits y = penalised(raw) / T either their maximum (greedy, and the rows of the
// general path) or their top 32 (rows with 1 < top_k <= 32). Tokens with penalties are skipped in
// the streaming loop (a bitmap of the row's penalty list in shared memory) and visited from the
// list instead, where their penalised logit is formed. Top-32 selection is a warp-select: each
// warp keeps its best 32 keys sorted across its lanes and inserts the (rare) better elements with
// ballots and shuffles; the 16 warps' lists are then bitonic-sorted. Keys are the unique 64-bit
// TokenKey (value, then lower index first), so every selection is exact, ties included.
//
// Small top-k rows finish on the sorted candidates (top-p / min-p exactly as the CPU sampler,
// then a Gumbel-max draw). General rows find the top-k cut (k > 32) and the top-p cut by radix
// selection over the 64-bit keys, 8 bits per pass with per-warp shared-memory histograms (counts,
// and fixed-point masses for top-p), and draw with one more Gumbel-max pass over the kept set.
#include <cuda_runtime.h>

#include <cmath>
#include <cstdint>

#include "kernels/cuda/detail/launch_util.cuh"
#include "kernels/cuda/detail/sampling_core.h"
#include "kernels/cuda/sampling.h"

namespace qwen::kernels::cuda {
namespace detail {
namespace {

constexpr int kSampleThreads = 512;
constexpr int kSampleWarps = kSampleThreads / 32;
constexpr int kSelect = 32;                     // warp-select width = largest fast-path top-k
constexpr int kCands = kSampleWarps * kSelect;  // 512 candidates, one per thread in the sort
constexpr int kBins = 256;                      // radix digit of 8 bits
constexpr int kUnroll = 4;                      // float4 chunks in flight per lane

// Shared memory (bytes, in this order): histograms [kSampleWarps][kBins] of u64 mass and u32
// count (their space also holds the two candidate lists of pass 1), bin totals, reduction
// scratch, then the penalty bitmap (one bit per token).
constexpr int kMassBytes = kSampleWarps * kBins * 8;
constexpr int kCountBytes = kSampleWarps * kBins * 4;
constexpr int kHistBytes = kMassBytes + kCountBytes;
constexpr int kTotBytes = kBins * 8 + kBins * 4;
constexpr int kScratchBytes = 32 * 8 + 32 * 8 + 32 * 4 + 32 * 4 + 8 * 8;
constexpr int kFixedSmemBytes = kHistBytes + kTotBytes + kScratchBytes;
static_assert(2 * kCands * 8 <= kHistBytes, "candidate lists live in the histogram space");

enum class RowMode { kGreedy, kSmallK, kGeneral };

struct SampleArgs {
  const float* logits = nullptr;
  const SamplingRowParams* rows = nullptr;
  const int32_t* pen_offsets = nullptr;
  const int32_t* pen_tokens = nullptr;
  const int32_t* pen_counts = nullptr;
  int32_t* out_tokens = nullptr;
  float* out_logprobs = nullptr;
  int32_t* out_top_tokens = nullptr;
  float* out_top_logprobs = nullptr;
  int64_t vocab = 0;
  int64_t stride = 0;
  int num_top = 0;
  int key_bits = 56;  // TokenKey bits that can be non-zero, rounded up to a digit: 32 + 32 -> 64
  bool vec = false;   // rows 16-byte aligned: float4 loads
};

struct SmemView {
  uint64_t* mass;       // [kSampleWarps][kBins]
  uint32_t* count;      // [kSampleWarps][kBins]
  uint64_t* cand_proc;  // [kCands] (aliases the histograms)
  uint64_t* cand_raw;   // [kCands]
  uint64_t* tot_mass;   // [kBins]
  uint32_t* tot_count;  // [kBins]
  uint64_t* red_u64;    // [32]
  double* red_d;        // [32]
  float* red_f;         // [32]
  float* vals;          // [32]
  uint64_t* state;      // [8]
  uint32_t* bitmap;     // [ceil(V / 32)]
};

__device__ SmemView MakeSmemView(unsigned char* base) {
  SmemView s;
  s.mass = reinterpret_cast<uint64_t*>(base);
  s.count = reinterpret_cast<uint32_t*>(base + kMassBytes);
  s.cand_proc = reinterpret_cast<uint64_t*>(base);
  s.cand_raw = s.cand_proc + kCands;
  unsigned char* p = base + kHistBytes;
  s.tot_mass = reinterpret_cast<uint64_t*>(p);
  s.tot_count = reinterpret_cast<uint32_t*>(p + kBins * 8);
  p += kTotBytes;
  s.red_u64 = reinterpret_cast<uint64_t*>(p);
  s.red_d = reinterpret_cast<double*>(p + 32 * 8);
  s.red_f = reinterpret_cast<float*>(p + 64 * 8);
  s.vals = reinterpret_cast<float*>(p + 64 * 8 + 32 * 4);
  s.state = reinterpret_cast<uint64_t*>(p + 64 * 8 + 64 * 4);
  s.bitmap = reinterpret_cast<uint32_t*>(base + kFixedSmemBytes);
  return s;
}

// ---------------------------------------------------------------------------------------------
// Block reductions (every thread calls; every thread gets the result).

__device__ uint64_t BlockMaxU64(uint64_t v, uint64_t* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const uint64_t y = __shfl_xor_sync(0xffffffffu, v, o);
    v = y > v ? y : v;
  }
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = scratch[0];
  for (int w = 1; w < kSampleWarps; ++w) v = scratch[w] > v ? scratch[w] : v;
  __syncthreads();
  return v;
}

__device__ uint64_t BlockSumU64(uint64_t v, uint64_t* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  v = 0;
  for (int w = 0; w < kSampleWarps; ++w) v += scratch[w];  // fixed order: deterministic
  __syncthreads();
  return v;
}

// (max m, sum of exp(x - m)) pairs.
__device__ void MergeLse(float& m, double& s, float m2, double s2) {
  if (m2 == -INFINITY) return;
  if (m == -INFINITY) {
    m = m2;
    s = s2;
    return;
  }
  if (m2 > m) {
    s = s * static_cast<double>(expf(m - m2)) + s2;
    m = m2;
  } else {
    s += s2 * static_cast<double>(expf(m2 - m));
  }
}

__device__ float BlockLogSumExp(float m, double s, const SmemView& sm) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const float m2 = __shfl_xor_sync(0xffffffffu, m, o);
    const double s2 = __shfl_xor_sync(0xffffffffu, s, o);
    MergeLse(m, s, m2, s2);
  }
  if (lane == 0) {
    sm.red_f[warp] = m;
    sm.red_d[warp] = s;
  }
  __syncthreads();
  m = sm.red_f[0];
  s = sm.red_d[0];
  for (int w = 1; w < kSampleWarps; ++w) MergeLse(m, s, sm.red_f[w], sm.red_d[w]);
  __syncthreads();
  // As the CPU sampler: log_z = max + float(log(sum)).
  return m + static_cast<float>(log(s));
}

// ---------------------------------------------------------------------------------------------
// Warp-select: `list` holds this lane's entry of the warp's best kSelect keys, sorted
// descending across lanes (0 = empty). Warp-uniform call; `valid` lanes offer `cand`.
__device__ __forceinline__ void WarpInsert(uint64_t& list, uint64_t cand, bool valid) {
  const int lane = threadIdx.x & 31;
  uint64_t thr = __shfl_sync(0xffffffffu, list, 31);
  unsigned mask = __ballot_sync(0xffffffffu, valid && cand > thr);
  while (mask != 0) {
    const int src = __ffs(static_cast<int>(mask)) - 1;
    const uint64_t c = __shfl_sync(0xffffffffu, cand, src);
    const int pos = __popc(__ballot_sync(0xffffffffu, list > c));
    const uint64_t up = __shfl_up_sync(0xffffffffu, list, 1);
    if (lane == pos) {
      list = c;
    } else if (lane > pos) {
      list = up;
    }
    mask &= mask - 1;
    thr = __shfl_sync(0xffffffffu, list, 31);
    mask &= __ballot_sync(0xffffffffu, cand > thr);
  }
}

// Sorts kCands keys in shared memory descending (one per thread).
__device__ void BitonicSortDesc(uint64_t* s) {
  const int i = static_cast<int>(threadIdx.x);
  for (int k = 2; k <= kCands; k <<= 1) {
    for (int j = k >> 1; j > 0; j >>= 1) {
      const int ixj = i ^ j;
      if (ixj > i) {
        const uint64_t a = s[i], b = s[ixj];
        const bool desc = (i & k) == 0;
        if (desc ? a < b : a > b) {
          s[i] = b;
          s[ixj] = a;
        }
      }
      __syncthreads();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Row context.

struct Row {
  const float* x;  // raw logits
  int64_t vocab;
  bool vec;
  float inv_t;     // 1 / temperature (1 for greedy)
  bool penalties;  // the penalty list is active (bitmap filled)
  const uint32_t* bitmap;
  const int32_t* tokens;  // the row's penalty entries
  const int32_t* counts;
  int num_pen;
  double repetition, presence, frequency;

  __device__ bool Penalised(int64_t v) const {
    return penalties && ((bitmap[v >> 5] >> (v & 31)) & 1u) != 0;
  }
  // Processed logit of penalty entry j (token *tok), or false for an out-of-range token id.
  __device__ bool PenaltyEntry(int j, float* y, uint32_t* tok) const {
    const int32_t t = tokens[j];
    if (t < 0 || t >= vocab) return false;
    *tok = static_cast<uint32_t>(t);
    *y = PenalisedLogit(__ldg(x + t), counts[j], repetition, presence, frequency) * inv_t;
    return true;
  }
  // Loads the lane's kUnroll x 4 raw logits of the warp chunk at `base` (-inf past the row).
  __device__ void LoadChunk(int64_t base, float (&v)[kUnroll][4]) const {
    const int lane = threadIdx.x & 31;
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t v0 = base + u * 128 + lane * 4;
      if (vec && v0 + 3 < vocab) {
        const float4 f = __ldg(reinterpret_cast<const float4*>(x + v0));
        v[u][0] = f.x;
        v[u][1] = f.y;
        v[u][2] = f.z;
        v[u][3] = f.w;
      } else {
#pragma unroll
        for (int e = 0; e < 4; ++e) v[u][e] = v0 + e < vocab ? __ldg(x + v0 + e) : -INFINITY;
      }
    }
  }
};

constexpr int64_t kWarpChunk = 128 * kUnroll;  // elements per warp iteration

// Calls f(y, token, key) for every token of the row with its processed logit y (penalised tokens
// from the list). Not warp-synchronous.
template <class F>
__device__ void VisitProcessed(const Row& r, F&& f) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  for (int64_t base = warp * kWarpChunk; base < r.vocab; base += kSampleWarps * kWarpChunk) {
    float v[kUnroll][4];
    r.LoadChunk(base, v);
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int64_t t = base + u * 128 + lane * 4 + e;
        if (t < r.vocab && !r.Penalised(t)) {
          const float y = v[u][e] * r.inv_t;
          f(y, static_cast<uint32_t>(t), TokenKey(y, static_cast<uint32_t>(t)));
        }
      }
    }
  }
  if (r.penalties) {
    for (int j = static_cast<int>(threadIdx.x); j < r.num_pen; j += kSampleThreads) {
      float y;
      uint32_t tok;
      if (r.PenaltyEntry(j, &y, &tok)) f(y, tok, TokenKey(y, tok));
    }
  }
}

// Radix selection over the keys >= floor: count mode returns the key of rank k (1-based,
// descending); mass mode the key at which the cumulative fixed-point mass (descending) first
// reaches `target`. 8 bits per pass from the top; stops early once the selected bin holds a single
// key.
__device__ uint64_t RadixSelect(const Row& r, const SmemView& sm, const SampleArgs& a,
                                uint64_t floor, bool mass_mode, int64_t k, double target,
                                float max_y) {
  const int tid = static_cast<int>(threadIdx.x), warp = tid >> 5;
  uint64_t prefix = 0, above_count = 0, above_mass = 0;
  for (int shift = a.key_bits - 8; shift >= 0; shift -= 8) {
    for (int i = tid; i < kSampleWarps * kBins; i += kSampleThreads) {
      sm.count[i] = 0;
      sm.mass[i] = 0;
    }
    __syncthreads();
    const int hi = shift + 8;
    const uint64_t want = hi >= 64 ? 0 : prefix >> hi;
    VisitProcessed(r, [&](float y, uint32_t, uint64_t key) {
      if (key < floor || (hi < 64 && (key >> hi) != want)) return;
      const int bin = static_cast<int>((key >> shift) & 0xff);
      atomicAdd(&sm.count[warp * kBins + bin], 1u);
      if (mass_mode) {
        atomicAdd(reinterpret_cast<unsigned long long*>(&sm.mass[warp * kBins + bin]),
                  static_cast<unsigned long long>(FixedMass(y, max_y)));
      }
    });
    __syncthreads();
    if (tid < kBins) {
      uint32_t c = 0;
      uint64_t m = 0;
      for (int w = 0; w < kSampleWarps; ++w) {
        c += sm.count[w * kBins + tid];
        m += sm.mass[w * kBins + tid];
      }
      sm.tot_count[tid] = c;
      sm.tot_mass[tid] = m;
    }
    __syncthreads();
    if (tid == 0) {
      uint64_t c = 0, m = 0;
      int sel = -1, last_nonempty = -1;
      for (int b = kBins - 1; b >= 0; --b) {
        if (sm.tot_count[b] == 0) continue;
        last_nonempty = b;
        c += sm.tot_count[b];
        m += sm.tot_mass[b];
        const bool hit = mass_mode ? static_cast<double>(above_mass + m) >= target
                                   : static_cast<int64_t>(above_count + c) >= k;
        if (hit) {
          sel = b;
          break;
        }
      }
      if (sel < 0) sel = last_nonempty < 0 ? 0 : last_nonempty;  // rounding: keep everything
      // Totals of the bins above the selected one.
      uint64_t c_above = 0, m_above = 0;
      for (int b = kBins - 1; b > sel; --b) {
        c_above += sm.tot_count[b];
        m_above += sm.tot_mass[b];
      }
      sm.state[0] = prefix | (static_cast<uint64_t>(sel) << shift);
      sm.state[1] = above_count + c_above;
      sm.state[2] = above_mass + m_above;
      sm.state[3] = sm.tot_count[sel];
    }
    __syncthreads();
    prefix = sm.state[0];
    above_count = sm.state[1];
    above_mass = sm.state[2];
    const uint64_t in_bin = sm.state[3];
    __syncthreads();
    if (shift == 0) return prefix;
    if (in_bin <= 1) {
      // One key left in the group (0: nothing to select; keep everything at or above the group).
      uint64_t best = 0;
      if (in_bin == 1) {
        VisitProcessed(r, [&](float, uint32_t, uint64_t key) {
          if (key >= floor && (key >> shift) == (prefix >> shift) && key > best) best = key;
        });
      }
      best = BlockMaxU64(best, sm.red_u64);
      return in_bin == 1 ? best : prefix;
    }
  }
  return prefix;
}

__global__ void __launch_bounds__(kSampleThreads) SampleKernel(const SampleArgs a) {
  extern __shared__ __align__(16) unsigned char sample_smem[];
  const SmemView sm = MakeSmemView(sample_smem);
  const int64_t row_index = blockIdx.x;
  const SamplingRowParams prm = a.rows[row_index];
  const int tid = static_cast<int>(threadIdx.x), lane = tid & 31, warp = tid >> 5;

  Row r;
  r.x = a.logits + row_index * a.stride;
  r.vocab = a.vocab;
  r.vec = a.vec;
  const bool greedy = prm.temperature == 0.0 || prm.top_k == 1;
  r.inv_t = prm.temperature == 0.0 ? 1.0f : static_cast<float>(1.0 / prm.temperature);
  r.repetition = prm.repetition_penalty;
  r.presence = prm.presence_penalty;
  r.frequency = prm.frequency_penalty;
  r.num_pen = 0;
  r.tokens = nullptr;
  r.counts = nullptr;
  r.bitmap = sm.bitmap;
  if (a.pen_offsets != nullptr) {
    const int32_t lo = a.pen_offsets[row_index], hi = a.pen_offsets[row_index + 1];
    r.tokens = a.pen_tokens + lo;
    r.counts = a.pen_counts + lo;
    r.num_pen = hi - lo;
  }
  r.penalties = r.num_pen > 0 && (r.repetition != 1.0 || r.presence != 0.0 || r.frequency != 0.0);
  const RowMode mode = greedy ? RowMode::kGreedy
                       : (prm.top_k > 1 && prm.top_k <= kSelect && prm.top_k < a.vocab)
                           ? RowMode::kSmallK
                           : RowMode::kGeneral;
  const bool need_lse = a.out_logprobs != nullptr || a.num_top > 0;

  if (r.penalties) {
    const int words = static_cast<int>((a.vocab + 31) / 32);
    for (int i = tid; i < words; i += kSampleThreads) sm.bitmap[i] = 0;
    __syncthreads();
    for (int j = tid; j < r.num_pen; j += kSampleThreads) {
      const int32_t t = r.tokens[j];
      if (t >= 0 && t < a.vocab) atomicOr(&sm.bitmap[t >> 5], 1u << (t & 31));
    }
    __syncthreads();
  }

  // ---- Pass 1.
  float lse_m = -INFINITY;
  double lse_s = 0.0;
  uint64_t raw_list = 0, proc_list = 0, proc_max = 0;
  for (int64_t base = warp * kWarpChunk; base < a.vocab; base += kSampleWarps * kWarpChunk) {
    float v[kUnroll][4];
    r.LoadChunk(base, v);
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int64_t t = base + u * 128 + lane * 4 + e;
        const bool valid = t < a.vocab;
        const float x = v[u][e];
        if (need_lse && valid && x > -INFINITY) {  // (NaN fails x > -inf: skipped)
          if (x > lse_m) {
            lse_s = lse_s * static_cast<double>(expf(lse_m - x)) + 1.0;
            lse_m = x;
          } else {
            lse_s += static_cast<double>(expf(x - lse_m));
          }
        }
        if (a.num_top > 0) WarpInsert(raw_list, TokenKey(x, static_cast<uint32_t>(t)), valid);
        const bool ok = valid && !r.Penalised(t);
        const uint64_t key = TokenKey(x * r.inv_t, static_cast<uint32_t>(t));
        if (mode == RowMode::kSmallK) {
          WarpInsert(proc_list, key, ok);
        } else if (ok && key > proc_max) {
          proc_max = key;
        }
      }
    }
  }
  if (r.penalties) {
    for (int j0 = warp * 32; j0 < r.num_pen; j0 += kSampleThreads) {
      const int j = j0 + lane;
      float y = 0.0f;
      uint32_t tok = 0;
      const bool ok = j < r.num_pen && r.PenaltyEntry(j, &y, &tok);
      const uint64_t key = ok ? TokenKey(y, tok) : 0;
      if (mode == RowMode::kSmallK) {
        WarpInsert(proc_list, key, ok);
      } else if (ok && key > proc_max) {
        proc_max = key;
      }
    }
  }
  float log_z = 0.0f;
  if (need_lse) log_z = BlockLogSumExp(lse_m, lse_s, sm);
  if (a.num_top > 0 || mode == RowMode::kSmallK) {
    sm.cand_raw[tid] = raw_list;
    sm.cand_proc[tid] = proc_list;
    __syncthreads();
    if (a.num_top > 0) BitonicSortDesc(sm.cand_raw);
    if (mode == RowMode::kSmallK) BitonicSortDesc(sm.cand_proc);
  }
  // The raw top-N leaves shared memory now (the radix passes below reuse its space).
  const uint64_t my_top = tid < a.num_top ? sm.cand_raw[tid] : 0;
  if (mode != RowMode::kSmallK) proc_max = BlockMaxU64(proc_max, sm.red_u64);

  // ---- The draw.
  uint32_t token = 0;
  if (mode == RowMode::kGreedy) {
    token = TokenKeyIndex(proc_max);
  } else if (mode == RowMode::kSmallK) {
    const int k = static_cast<int>(prm.top_k);
    if (tid < k) sm.vals[tid] = TokenKeyValue(sm.cand_proc[tid]);
    __syncthreads();
    if (tid == 0) sm.state[0] = KeptOfSortedCandidates(sm.vals, k, prm.top_p, prm.min_p);
    __syncthreads();
    const int kept = static_cast<int>(sm.state[0]);
    if (warp == 0) {
      uint64_t best = 0;
      if (lane < kept) {
        const uint32_t t = TokenKeyIndex(sm.cand_proc[lane]);
        best = TokenKey(sm.vals[lane] + GumbelFromBits(SampleBits(prm.seed, prm.step, t)), t);
      }
#pragma unroll
      for (int o = 16; o > 0; o >>= 1) {
        const uint64_t y = __shfl_xor_sync(0xffffffffu, best, o);
        best = y > best ? y : best;
      }
      if (lane == 0) sm.state[1] = TokenKeyIndex(best);
    }
    __syncthreads();
    token = static_cast<uint32_t>(sm.state[1]);
  } else {
    const float max_y = TokenKeyValue(proc_max);
    uint64_t floor = 0;
    if (prm.top_k > 0 && prm.top_k < a.vocab) {
      floor = RadixSelect(r, sm, a, 0, false, prm.top_k, 0.0, max_y);
    }
    if (prm.top_p < 1.0) {
      uint64_t full = 0;
      VisitProcessed(r, [&](float y, uint32_t, uint64_t key) {
        if (key >= floor) full += FixedMass(y, max_y);
      });
      full = BlockSumU64(full, sm.red_u64);
      const double target = prm.top_p * static_cast<double>(full);
      const uint64_t cut_p = RadixSelect(r, sm, a, floor, true, 0, target, max_y);
      floor = cut_p > floor ? cut_p : floor;
    }
    const float cut = prm.min_p > 0 ? max_y + static_cast<float>(log(prm.min_p)) : -INFINITY;
    uint64_t best = 0;
    VisitProcessed(r, [&](float y, uint32_t t, uint64_t key) {
      if (key < floor || y < cut) return;
      const uint64_t s = TokenKey(y + GumbelFromBits(SampleBits(prm.seed, prm.step, t)), t);
      if (s > best) best = s;
    });
    token = TokenKeyIndex(BlockMaxU64(best, sm.red_u64));
  }

  // ---- Outputs.
  if (tid == 0) {
    a.out_tokens[row_index] = static_cast<int32_t>(token);
    if (a.out_logprobs != nullptr) a.out_logprobs[row_index] = __ldg(r.x + token) - log_z;
  }
  if (tid < a.num_top) {
    const uint64_t key = my_top;
    const bool real = tid < a.vocab;
    const int64_t o = row_index * a.num_top + tid;
    if (a.out_top_tokens != nullptr) {
      a.out_top_tokens[o] = real ? static_cast<int32_t>(TokenKeyIndex(key)) : -1;
    }
    if (a.out_top_logprobs != nullptr) {
      a.out_top_logprobs[o] = real ? TokenKeyValue(key) - log_z : -INFINITY;
    }
  }
}

}  // namespace
}  // namespace detail

cudaError_t SampleTokens(const float* logits, const SamplingRowParams* rows,
                         const PenaltyTokens& penalties, const SampleOutputs& out,
                         const SampleParams& p, cudaStream_t stream) {
  QWEN_CUDA_CHECK_ARG(p.num_rows >= 0 && p.num_rows <= 0x7fffffff);
  QWEN_CUDA_CHECK_ARG(p.vocab_size >= 1 && p.vocab_size <= (int64_t{1} << 20));
  QWEN_CUDA_CHECK_ARG(p.logits_stride >= p.vocab_size);
  QWEN_CUDA_CHECK_ARG(p.num_top_logprobs >= 0 && p.num_top_logprobs <= detail::kSelect);
  if (p.num_rows == 0) return cudaSuccess;
  QWEN_CUDA_CHECK_ARG(logits != nullptr && rows != nullptr && out.tokens != nullptr);
  QWEN_CUDA_CHECK_ARG(p.num_top_logprobs == 0 ||
                      (out.top_tokens != nullptr || out.top_logprobs != nullptr));
  QWEN_CUDA_CHECK_ARG(penalties.offsets == nullptr ||
                      (penalties.tokens != nullptr && penalties.counts != nullptr));
  detail::SampleArgs a;
  a.logits = logits;
  a.rows = rows;
  a.pen_offsets = penalties.offsets;
  a.pen_tokens = penalties.tokens;
  a.pen_counts = penalties.counts;
  a.out_tokens = out.tokens;
  a.out_logprobs = out.logprobs;
  a.out_top_tokens = out.top_tokens;
  a.out_top_logprobs = out.top_logprobs;
  a.vocab = p.vocab_size;
  a.stride = p.logits_stride;
  a.num_top = static_cast<int>(p.num_top_logprobs);
  a.key_bits = 64;
  a.vec = p.logits_stride % 4 == 0 && detail::IsAligned(logits, 16);
  const int64_t smem = detail::kFixedSmemBytes + (p.vocab_size + 31) / 32 * 4;
  QWEN_CUDA_TRY(
      detail::PrepareDynamicSmem(reinterpret_cast<const void*>(&detail::SampleKernel), smem));
  detail::SampleKernel<<<static_cast<unsigned>(p.num_rows), detail::kSampleThreads,
                         static_cast<size_t>(smem), stream>>>(a);
  return cudaGetLastError();
}

}  // namespace qwen::kernels::cuda
