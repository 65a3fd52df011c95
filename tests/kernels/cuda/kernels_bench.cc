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
#include "kernels/cuda/elementwise.h"
#include "kernels/cuda/gated_delta_rule.h"
#include "kernels/cuda/gemm.h"
#include "kernels/cuda/rms_norm.h"

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
  const std::vector<std::pair<int64_t, int64_t>> batches = {{1, 8192}, {8, 512}, {64, 1}};
  for (const auto& [seqs, len] : batches) {
    const int64_t n = seqs * len;
    Buf<float> conv(n * kConv), g(n * kHv), beta(n * kHv), out(n * kHv * kD);
    Buf<float> pool((seqs + 1) * kHv * kD * kD);
    Buf<int32_t> cu(seqs + 1), slots(seqs);
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
        // ~ per token and head: K S, Q S, S update (3 x 2 Dk Dv) + the intra-chunk products.
        const double flops = 2.0 * n * kHv * (3.0 * kD * kD + 2.0 * 64 * kD);
        Run("chunked prefill S=" + std::to_string(seqs) + " T=" + std::to_string(len) + tag, bytes,
            flops, [&] {
              return GatedDeltaRuleChunkedVarlen(q, k, v, g.p, beta.p, cu.p, slots.p, nullptr,
                                                 pool.p, out.p,
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
  for (const int64_t m : {int64_t{8192}, int64_t{64}, int64_t{1}}) {
    const double flops = 2.0 * m * kI * kH;
    const double bytes = 2.0 * (m * kH + kI * kH + m * kI);
    Run("Gemm bf16 m=" + std::to_string(m) + " n=12288 k=4096", bytes, flops,
        [&] { return Gemm(*ctx, x.p, wg.p, nullptr, yg.p, {.m = m, .n = kI, .k = kH}, nullptr); });
  }
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
  std::printf("kernels_bench: %d failures\n", qwen::kernels::cuda::g_failures);
  return qwen::kernels::cuda::g_failures == 0 ? 0 : 1;
}
