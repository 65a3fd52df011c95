// Timings of the CUDA kernels at Qwen3.5-9B sizes (not a test: prints a table; run by
// scripts/gpu/build_and_test.sh after the tests). Each row: median of 20 timed runs (CUDA events)
// after 3 warm-up runs, on random (never zero) inputs, with the bytes or FLOPs it must at least
// move or do, so the achieved rate can be compared with the device's ceilings (METHOD.md).
#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "kernels/cuda/conv1d.h"
#include "kernels/cuda/detail/gemm_bias.h"
#include "kernels/cuda/elementwise.h"
#include "kernels/cuda/gated_delta_rule.h"
#include "kernels/cuda/gemm.h"
#include "kernels/cuda/paged_attention.h"
#include "kernels/cuda/rms_norm.h"
#include "kernels/cuda/sampling.h"
#include "kernels/cuda/vision.h"
#include "kernels/cuda/vision_attention.h"

namespace qwen::kernels::cuda {
namespace {

int g_failures = 0;

#define BENCH_CHECK(expr)                                              \
  do {                                                                 \
    const cudaError_t e_ = (expr);                                     \
    if (e_ != cudaSuccess) {                                           \
      std::printf("  %s failed: %s\n", #expr, cudaGetErrorString(e_)); \
      ++g_failures;                                                    \
      return;                                                          \
    }                                                                  \
  } while (0)

template <class T>
struct Buf {
  T* p = nullptr;
  size_t n = 0;
  explicit Buf(size_t count) : n(count) {
    if (cudaMalloc(reinterpret_cast<void**>(&p), std::max<size_t>(n, 1) * sizeof(T)) !=
        cudaSuccess) {
      p = nullptr;
    }
  }
  ~Buf() { cudaFree(p); }
  Buf(const Buf&) = delete;
  Buf& operator=(const Buf&) = delete;
};

template <class T>
void FillRandom(Buf<T>& b, float lo, float hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<T> h(b.n);
  for (T& x : h) {
    if constexpr (std::is_same_v<T, __nv_bfloat16>) {
      x = __float2bfloat16(dist(rng));
    } else {
      x = static_cast<T>(dist(rng));
    }
  }
  cudaMemcpy(b.p, h.data(), b.n * sizeof(T), cudaMemcpyHostToDevice);
}

// Median time in microseconds of fn() (which returns the launcher's status).
double TimeUs(const std::function<cudaError_t()>& fn, bool* ok) {
  cudaEvent_t a, b;
  cudaEventCreate(&a);
  cudaEventCreate(&b);
  std::vector<float> ms;
  *ok = true;
  for (int i = 0; i < 23; ++i) {
    cudaEventRecord(a);
    const cudaError_t err = fn();
    cudaEventRecord(b);
    cudaEventSynchronize(b);
    if (err != cudaSuccess || cudaGetLastError() != cudaSuccess) {
      std::printf("  launch failed: %s\n", cudaGetErrorString(err));
      *ok = false;
      break;
    }
    float t = 0;
    cudaEventElapsedTime(&t, a, b);
    if (i >= 3) ms.push_back(t);
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  if (ms.empty()) return 0.0;
  std::sort(ms.begin(), ms.end());
  return 1000.0 * ms[ms.size() / 2];
}

void Row(const std::string& name, double us, double bytes, double flops) {
  std::printf("%-58s %10.1f us %9.1f GB/s %9.2f TFLOP/s\n", name.c_str(), us,
              bytes / (us * 1e-6) / 1e9, flops / (us * 1e-6) / 1e12);
}

void Run(const std::string& name, double bytes, double flops,
         const std::function<cudaError_t()>& fn) {
  bool ok = false;
  const double us = TimeUs(fn, &ok);
  if (!ok) {
    ++g_failures;
    std::printf("%-58s FAILED\n", name.c_str());
    return;
  }
  Row(name, us, bytes, flops);
}

// 9B: H 4096, Hk 16, Hv 32, Dk = Dv = 128, conv_dim 8192, I 12288.
constexpr int64_t kH = 4096, kHk = 16, kHv = 32, kD = 128, kConv = 8192, kI = 12288;

void BenchGdn() {
  const std::vector<std::pair<int64_t, int64_t>> batches = {
      {1, 8192}, {1, 1024}, {8, 512}, {64, 1}};
  for (const auto& [seqs, len] : batches) {
    const int64_t n = seqs * len;
    Buf<float> conv(n * kConv), g(n * kHv), beta(n * kHv), out(n * kHv * kD);
    Buf<float> pool((seqs + 1) * kHv * kD * kD);
    Buf<int32_t> cu(seqs + 1), slots(seqs);
    // Workspace of the chunked prefill (any variant), as the model sizes it.
    Buf<char> workspace(static_cast<size_t>(GatedDeltaRuleChunkedWorkspaceBytes(
        {.num_tokens = n, .num_heads_k = kHk, .num_heads_v = kHv, .variant = GdnVariant::kAuto})));
    FillRandom(conv, -0.1f, 0.1f, 1);
    FillRandom(g, -0.5f, -0.01f, 2);
    FillRandom(beta, 0.1f, 0.9f, 3);
    FillRandom(pool, -0.5f, 0.5f, 4);
    std::vector<int32_t> hcu(seqs + 1), hslots(seqs);
    for (int64_t s = 0; s <= seqs; ++s) hcu[s] = static_cast<int32_t>(s * len);
    for (int64_t s = 0; s < seqs; ++s) hslots[s] = static_cast<int32_t>(s);
    cudaMemcpy(cu.p, hcu.data(), hcu.size() * 4, cudaMemcpyHostToDevice);
    cudaMemcpy(slots.p, hslots.data(), hslots.size() * 4, cudaMemcpyHostToDevice);
    const float* q = conv.p;
    const float* k = conv.p + kHk * kD;
    const float* v = conv.p + 2 * kHk * kD;
    // Fewest bytes: q, k, v, g, beta read once, out written once, each state read + written.
    const double bytes =
        4.0 * (n * (2 * kHk * kD + kHv * kD + 2 * kHv + kHv * kD) + 2.0 * seqs * kHv * kD * kD);
    for (const GdnVariant var : {GdnVariant::kDefault, GdnVariant::kGb10}) {
      const std::string tag = std::string(" [") + GdnVariantName(var) + "]";
      if (len > 1) {
        // ~ per token and head: K S, Q S, S update (3 x 2 Dk Dv) + the intra-chunk products
        // (counted at chunk 64, as since the first version, so rows stay comparable over time).
        const double flops = 2.0 * n * kHv * (3.0 * kD * kD + 2.0 * 64 * kD);
        Run("chunked prefill S=" + std::to_string(seqs) + " T=" + std::to_string(len) + tag, bytes,
            flops, [&] {
              return GatedDeltaRuleChunkedVarlen(q, k, v, g.p, beta.p, cu.p, slots.p, nullptr,
                                                 pool.p, out.p, workspace.p,
                                                 {.num_tokens = n,
                                                  .num_seqs = seqs,
                                                  .num_heads_k = kHk,
                                                  .num_heads_v = kHv,
                                                  .head_dim_k = kD,
                                                  .head_dim_v = kD,
                                                  .qk_stride = kConv,
                                                  .v_stride = kConv,
                                                  .out_stride = kHv * kD,
                                                  .variant = var},
                                                 nullptr);
            });
      } else {
        Run("recurrent decode S=" + std::to_string(seqs) + tag, bytes,
            2.0 * n * kHv * 3.0 * kD * kD, [&] {
              return GatedDeltaRuleRecurrentDecode(q, k, v, g.p, beta.p, slots.p, pool.p, out.p,
                                                   {.num_seqs = seqs,
                                                    .num_heads_k = kHk,
                                                    .num_heads_v = kHv,
                                                    .head_dim_k = kD,
                                                    .head_dim_v = kD,
                                                    .qk_stride = kConv,
                                                    .v_stride = kConv,
                                                    .out_stride = kHv * kD,
                                                    .variant = var},
                                                   nullptr);
            });
      }
      // Conv over the same batch (u bf16 [n, conv_dim] -> f32).
      Buf<__nv_bfloat16> u(n * kConv), w(kConv * 4);
      Buf<float> conv_pool((seqs + 1) * 3 * kConv), conv_out(n * kConv);
      FillRandom(u, -1.0f, 1.0f, 5);
      FillRandom(w, -0.5f, 0.5f, 6);
      FillRandom(conv_pool, -1.0f, 1.0f, 7);
      const double conv_bytes = n * kConv * (2.0 + 4.0) + 2.0 * seqs * 3 * kConv * 4;
      if (len > 1) {
        Run("conv1d varlen S=" + std::to_string(seqs) + " T=" + std::to_string(len) + tag,
            conv_bytes, 0.0, [&] {
              return CausalConv1dSiluVarlen(u.p, w.p, cu.p, slots.p, nullptr, conv_pool.p,
                                            conv_out.p,
                                            {.num_tokens = n,
                                             .num_seqs = seqs,
                                             .channels = kConv,
                                             .kernel = 4,
                                             .u_stride = kConv,
                                             .out_stride = kConv,
                                             .variant = var},
                                            nullptr);
            });
      } else {
        Run("conv1d update S=" + std::to_string(seqs) + tag, conv_bytes, 0.0, [&] {
          return CausalConv1dSiluUpdate(u.p, w.p, slots.p, conv_pool.p, conv_out.p,
                                        {.num_seqs = seqs,
                                         .channels = kConv,
                                         .kernel = 4,
                                         .u_stride = kConv,
                                         .out_stride = kConv,
                                         .variant = var},
                                        nullptr);
        });
      }
    }
  }
}

void BenchNormsAndGemm() {
  const int64_t n = 8192;
  Buf<__nv_bfloat16> x(n * kH), r(n * kH), y(n * kH), w(kH);
  FillRandom(x, -2.0f, 2.0f, 8);
  FillRandom(r, -2.0f, 2.0f, 9);
  FillRandom(w, -0.1f, 0.1f, 10);
  Run("RmsNorm T=8192 H=4096", 2.0 * 2 * n * kH, 0.0, [&] {
    return RmsNorm(x.p, w.p, y.p,
                   {.num_tokens = n, .dim = kH, .x_token_stride = kH, .y_token_stride = kH},
                   nullptr);
  });
  Run("AddRmsNorm T=8192 H=4096", 2.0 * 4 * n * kH, 0.0, [&] {
    return AddRmsNorm(
        x.p, r.p, w.p, y.p,
        {.num_tokens = n, .dim = kH, .x_stride = kH, .residual_stride = kH, .y_stride = kH},
        nullptr);
  });
  Buf<__nv_bfloat16> gu(n * 2 * kI), act(n * kI);
  FillRandom(gu, -2.0f, 2.0f, 11);
  Run("SiluMul T=8192 I=12288 (fused gate|up rows)", 2.0 * 3 * n * kI, 0.0, [&] {
    return SiluMul(gu.p, 2 * kI, gu.p + kI, 2 * kI, act.p, kI, {.rows = n, .cols = kI}, nullptr);
  });

  std::unique_ptr<CublasLt> ctx;
  BENCH_CHECK(CublasLt::Create(32 << 20, &ctx));
  Buf<__nv_bfloat16> wg(kI * kH), yg(n * kI);
  FillRandom(wg, -0.05f, 0.05f, 12);
  // m <= 4: the small-M weight-streaming kernel (detail/gemm_small_m.h); the others cuBLASLt.
  for (const int64_t m :
       {int64_t{8192}, int64_t{64}, int64_t{8}, int64_t{4}, int64_t{2}, int64_t{1}}) {
    const double flops = 2.0 * m * kI * kH;
    const double bytes = 2.0 * (m * kH + kI * kH + m * kI);
    Run("Gemm bf16 m=" + std::to_string(m) + " n=12288 k=4096", bytes, flops,
        [&] { return Gemm(*ctx, x.p, wg.p, nullptr, yg.p, {.m = m, .n = kI, .k = kH}, nullptr); });
  }
  // The LM head of a decode step (fp32 logits over the 248320-token vocabulary).
  constexpr int64_t kVocab = 248320;
  Buf<__nv_bfloat16> wv(kVocab * kH);
  Buf<float> logits(8 * kVocab);
  FillRandom(wv, -0.05f, 0.05f, 13);
  for (const int64_t m : {int64_t{8}, int64_t{1}}) {
    Run("LM head GemmF32Out m=" + std::to_string(m) + " n=248320 k=4096",
        2.0 * (m * kH + kVocab * kH) + 4.0 * m * kVocab, 2.0 * m * kVocab * kH, [&] {
          return GemmF32Out(*ctx, x.p, wv.p, nullptr, logits.p, {.m = m, .n = kVocab, .k = kH},
                            nullptr);
        });
  }
}

// Full attention at 9B shapes: Hq 16, Hkv 4, D 256, pages of 16 tokens.
void BenchAttention() {
  constexpr int64_t kHq = 16, kHkv = 4, kHd = 256, kPage = 16;
  struct Shape {
    int64_t seqs, ctx, news;  // ctx: tokens in the cache after the step
  };
  for (const Shape sh : {Shape{64, 1024, 1}, Shape{8, 4096, 1}, Shape{1, 32768, 1},
                         Shape{1, 8192, 8192}, Shape{8, 1024, 1024}}) {
    const int64_t pages_per_seq = (sh.ctx + kPage - 1) / kPage;
    const int64_t pages = sh.seqs * pages_per_seq, n = sh.seqs * sh.news;
    Buf<__nv_bfloat16> kp(pages * kPage * kHkv * kHd), vp(pages * kPage * kHkv * kHd);
    Buf<__nv_bfloat16> q(n * kHq * 2 * kHd), out(n * kHq * kHd), knew(n * kHkv * kHd);
    FillRandom(kp, -1.0f, 1.0f, 21);
    FillRandom(vp, -1.0f, 1.0f, 22);
    FillRandom(q, -1.0f, 1.0f, 23);
    FillRandom(knew, -1.0f, 1.0f, 24);
    std::vector<int32_t> hcu(sh.seqs + 1), hcached(sh.seqs), hbt(pages);
    for (int64_t s = 0; s <= sh.seqs; ++s) hcu[s] = static_cast<int32_t>(s * sh.news);
    for (int64_t s = 0; s < sh.seqs; ++s) hcached[s] = static_cast<int32_t>(sh.ctx - sh.news);
    for (int64_t i = 0; i < pages; ++i) hbt[i] = static_cast<int32_t>((i * 7919) % pages);
    Buf<int32_t> cu(sh.seqs + 1), cached(sh.seqs), bt(pages);
    cudaMemcpy(cu.p, hcu.data(), hcu.size() * 4, cudaMemcpyHostToDevice);
    cudaMemcpy(cached.p, hcached.data(), hcached.size() * 4, cudaMemcpyHostToDevice);
    cudaMemcpy(bt.p, hbt.data(), hbt.size() * 4, cudaMemcpyHostToDevice);
    const PagedAttentionParams p{.num_tokens = n,
                                 .num_seqs = sh.seqs,
                                 .max_query_len = sh.news,
                                 .num_heads_q = kHq,
                                 .num_heads_kv = kHkv,
                                 .head_dim = kHd,
                                 .page_size = kPage,
                                 .block_table_stride = pages_per_seq,
                                 .q_stride = kHq * 2 * kHd,
                                 .q_head_stride = 2 * kHd,
                                 .out_stride = kHq * kHd,
                                 .scale = 0.0625f};
    // Fewest bytes: the K/V of every sequence's context once (plus q and out); FLOPs: q.k and p.v
    // over the causal triangle.
    const double kv_bytes = 2.0 * 2 * sh.seqs * sh.ctx * kHkv * kHd;
    const double pairs = sh.news == 1
                             ? static_cast<double>(sh.seqs) * sh.ctx
                             : sh.seqs * (sh.news * (sh.news + 1) / 2.0 +
                                          static_cast<double>(sh.news) * (sh.ctx - sh.news));
    const std::string tag = std::to_string(sh.seqs) + " seqs x ctx " + std::to_string(sh.ctx) +
                            (sh.news == 1 ? "" : " (new " + std::to_string(sh.news) + ")");
    Run(std::string(sh.news == 1 ? "paged decode " : "paged prefill ") + tag,
        kv_bytes + 2.0 * 3 * n * kHq * kHd, 4.0 * pairs * kHq * kHd,
        [&] { return PagedAttention(q.p, kp.p, vp.p, cu.p, cached.p, bt.p, out.p, p, nullptr); });
    if (sh.news > 1) {
      Run("paged KV append " + std::to_string(n) + " tokens", 2.0 * 2 * 2 * n * kHkv * kHd, 0.0,
          [&] {
            return PagedKvAppend(knew.p, knew.p, cu.p, cached.p, bt.p, kp.p, vp.p,
                                 {.num_tokens = n,
                                  .num_seqs = sh.seqs,
                                  .num_heads_kv = kHkv,
                                  .head_dim = kHd,
                                  .page_size = kPage,
                                  .block_table_stride = pages_per_seq,
                                  .k_stride = kHkv * kHd,
                                  .v_stride = kHkv * kHd},
                                 nullptr);
          });
    }
  }
}

// Sampling over 64 rows of the 248320-token vocabulary.
void BenchSampling() {
  constexpr int64_t kRows = 64, kVocab = 248320;
  Buf<float> logits(kRows * kVocab);
  FillRandom(logits, -8.0f, 12.0f, 31);
  Buf<int32_t> tokens(kRows), top_tokens(kRows * 20);
  Buf<float> logprobs(kRows), top_logprobs(kRows * 20);
  Buf<SamplingRowParams> rows(kRows);
  struct Cfg {
    const char* name;
    double temperature, top_p;
    int64_t top_k;
    int64_t num_top;
  };
  for (const Cfg c : {Cfg{"greedy", 0.0, 1.0, 0, 0}, Cfg{"top_k 20, top_p 0.95", 1.0, 0.95, 20, 0},
                      Cfg{"top_k 20, top_p 0.95 + top-20 logprobs", 1.0, 0.95, 20, 20},
                      Cfg{"top_p 0.9 (no top_k)", 0.7, 0.9, 0, 0},
                      Cfg{"top_k 100, top_p 0.9", 1.0, 0.9, 100, 0}}) {
    std::vector<SamplingRowParams> h(kRows);
    for (int64_t i = 0; i < kRows; ++i) {
      h[i].temperature = c.temperature;
      h[i].top_p = c.top_p;
      h[i].top_k = c.top_k;
      h[i].seed = 17 + i;
      h[i].step = 3;
    }
    cudaMemcpy(rows.p, h.data(), h.size() * sizeof(SamplingRowParams), cudaMemcpyHostToDevice);
    const SampleOutputs out{.tokens = tokens.p,
                            .logprobs = logprobs.p,
                            .top_tokens = c.num_top > 0 ? top_tokens.p : nullptr,
                            .top_logprobs = c.num_top > 0 ? top_logprobs.p : nullptr};
    Run(std::string("sample V=248320 x 64 rows, ") + c.name, 4.0 * kRows * kVocab, 0.0, [&] {
      return SampleTokens(logits.p, rows.p, {}, out,
                          {.num_rows = kRows,
                           .vocab_size = kVocab,
                           .logits_stride = kVocab,
                           .num_top_logprobs = c.num_top},
                          nullptr);
    });
  }
}

// Vision encoder at 9B shapes (Hvis 1152, 16 heads of 72, MLP 4304), 16384 patches.
void BenchVision() {
  constexpr int64_t kN = 16384, kHv = 1152, kIv = 4304, kHeads = 16, kHdv = 72;
  Buf<__nv_bfloat16> x(kN * kHv), y(kN * kHv), w(kHv), b(kHv), act(kN * kIv), bias(kIv);
  Buf<__nv_bfloat16> qkv(kN * 3 * kHv), attn(kN * kHv);
  FillRandom(x, -2.0f, 2.0f, 41);
  FillRandom(w, 0.5f, 1.5f, 42);
  FillRandom(b, -0.1f, 0.1f, 43);
  FillRandom(act, -3.0f, 3.0f, 44);
  FillRandom(bias, -0.1f, 0.1f, 45);
  FillRandom(qkv, -1.0f, 1.0f, 46);
  Run("vision LayerNorm 16384 x 1152", 2.0 * 2 * kN * kHv, 0.0, [&] {
    return LayerNorm(x.p, w.p, b.p, y.p, {.rows = kN, .dim = kHv, .x_stride = kHv, .y_stride = kHv},
                     nullptr);
  });
  Run("vision bias + GELU(tanh) 16384 x 4304, in place", 2.0 * 2 * kN * kIv, 0.0, [&] {
    return BiasGelu(act.p, bias.p, act.p,
                    {.rows = kN, .cols = kIv, .x_stride = kIv, .out_stride = kIv}, nullptr);
  });
  // Four images of 64 x 64 patches: segments of 4096 tokens.
  std::vector<int32_t> hcu = {0, 4096, 8192, 12288, 16384};
  Buf<int32_t> cu(hcu.size());
  cudaMemcpy(cu.p, hcu.data(), hcu.size() * 4, cudaMemcpyHostToDevice);
  auto segments = [&](const std::string& name, const int32_t* cu_seqlens, int64_t num_segments,
                      double flops) {
    for (const SegmentAttentionKernel kernel :
         {SegmentAttentionKernel::kAuto, SegmentAttentionKernel::kMmaSync}) {
      Run(name + " (" + SegmentAttentionKernelName(kernel) + ")", 2.0 * 4 * kN * kHv, flops, [&] {
        return SegmentAttention(qkv.p, qkv.p + kHv, qkv.p + 2 * kHv, cu_seqlens, attn.p,
                                {.num_tokens = kN,
                                 .num_segments = num_segments,
                                 .num_heads = kHeads,
                                 .head_dim = kHdv,
                                 .q_stride = 3 * kHv,
                                 .kv_stride = 3 * kHv,
                                 .out_stride = kHv,
                                 .scale = 0.11785113f,
                                 .kernel = kernel},
                                nullptr);
      });
    }
  };
  segments("vision segment attention 4 x 4096 tokens, 16 x 72", cu.p, 4,
           4.0 * 4 * 4096.0 * 4096.0 * kHeads * kHdv);
  // One 2048 x 2048 image: a single segment of 16384 tokens (4x the FLOPs of the row above).
  std::vector<int32_t> hcu1 = {0, 16384};
  Buf<int32_t> cu1(hcu1.size());
  cudaMemcpy(cu1.p, hcu1.data(), hcu1.size() * 4, cudaMemcpyHostToDevice);
  segments("vision segment attention 1 x 16384 tokens, 16 x 72", cu1.p, 1,
           4.0 * 16384.0 * 16384.0 * kHeads * kHdv);
  std::unique_ptr<CublasLt> ctx;
  BENCH_CHECK(CublasLt::Create(32 << 20, &ctx));
  Buf<__nv_bfloat16> w1(kIv * kHv);
  FillRandom(w1, -0.05f, 0.05f, 47);
  for (const bool with_bias : {false, true}) {
    Run(std::string("Gemm bf16 m=16384 n=4304 k=1152") + (with_bias ? " + bias" : ""),
        2.0 * (kN * kHv + kIv * kHv + kN * kIv), 2.0 * kN * kIv * kHv, [&] {
          return Gemm(*ctx, x.p, w1.p, with_bias ? bias.p : nullptr, act.p,
                      {.m = kN, .n = kIv, .k = kHv}, nullptr);
        });
  }
}

// The vision block's fused element-wise kernels against the unfused launches they replace, on
// fp32 GEMM products at 9B shapes, 16384 patches.
void BenchVisionFused() {
  constexpr int64_t kN = 16384, kHv = 1152, kHeads = 16, kHdv = 72, kQkv = 3 * kHv;
  Buf<float> acc(kN * kQkv);
  Buf<__nv_bfloat16> residual(kN * kHv), normed(kN * kHv), t(kN * kQkv), w(kHv), b(kHv);
  Buf<__nv_bfloat16> bias(kQkv);
  Buf<int32_t> rows(kN), cols(kN);
  FillRandom(acc, -2.0f, 2.0f, 51);
  FillRandom(residual, -4.0f, 4.0f, 52);
  FillRandom(w, 0.5f, 1.5f, 53);
  FillRandom(b, -0.1f, 0.1f, 54);
  FillRandom(bias, -0.1f, 0.1f, 55);
  FillRandom(rows, 0.0f, 64.0f, 56);
  FillRandom(cols, 0.0f, 64.0f, 57);
  const BiasResidualLayerNormParams ln{.rows = kN,
                                       .dim = kHv,
                                       .acc_stride = kHv,
                                       .residual_stride = kHv,
                                       .normed_stride = kHv,
                                       .eps = 1e-6f};
  // fp32 product read once, the residual read and written, normed written.
  const double ln_bytes = 4.0 * kN * kHv + 3 * 2.0 * kN * kHv;
  Run("vision bias + residual + LayerNorm 16384 x 1152", ln_bytes, 0.0, [&] {
    return BiasResidualLayerNorm(acc.p, bias.p, residual.p, w.p, b.p, normed.p, ln, nullptr);
  });
  Run("  unfused: bias convert, Add, LayerNorm", ln_bytes, 0.0, [&] {
    cudaError_t err = detail::BiasConvertBf16(acc.p, bias.p, t.p, kN, kHv, kHv, nullptr);
    if (err == cudaSuccess) err = Add(residual.p, t.p, residual.p, kN * kHv, nullptr);
    if (err != cudaSuccess) return err;
    return LayerNorm(residual.p, w.p, b.p, normed.p,
                     {.rows = kN, .dim = kHv, .x_stride = kHv, .y_stride = kHv}, nullptr);
  });
  const BiasVisionRopeParams rope{.num_tokens = kN,
                                  .num_heads = 2 * kHeads,
                                  .head_dim = kHdv,
                                  .dim = kQkv,
                                  .acc_stride = kQkv,
                                  .out_stride = kQkv,
                                  .theta = 10000.0};
  const double rope_bytes = (4.0 + 2.0) * kN * kQkv;
  Run("vision qkv bias + RoPE 16384 x 3456", rope_bytes, 0.0,
      [&] { return BiasVisionRope(acc.p, bias.p, t.p, rows.p, cols.p, rope, nullptr); });
  Run("  unfused: bias convert, ApplyVisionRope", rope_bytes, 0.0, [&] {
    const cudaError_t err = detail::BiasConvertBf16(acc.p, bias.p, t.p, kN, kQkv, kQkv, nullptr);
    if (err != cudaSuccess) return err;
    return ApplyVisionRope(t.p, rows.p, cols.p,
                           {.num_tokens = kN,
                            .num_heads = 2 * kHeads,
                            .head_dim = kHdv,
                            .token_stride = kQkv,
                            .head_stride = kHdv,
                            .theta = 10000.0},
                           nullptr);
  });
}

}  // namespace
}  // namespace qwen::kernels::cuda

int main() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    std::printf("kernels_bench: no CUDA device, nothing to time\n");
    return 0;
  }
  cudaDeviceProp prop{};
  cudaGetDeviceProperties(&prop, 0);
  std::printf("kernels_bench on %s (sm_%d%d, %d SMs)\n", prop.name, prop.major, prop.minor,
              prop.multiProcessorCount);
  qwen::kernels::cuda::BenchGdn();
  qwen::kernels::cuda::BenchNormsAndGemm();
  qwen::kernels::cuda::BenchAttention();
  qwen::kernels::cuda::BenchSampling();
  qwen::kernels::cuda::BenchVision();
  qwen::kernels::cuda::BenchVisionFused();
  std::printf("kernels_bench: %d failures\n", qwen::kernels::cuda::g_failures);
  return qwen::kernels::cuda::g_failures == 0 ? 0 : 1;
}
