// Gated DeltaNet CUDA kernels (conv1d, gates, chunked prefill, recurrent decode) against the CPU
// references over varlen batches with scattered state slots, both variants (default and the GB10
// one forced on this GPU), and the variant dispatcher.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <iostream>
#include <ostream>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/conv1d.h"
#include "kernels/cuda/conv1d.h"
#include "kernels/cuda/gated_delta_rule.h"
#include "kernels/cuda/gdn_variant.h"
#include "kernels/gated_delta_rule.h"
#include "tests/kernels/cuda/cuda_test_util.h"
#include "tests/kernels/cuda/gdn_test_data.h"
#include "tests/kernels/test_util.h"

namespace qwen::kernels::cuda {
namespace {

using ::qwen::kernels::testing::Bf16;
using ::qwen::kernels::testing::CudaTest;
using ::qwen::kernels::testing::CudaTestWithParam;
using ::qwen::kernels::testing::CuSeqlens;
using ::qwen::kernels::testing::DeviceBuffer;
using ::qwen::kernels::testing::ElementwiseClose;
using ::qwen::kernels::testing::GdrBatch;
using ::qwen::kernels::testing::MakeGdrBatch;
using ::qwen::kernels::testing::MixedInitialFlags;
using ::qwen::kernels::testing::Normal;
using ::qwen::kernels::testing::NormwiseClose;
using ::qwen::kernels::testing::RoundedBf16;
using ::qwen::kernels::testing::ScatteredSlots;
using ::qwen::kernels::testing::ToBf16;
using ::qwen::kernels::testing::Uniform;

constexpr GdnVariant kVariants[] = {GdnVariant::kDefault, GdnVariant::kGb10};

// ---------------------------------------------------------------------------------------------
// Dispatcher

TEST(GdnVariantTest, RuleAndNames) {  // no GPU needed
  EXPECT_EQ(GdnVariantForComputeCapability(12, 1), GdnVariant::kGb10);
  EXPECT_EQ(GdnVariantForComputeCapability(9, 0), GdnVariant::kDefault);
  EXPECT_EQ(GdnVariantForComputeCapability(12, 0), GdnVariant::kDefault);
  EXPECT_EQ(GdnVariantForComputeCapability(10, 0), GdnVariant::kDefault);
  EXPECT_STREQ(GdnVariantName(GdnVariant::kGb10), "gb10");
  EXPECT_STREQ(GdnVariantName(GdnVariant::kDefault), "default");
  EXPECT_STREQ(GdnVariantName(GdnVariant::kAuto), "auto");
  GdnVariant v = GdnVariant::kAuto;
  EXPECT_EQ(SelectGdnVariant(0, GdnVariant::kGb10, &v), cudaSuccess);  // forced: no device query
  EXPECT_EQ(v, GdnVariant::kGb10);
  EXPECT_EQ(SelectGdnVariant(0, static_cast<GdnVariant>(7), &v), cudaErrorInvalidValue);
  EXPECT_EQ(SelectGdnVariant(0, GdnVariant::kAuto, nullptr), cudaErrorInvalidValue);
  // Both variants fit GB10's ~99 KB per block at Dk = 128 and 256.
  EXPECT_LE(GatedDeltaRuleChunkedSharedBytes(GdnVariant::kGb10, 256), 99 * 1024);
  EXPECT_EQ(GatedDeltaRuleChunkedSharedBytes(GdnVariant::kAuto, 128), 0);
  // Both fit Hopper's 227 KB at every supported Dk.
  EXPECT_LE(GatedDeltaRuleChunkedSharedBytes(GdnVariant::kDefault, 256), 227 * 1024);
  // Chunked workspace: (2 chunk rows of T and P + 4 scalars) floats per token and value head,
  // whatever the variant; kAuto covers both.
  for (const GdnVariant v : {GdnVariant::kAuto, GdnVariant::kDefault, GdnVariant::kGb10}) {
    EXPECT_EQ(GatedDeltaRuleChunkedWorkspaceBytes(
                  {.num_tokens = 2048, .num_heads_k = 16, .num_heads_v = 32, .variant = v}),
              int64_t{2048} * 32 * (2 * 32 + 4) * 4)
        << GdnVariantName(v);
  }
  EXPECT_EQ(GatedDeltaRuleChunkedWorkspaceBytes({.num_tokens = 0, .num_heads_v = 32}), 0);
}

TEST_F(CudaTest, AutoVariantFollowsComputeCapability) {
  int major = 0, minor = 0;
  ASSERT_EQ(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, 0), cudaSuccess);
  ASSERT_EQ(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, 0), cudaSuccess);
  GdnVariant v = GdnVariant::kAuto;
  ASSERT_EQ(SelectGdnVariant(0, GdnVariant::kAuto, &v), cudaSuccess);
  EXPECT_EQ(v, GdnVariantForComputeCapability(major, minor));
  std::cout << "[          ] device sm_" << major << minor << ": GDN variant '" << GdnVariantName(v)
            << "'" << std::endl;
}

// ---------------------------------------------------------------------------------------------
// Gates

TEST_F(CudaTest, GatesMatchCpu) {
  const int64_t tokens = 111, hv = 6, a_stride = 11, b_stride = 8;
  std::vector<float> a = RoundedBf16(Normal(tokens * a_stride, 1, 3.0f));
  std::vector<float> b = RoundedBf16(Normal(tokens * b_stride, 2, 3.0f));
  a[0] = 100.0f;  // softplus threshold
  a[1] = 20.5f;
  b[0] = -100.0f;
  const std::vector<float> a_log = Uniform(hv, 3, 0.0f, 2.8f);
  const std::vector<float> dt_bias = Uniform(hv, 4, -5.0f, 1.0f);
  std::vector<float> g_ref(tokens * hv), beta_ref(tokens * hv);
  cpu::GatedDeltaGates(a.data(), b.data(), a_log.data(), dt_bias.data(), g_ref.data(),
                       beta_ref.data(), tokens, hv, a_stride, b_stride);
  DeviceBuffer<Bf16> da(ToBf16(a)), db(ToBf16(b));
  DeviceBuffer<float> dalog(a_log), ddt(dt_bias), dg(tokens * hv), dbeta(tokens * hv);
  dg.Poison();
  dbeta.Poison();
  ASSERT_EQ(
      GatedDeltaGates(
          da.get(), db.get(), dalog.get(), ddt.get(), dg.get(), dbeta.get(),
          {.num_tokens = tokens, .num_heads_v = hv, .a_stride = a_stride, .b_stride = b_stride},
          nullptr),
      cudaSuccess);
  // expf / log1pf of CUDA vs the host libm: a few ulp.
  EXPECT_TRUE(ElementwiseClose(dg.Download(), g_ref, 1e-5, 1e-30));
  EXPECT_TRUE(ElementwiseClose(dbeta.Download(), beta_ref, 1e-5, 1e-30));
}

// ---------------------------------------------------------------------------------------------
// Causal conv1d

struct ConvBatch {
  std::vector<int64_t> lengths;
  int64_t channels = 0, kernel = 0, u_stride = 0, tokens = 0, num_slots = 0;
  std::vector<float> u, w, pool0;
  std::vector<int32_t> cu, slots, has_init;
};

ConvBatch MakeConvBatch(std::vector<int64_t> lengths, int64_t channels, int64_t kernel,
                        int64_t u_stride, uint32_t seed) {
  ConvBatch c;
  c.lengths = std::move(lengths);
  c.channels = channels;
  c.kernel = kernel;
  c.u_stride = u_stride;
  for (int64_t n : c.lengths) c.tokens += n;
  c.u = RoundedBf16(Normal(std::max<int64_t>(c.tokens, 1) * u_stride, seed, 2.0f));
  c.w = RoundedBf16(Normal(channels * kernel, seed + 1, 0.7f));
  c.cu = CuSeqlens(c.lengths);
  c.slots = ScatteredSlots(c.lengths.size());
  c.has_init = MixedInitialFlags(c.lengths.size());
  c.num_slots = 2 * static_cast<int64_t>(c.lengths.size()) + 1;
  c.pool0 = Normal(c.num_slots * (kernel - 1) * channels, seed + 2, 2.0f);
  return c;
}

void CpuConvBatch(const ConvBatch& c, std::vector<float>& pool, std::vector<float>& out) {
  const int64_t hist = c.kernel - 1;
  pool = c.pool0;
  out.assign(c.tokens * c.channels, 0.0f);
  for (size_t s = 0; s < c.lengths.size(); ++s) {
    float* st = pool.data() + c.slots[s] * hist * c.channels;
    if (!c.has_init[s]) std::fill(st, st + hist * c.channels, 0.0f);
    cpu::CausalConv1dSilu(c.u.data() + c.cu[s] * c.u_stride, c.w.data(), st,
                          out.data() + c.cu[s] * c.channels,
                          {.num_tokens = c.lengths[s],
                           .channels = c.channels,
                           .kernel = c.kernel,
                           .u_stride = c.u_stride});
  }
}

void GpuConvBatch(const ConvBatch& c, GdnVariant variant, std::vector<float>& pool,
                  std::vector<float>& out) {
  DeviceBuffer<Bf16> du(ToBf16(c.u)), dw(ToBf16(c.w));
  DeviceBuffer<int32_t> dcu(c.cu), dslots(c.slots), dinit(c.has_init);
  DeviceBuffer<float> dpool(c.pool0), dout(c.tokens * c.channels);
  dout.Poison();
  ASSERT_EQ(CausalConv1dSiluVarlen(du.get(), dw.get(), dcu.get(), dslots.get(), dinit.get(),
                                   dpool.get(), dout.get(),
                                   {.num_tokens = c.tokens,
                                    .num_seqs = static_cast<int64_t>(c.lengths.size()),
                                    .channels = c.channels,
                                    .kernel = c.kernel,
                                    .u_stride = c.u_stride,
                                    .out_stride = c.channels,
                                    .variant = variant},
                                   nullptr),
            cudaSuccess);
  pool = dpool.Download();
  out = dout.Download();
}

using ConvCase = std::tuple<std::vector<int64_t>, int64_t /*C*/, int64_t /*Kc*/>;
class ConvVarlenTest : public CudaTestWithParam<ConvCase> {};

TEST_P(ConvVarlenTest, MatchesCpuPerSequenceAndVariantsAgree) {
  const auto& [lengths, channels, kernel] = GetParam();
  const ConvBatch c = MakeConvBatch(lengths, channels, kernel, channels + 8, 5);
  std::vector<float> ref_pool, ref_out;
  CpuConvBatch(c, ref_pool, ref_out);
  std::vector<float> pool_d, out_d;
  for (const GdnVariant v : kVariants) {
    std::vector<float> pool, out;
    GpuConvBatch(c, v, pool, out);
    const std::string name = GdnVariantName(v);
    // Kc products and a silu in fp32 (FMA contraction and expf ulps aside, identical operations).
    EXPECT_TRUE(ElementwiseClose(out, ref_out, 1e-5, 1e-6)) << name;
    EXPECT_EQ(pool, ref_pool) << name << ": the conv state holds copies of the inputs";
    if (v == GdnVariant::kDefault) {
      pool_d = pool;
      out_d = out;
    } else {
      EXPECT_TRUE(ElementwiseClose(out, out_d, 1e-6, 1e-7)) << "gb10 vs default";
      EXPECT_EQ(pool, pool_d);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, ConvVarlenTest,
                         ::testing::Values(ConvCase{{1, 63, 64, 65, 130}, 2 * 2 * 32 + 3 * 48, 4},
                                           ConvCase{{19, 0, 2, 111}, 37, 4}, ConvCase{{1}, 8192, 4},
                                           ConvCase{{3, 1, 2}, 130, 3}, ConvCase{{5, 7}, 65, 1}));

TEST_F(CudaTest, ConvDecodeStepsMatchCpu) {
  const int64_t seqs = 5, channels = 2 * 16 * 128 + 32 * 128, kernel = 4, steps = 4;
  const std::vector<int32_t> slots = ScatteredSlots(seqs);
  const int64_t num_slots = 2 * seqs + 1;
  const std::vector<float> pool0 = Normal(num_slots * (kernel - 1) * channels, 3, 2.0f);
  const std::vector<float> w = RoundedBf16(Normal(channels * kernel, 4, 0.7f));
  for (const GdnVariant v : kVariants) {
    std::vector<float> pool_ref = pool0;
    DeviceBuffer<float> dpool(pool0), dout(seqs * channels);
    DeviceBuffer<Bf16> dw(ToBf16(w));
    DeviceBuffer<int32_t> dslots(slots);
    for (int64_t step = 0; step < steps; ++step) {
      const std::vector<float> u = RoundedBf16(Normal(seqs * channels, 10 + step, 2.0f));
      std::vector<float> ref(seqs * channels);
      for (int64_t s = 0; s < seqs; ++s) {
        cpu::CausalConv1dSilu(
            u.data() + s * channels, w.data(), pool_ref.data() + slots[s] * (kernel - 1) * channels,
            ref.data() + s * channels,
            {.num_tokens = 1, .channels = channels, .kernel = kernel, .u_stride = channels});
      }
      DeviceBuffer<Bf16> du(ToBf16(u));
      dout.Poison();
      ASSERT_EQ(CausalConv1dSiluUpdate(du.get(), dw.get(), dslots.get(), dpool.get(), dout.get(),
                                       {.num_seqs = seqs,
                                        .channels = channels,
                                        .kernel = kernel,
                                        .u_stride = channels,
                                        .out_stride = channels,
                                        .variant = v},
                                       nullptr),
                cudaSuccess);
      EXPECT_TRUE(ElementwiseClose(dout.Download(), ref, 1e-5, 1e-6)) << "step " << step;
      EXPECT_EQ(dpool.Download(), pool_ref) << "step " << step;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Gated delta rule

struct GpuGdrResult {
  std::vector<float> pool, out;
};

// Workspace of the chunked prefill for `tokens` rows, NaN-poisoned (its contents on entry must
// not matter, and a read of anything the prep did not write shows up as NaN).
DeviceBuffer<float> ChunkedWorkspace(const GdrBatch& b, GdnVariant variant, int64_t tokens) {
  const int64_t bytes = GatedDeltaRuleChunkedWorkspaceBytes(
      {.num_tokens = tokens, .num_heads_k = b.hk, .num_heads_v = b.hv, .variant = variant});
  DeviceBuffer<float> ws(static_cast<size_t>(std::max<int64_t>(bytes / 4, 1)));
  ws.Poison();
  return ws;
}

GatedDeltaRuleVarlenParams ChunkedParams(const GdrBatch& b, GdnVariant variant) {
  return {.num_tokens = b.tokens,
          .num_seqs = static_cast<int64_t>(b.lengths.size()),
          .num_heads_k = b.hk,
          .num_heads_v = b.hv,
          .head_dim_k = b.dk,
          .head_dim_v = b.dv,
          .qk_stride = b.conv_dim,
          .v_stride = b.conv_dim,
          .out_stride = b.hv * b.dv,
          .variant = variant};
}

GpuGdrResult RunChunked(const GdrBatch& b, GdnVariant variant, bool use_init_flags = true) {
  GpuGdrResult r;
  DeviceBuffer<float> dconv(b.conv), dg(b.g), dbeta(b.beta), dpool(b.pool0);
  DeviceBuffer<float> dout(std::max<int64_t>(b.tokens, 1) * b.hv * b.dv);
  DeviceBuffer<int32_t> dcu(b.cu), dslots(b.slots), dinit(b.has_init);
  // Sized for twice the rows, as the model's workspace (sized for max_batched_tokens) is.
  DeviceBuffer<float> ws = ChunkedWorkspace(b, variant, 2 * b.tokens);
  dout.Poison();
  const float* q = dconv.get();
  const cudaError_t err = GatedDeltaRuleChunkedVarlen(
      q, q + b.hk * b.dk, q + 2 * b.hk * b.dk, dg.get(), dbeta.get(), dcu.get(), dslots.get(),
      use_init_flags ? dinit.get() : nullptr, dpool.get(), dout.get(), ws.get(),
      ChunkedParams(b, variant), nullptr);
  EXPECT_EQ(err, cudaSuccess) << cudaGetErrorString(err);
  r.pool = dpool.Download();
  r.out = dout.Download();
  r.out.resize(b.tokens * b.hv * b.dv);
  return r;
}

struct GdrCase {
  std::vector<int64_t> lengths;
  int64_t hk, hv, dk, dv;
  float decay_scale;
};
void PrintTo(const GdrCase& c, std::ostream* os) {
  *os << "lens";
  for (int64_t n : c.lengths) *os << "_" << n;
  *os << "_Hk" << c.hk << "_Hv" << c.hv << "_Dk" << c.dk << "_Dv" << c.dv << "_decay"
      << c.decay_scale;
}
class GdrChunkedTest : public CudaTestWithParam<GdrCase> {};

// Tolerances (norm-wise, relative to max |ref|): 1e-5 against the CPU chunked form with the
// kernels' chunk of 32 (same algorithm up to regrouping and summation order; observed ~3e-7 in
// the CPU emulation), 1e-4 against the CPU recurrent form (the bound of
// tests/kernels/gated_delta_rule_test.cc), and 1e-5 between the two GPU variants (same chunk,
// different tiles: fp32 contraction differences only).
TEST_P(GdrChunkedTest, MatchesCpuAndVariantsAgree) {
  const GdrCase c = GetParam();
  const GdrBatch b = MakeGdrBatch(c.lengths, c.hk, c.hv, c.dk, c.dv, 11, c.decay_scale);
  std::vector<float> pool_c, out_c, pool_r, out_r;
  CpuGdr(b, 32, pool_c, out_c);
  CpuGdr(b, 0, pool_r, out_r);
  GpuGdrResult by_variant[2];
  for (int vi = 0; vi < 2; ++vi) {
    const GdnVariant v = kVariants[vi];
    const std::string name = GdnVariantName(v);
    by_variant[vi] = RunChunked(b, v);
    const GpuGdrResult& r = by_variant[vi];
    EXPECT_TRUE(NormwiseClose(r.out, out_c, 1e-5)) << name << " out vs CPU chunked";
    EXPECT_TRUE(NormwiseClose(r.pool, pool_c, 1e-5)) << name << " state vs CPU chunked";
    EXPECT_TRUE(NormwiseClose(r.out, out_r, 1e-4)) << name << " out vs CPU recurrent";
    EXPECT_TRUE(NormwiseClose(r.pool, pool_r, 1e-4)) << name << " state vs CPU recurrent";
    for (int64_t slot = 0; slot < b.num_slots; slot += 2) {  // slots outside the batch
      for (int64_t i = 0; i < b.state_elems(); ++i) {
        ASSERT_EQ(r.pool[slot * b.state_elems() + i], b.pool0[slot * b.state_elems() + i])
            << name << ": slot " << slot << " is not in the batch";
      }
    }
  }
  EXPECT_TRUE(NormwiseClose(by_variant[1].out, by_variant[0].out, 1e-5)) << "gb10 vs default";
  EXPECT_TRUE(NormwiseClose(by_variant[1].pool, by_variant[0].pool, 1e-5)) << "gb10 vs default";
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, GdrChunkedTest,
    ::testing::Values(GdrCase{{1, 63, 64, 65, 130}, 1, 1, 128, 128, 1.0f},
                      GdrCase{{1, 63, 64, 65, 130}, 1, 2, 32, 48, 1.0f},
                      GdrCase{{19, 0, 111, 1}, 1, 3, 64, 32, 1.0f},
                      GdrCase{{65, 2}, 2, 4, 256, 128, 1.0f},
                      GdrCase{{130, 64}, 2, 2, 128, 256, 1.0f},
                      GdrCase{{150, 5}, 1, 2, 128, 128, 10.0f},  // e^γ underflows in a chunk
                      GdrCase{{111}, 3, 3, 24, 40, 1.0f},
                      // Short sequences (several chunks per prep tile), lengths 0 and 1, Hv/Hk = 5
                      // (two solve batches).
                      GdrCase{{3, 0, 1, 7, 2, 33, 31, 1, 0}, 1, 5, 8, 20, 1.0f},
                      // Rows not 16-byte aligned, odd Dv: the element-wise copies and stores.
                      GdrCase{{37, 70}, 1, 1, 20, 13, 1.0f},
                      // Long sequences at the 9B head dims (many chunks through both buffers).
                      GdrCase{{700, 5, 64}, 2, 4, 128, 128, 1.0f}));

TEST_F(CudaTest, ChunkedWithoutInitialStateFlagsReadsEverySlot) {
  const GdrBatch b = MakeGdrBatch({63, 65, 1}, 1, 2, 32, 32, 13, 1.0f, /*mixed_initial=*/false);
  std::vector<float> pool_c, out_c;
  CpuGdr(b, 32, pool_c, out_c);
  const GpuGdrResult r = RunChunked(b, GdnVariant::kAuto, /*use_init_flags=*/false);
  EXPECT_TRUE(NormwiseClose(r.out, out_c, 1e-5));
  EXPECT_TRUE(NormwiseClose(r.pool, pool_c, 1e-5));
}

// The chunked prefill captured in a CUDA graph (no allocation, no synchronisation inside) and
// replayed gives the direct launch's results bit for bit, whatever the workspace held before.
TEST_F(CudaTest, ChunkedPrefillCapturesInAGraph) {
  const GdrBatch b = MakeGdrBatch({100, 1, 64, 0, 33}, 2, 4, 64, 64, 19, 1.0f);
  for (const GdnVariant v : kVariants) {
    const GpuGdrResult direct = RunChunked(b, v);
    DeviceBuffer<float> dconv(b.conv), dg(b.g), dbeta(b.beta), dpool(b.pool0);
    DeviceBuffer<float> dout(b.tokens * b.hv * b.dv);
    DeviceBuffer<int32_t> dcu(b.cu), dslots(b.slots), dinit(b.has_init);
    DeviceBuffer<float> ws = ChunkedWorkspace(b, v, b.tokens);
    cudaStream_t stream = nullptr;
    ASSERT_EQ(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), cudaSuccess);
    // One launch outside the capture first, as in the model (the capture then records the same
    // two kernels; the launcher's attribute calls are not stream work).
    const float* q = dconv.get();
    auto launch = [&] {
      return GatedDeltaRuleChunkedVarlen(q, q + b.hk * b.dk, q + 2 * b.hk * b.dk, dg.get(),
                                         dbeta.get(), dcu.get(), dslots.get(), dinit.get(),
                                         dpool.get(), dout.get(), ws.get(), ChunkedParams(b, v),
                                         stream);
    };
    ASSERT_EQ(launch(), cudaSuccess);
    ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
    cudaGraph_t graph = nullptr;
    ASSERT_EQ(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal), cudaSuccess);
    const cudaError_t err = launch();
    ASSERT_EQ(cudaStreamEndCapture(stream, &graph), cudaSuccess);
    ASSERT_EQ(err, cudaSuccess) << cudaGetErrorString(err);
    cudaGraphExec_t exec = nullptr;
    ASSERT_EQ(cudaGraphInstantiate(&exec, graph, 0), cudaSuccess);
    for (int replay = 0; replay < 2; ++replay) {
      dpool.Upload(b.pool0);
      dout.Poison();
      ws.Poison(replay == 0 ? 0x7f : 0xff);  // huge finite values, then NaN
      ASSERT_EQ(cudaGraphLaunch(exec, stream), cudaSuccess);
      ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
      EXPECT_EQ(dout.Download(), direct.out) << GdnVariantName(v) << " replay " << replay;
      EXPECT_EQ(dpool.Download(), direct.pool) << GdnVariantName(v) << " replay " << replay;
    }
    cudaGraphExecDestroy(exec);
    cudaGraphDestroy(graph);
    cudaStreamDestroy(stream);
  }
}

// Chunked prefill of a varlen batch, then recurrent decode steps on the GPU, against the CPU
// recurrent form over the whole sequences (MODEL.md 2.7.7: both are exact forms of 2.7.3).
TEST_F(CudaTest, ChunkedPrefillThenDecodeMatchesCpuRecurrent) {
  const std::vector<int64_t> prefill = {130, 1, 64, 65};
  const int64_t decode_steps = 20, hk = 2, hv = 4, dk = 128, dv = 64;
  const size_t seqs = prefill.size();
  std::vector<int64_t> full = prefill;
  for (int64_t& n : full) n += decode_steps;
  // One batch holding every sequence's full token stream; the prefill and each decode step read
  // their rows from it.
  const GdrBatch all = MakeGdrBatch(full, hk, hv, dk, dv, 17, 1.0f, /*mixed_initial=*/false);
  std::vector<float> pool_ref, out_ref;
  CpuGdr(all, 0, pool_ref, out_ref);

  // Gather the prefill rows (first prefill[s] tokens of each sequence) into their own batch.
  GdrBatch pre = all;
  pre.lengths = prefill;
  pre.cu = CuSeqlens(prefill);
  pre.tokens = pre.cu.back();
  pre.conv.assign(pre.tokens * all.conv_dim, 0.0f);
  pre.g.assign(pre.tokens * hv, 0.0f);
  pre.beta.assign(pre.tokens * hv, 0.0f);
  for (size_t s = 0; s < seqs; ++s) {
    for (int64_t t = 0; t < prefill[s]; ++t) {
      const int64_t src = all.cu[s] + t, dst = pre.cu[s] + t;
      std::copy(all.conv.begin() + src * all.conv_dim, all.conv.begin() + (src + 1) * all.conv_dim,
                pre.conv.begin() + dst * all.conv_dim);
      std::copy(all.g.begin() + src * hv, all.g.begin() + (src + 1) * hv, pre.g.begin() + dst * hv);
      std::copy(all.beta.begin() + src * hv, all.beta.begin() + (src + 1) * hv,
                pre.beta.begin() + dst * hv);
    }
  }
  for (const GdnVariant v : kVariants) {
    const GpuGdrResult r = RunChunked(pre, v);
    std::vector<float> out(all.tokens * hv * dv, NAN);
    for (size_t s = 0; s < seqs; ++s) {
      std::copy(r.out.begin() + pre.cu[s] * hv * dv,
                r.out.begin() + (pre.cu[s] + prefill[s]) * hv * dv,
                out.begin() + all.cu[s] * hv * dv);
    }
    DeviceBuffer<float> dpool(r.pool);
    DeviceBuffer<int32_t> dslots(all.slots);
    for (int64_t step = 0; step < decode_steps; ++step) {
      // Row s of the step batch is token prefill[s] + step of sequence s.
      std::vector<float> conv(seqs * all.conv_dim), g(seqs * hv), beta(seqs * hv);
      for (size_t s = 0; s < seqs; ++s) {
        const int64_t src = all.cu[s] + prefill[s] + step;
        std::copy(all.conv.begin() + src * all.conv_dim,
                  all.conv.begin() + (src + 1) * all.conv_dim, conv.begin() + s * all.conv_dim);
        std::copy(all.g.begin() + src * hv, all.g.begin() + (src + 1) * hv, g.begin() + s * hv);
        std::copy(all.beta.begin() + src * hv, all.beta.begin() + (src + 1) * hv,
                  beta.begin() + s * hv);
      }
      DeviceBuffer<float> dconv(conv), dg(g), dbeta(beta), dout(seqs * hv * dv);
      dout.Poison();
      const float* q = dconv.get();
      ASSERT_EQ(GatedDeltaRuleRecurrentDecode(q, q + hk * dk, q + 2 * hk * dk, dg.get(),
                                              dbeta.get(), dslots.get(), dpool.get(), dout.get(),
                                              {.num_seqs = static_cast<int64_t>(seqs),
                                               .num_heads_k = hk,
                                               .num_heads_v = hv,
                                               .head_dim_k = dk,
                                               .head_dim_v = dv,
                                               .qk_stride = all.conv_dim,
                                               .v_stride = all.conv_dim,
                                               .out_stride = hv * dv,
                                               .variant = v},
                                              nullptr),
                cudaSuccess);
      const std::vector<float> o = dout.Download();
      for (size_t s = 0; s < seqs; ++s) {
        std::copy(o.begin() + s * hv * dv, o.begin() + (s + 1) * hv * dv,
                  out.begin() + (all.cu[s] + prefill[s] + step) * hv * dv);
      }
    }
    EXPECT_TRUE(NormwiseClose(out, out_ref, 1e-4)) << GdnVariantName(v);
    EXPECT_TRUE(NormwiseClose(dpool.Download(), pool_ref, 1e-4)) << GdnVariantName(v);
  }
}

TEST_F(CudaTest, RecurrentDecodeStepMatchesCpu) {
  using Shape = std::tuple<int64_t, int64_t, int64_t, int64_t>;  // Hk, Hv, Dk, Dv
  const std::vector<Shape> shapes = {
      {1, 3, 32, 48}, {16, 32, 128, 128}, {2, 2, 256, 128}, {1, 1, 20, 7}};
  for (const auto& [hk, hv, dk, dv] : shapes) {
    const GdrBatch b = MakeGdrBatch(std::vector<int64_t>(5, 1), hk, hv, dk, dv, 23, 1.0f, false);
    std::vector<float> pool_ref, out_ref;
    CpuGdr(b, 0, pool_ref, out_ref);
    for (const GdnVariant v : kVariants) {
      DeviceBuffer<float> dconv(b.conv), dg(b.g), dbeta(b.beta), dpool(b.pool0);
      DeviceBuffer<float> dout(b.tokens * hv * dv);
      DeviceBuffer<int32_t> dslots(b.slots);
      dout.Poison();
      const float* q = dconv.get();
      ASSERT_EQ(GatedDeltaRuleRecurrentDecode(q, q + hk * dk, q + 2 * hk * dk, dg.get(),
                                              dbeta.get(), dslots.get(), dpool.get(), dout.get(),
                                              {.num_seqs = 5,
                                               .num_heads_k = hk,
                                               .num_heads_v = hv,
                                               .head_dim_k = dk,
                                               .head_dim_v = dv,
                                               .qk_stride = b.conv_dim,
                                               .v_stride = b.conv_dim,
                                               .out_stride = hv * dv,
                                               .variant = v},
                                              nullptr),
                cudaSuccess);
      const std::string what = std::string(GdnVariantName(v)) + " Dk=" + std::to_string(dk);
      EXPECT_TRUE(NormwiseClose(dout.Download(), out_ref, 1e-5)) << what;
      EXPECT_TRUE(NormwiseClose(dpool.Download(), pool_ref, 1e-5)) << what;
    }
  }
}

}  // namespace
}  // namespace qwen::kernels::cuda
