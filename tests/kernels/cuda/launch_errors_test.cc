// Every CUDA launcher reports bad launches as error values (never throws, never aborts, leaves no
// sticky CUDA error behind): invalid shapes, strides, null pointers, unsupported head dims and
// unknown variants are rejected before anything is enqueued (cudaErrorInvalidValue), and a
// launch the device cannot run (shared memory beyond its limit) returns cudaErrorNotSupported.
#include <gtest/gtest.h>

#include <memory>

#include "kernels/cuda/conv1d.h"
#include "kernels/cuda/elementwise.h"
#include "kernels/cuda/gated_delta_rule.h"
#include "kernels/cuda/gemm.h"
#include "kernels/cuda/rms_norm.h"
#include "kernels/cuda/rope.h"
#include "tests/kernels/cuda/cuda_test_util.h"

namespace qwen::kernels::cuda {
namespace {

using ::qwen::kernels::testing::Bf16;
using ::qwen::kernels::testing::CudaTest;
using ::qwen::kernels::testing::DeviceBuffer;

class LaunchErrorsTest : public CudaTest {
 protected:
  void SetUp() override {
    CudaTest::SetUp();
    if (IsSkipped()) return;
    bf_ = std::make_unique<DeviceBuffer<Bf16>>(1 << 16);
    f_ = std::make_unique<DeviceBuffer<float>>(1 << 16);
    i_ = std::make_unique<DeviceBuffer<int32_t>>(64);
    ASSERT_EQ(cudaMemset(i_->get(), 0, 64 * sizeof(int32_t)), cudaSuccess);
  }
  void ExpectRejected(cudaError_t err, const char* what) {
    EXPECT_NE(err, cudaSuccess) << what << " was accepted";
    EXPECT_EQ(cudaGetLastError(), cudaSuccess) << what << " left a CUDA error behind";
  }
  Bf16* bf() { return bf_->get(); }
  float* f() { return f_->get(); }
  int32_t* i32() { return i_->get(); }

  std::unique_ptr<DeviceBuffer<Bf16>> bf_;
  std::unique_ptr<DeviceBuffer<float>> f_;
  std::unique_ptr<DeviceBuffer<int32_t>> i_;
};

TEST_F(LaunchErrorsTest, Gemm) {
  std::unique_ptr<CublasLt> ctx;
  ASSERT_EQ(CublasLt::Create(1 << 20, &ctx), cudaSuccess);
  ExpectRejected(Gemm(*ctx, bf(), bf(), nullptr, bf(), {.m = 4, .n = 4, .k = 0}, nullptr), "k = 0");
  ExpectRejected(Gemm(*ctx, bf(), bf(), nullptr, bf(), {.m = -1, .n = 4, .k = 4}, nullptr),
                 "m < 0");
  ExpectRejected(
      Gemm(*ctx, bf(), bf(), nullptr, bf(), {.m = 4, .n = 8, .k = 8, .x_stride = 4}, nullptr),
      "x_stride < k");
  ExpectRejected(GemmF32Out(*ctx, nullptr, bf(), nullptr, f(), {.m = 4, .n = 4, .k = 4}, nullptr),
                 "null x");
  EXPECT_EQ(Gemm(*ctx, bf(), bf(), nullptr, bf(), {.m = 0, .n = 4, .k = 4}, nullptr), cudaSuccess)
      << "m = 0 is an empty batch, not an error";
}

TEST_F(LaunchErrorsTest, Norms) {
  ExpectRejected(RmsNorm(bf(), bf(), bf(), {.num_tokens = 2, .num_heads = 0, .dim = 8}, nullptr),
                 "RmsNorm heads = 0");
  ExpectRejected(RmsNorm(nullptr, bf(), bf(), {.num_tokens = 2, .dim = 8}, nullptr),
                 "RmsNorm null x");
  ExpectRejected(
      AddRmsNorm(bf(), bf(), bf(), bf(),
                 {.num_tokens = 2, .dim = 8, .x_stride = 4, .residual_stride = 8, .y_stride = 8},
                 nullptr),
      "AddRmsNorm stride < dim");
  ExpectRejected(GatedRmsNorm(f(), bf(), bf(), bf(), {.num_tokens = 2, .dim = 0}, nullptr),
                 "GatedRmsNorm dim = 0");
  ExpectRejected(
      L2NormHeads(f(), {.num_tokens = 2, .num_heads = 2, .dim = 8, .token_stride = 8}, nullptr),
      "L2NormHeads token_stride < heads * dim");
}

TEST_F(LaunchErrorsTest, Rope) {
  const MRopeParams ok{.num_tokens = 2,
                       .num_heads = 1,
                       .head_dim = 64,
                       .rotary_dim = 64,
                       .token_stride = 64,
                       .head_stride = 64,
                       .theta = 1e7,
                       .mrope_section = {11, 11, 10}};
  MRopeParams p = ok;
  p.rotary_dim = 63;
  ExpectRejected(ApplyMRope(bf(), i32(), p, nullptr), "odd rotary_dim");
  p = ok;
  p.mrope_section = {11, 11, 11};
  ExpectRejected(ApplyMRope(bf(), i32(), p, nullptr), "sections not summing to R/2");
  p = ok;
  p.rotary_dim = 128;
  ExpectRejected(ApplyMRope(bf(), i32(), p, nullptr), "rotary_dim > head_dim");
  ExpectRejected(ApplyMRope(bf(), static_cast<const int64_t*>(nullptr), ok, nullptr),
                 "null positions");
}

TEST_F(LaunchErrorsTest, Elementwise) {
  ExpectRejected(SiluMul(bf(), 4, bf(), 8, bf(), 8, {.rows = 2, .cols = 8}, nullptr),
                 "SiluMul gate_stride < cols");
  ExpectRejected(MulSigmoid(nullptr, 8, bf(), 8, {.rows = 2, .cols = 8}, nullptr),
                 "MulSigmoid null x");
  ExpectRejected(Add(bf(), bf(), bf(), -1, nullptr), "Add n < 0");
  ExpectRejected(
      EmbeddingGather(
          bf(), i32(), nullptr, i32(), bf(),
          {.num_tokens = 2, .dim = 8, .vocab_size = 4, .out_stride = 8, .inject_stride = 8},
          nullptr),
      "EmbeddingGather inject_index without inject_rows");
  ExpectRejected(SplitQGate(bf(), bf(), bf(),
                            {.num_tokens = 2,
                             .num_heads = 2,
                             .head_dim = 8,
                             .qg_stride = 16,
                             .q_stride = 16,
                             .gate_stride = 16},
                            nullptr),
                 "SplitQGate qg_stride < 2 * heads * dim");
}

TEST_F(LaunchErrorsTest, Conv1d) {
  const CausalConv1dVarlenParams ok{.num_tokens = 4,
                                    .num_seqs = 1,
                                    .channels = 8,
                                    .kernel = 4,
                                    .u_stride = 8,
                                    .out_stride = 8,
                                    .variant = GdnVariant::kDefault};
  CausalConv1dVarlenParams p = ok;
  p.kernel = 5;
  ExpectRejected(CausalConv1dSiluVarlen(bf(), bf(), i32(), i32(), nullptr, f(), f(), p, nullptr),
                 "Kc > 4");
  p = ok;
  p.variant = static_cast<GdnVariant>(9);
  ExpectRejected(CausalConv1dSiluVarlen(bf(), bf(), i32(), i32(), nullptr, f(), f(), p, nullptr),
                 "unknown variant");
  p = ok;
  p.num_seqs = 70000;
  ExpectRejected(CausalConv1dSiluVarlen(bf(), bf(), i32(), i32(), nullptr, f(), f(), p, nullptr),
                 "more sequences than grid.y allows");
  ExpectRejected(CausalConv1dSiluVarlen(bf(), bf(), nullptr, i32(), nullptr, f(), f(), ok, nullptr),
                 "null cu_seqlens");
  ExpectRejected(
      CausalConv1dSiluUpdate(
          bf(), bf(), i32(), f(), f(),
          {.num_seqs = 2, .channels = 8, .kernel = 4, .u_stride = 4, .out_stride = 8}, nullptr),
      "update u_stride < channels");
}

TEST_F(LaunchErrorsTest, GatedDeltaRule) {
  ExpectRejected(
      GatedDeltaGates(bf(), bf(), f(), f(), f(), f(),
                      {.num_tokens = 2, .num_heads_v = 4, .a_stride = 2, .b_stride = 4}, nullptr),
      "gates a_stride < Hv");
  const GatedDeltaRuleVarlenParams ok{.num_tokens = 4,
                                      .num_seqs = 1,
                                      .num_heads_k = 1,
                                      .num_heads_v = 2,
                                      .head_dim_k = 32,
                                      .head_dim_v = 32,
                                      .qk_stride = 128,
                                      .v_stride = 128,
                                      .out_stride = 64,
                                      .variant = GdnVariant::kDefault};
  GatedDeltaRuleVarlenParams p = ok;
  p.num_heads_v = 3;  // not a multiple of Hk = 2
  p.num_heads_k = 2;
  ExpectRejected(GatedDeltaRuleChunkedVarlen(f(), f(), f(), f(), f(), i32(), i32(), nullptr, f(),
                                             f(), f(), p, nullptr),
                 "Hv % Hk != 0");
  p = ok;
  p.head_dim_k = 30;
  ExpectRejected(GatedDeltaRuleChunkedVarlen(f(), f(), f(), f(), f(), i32(), i32(), nullptr, f(),
                                             f(), f(), p, nullptr),
                 "Dk not a multiple of 4");
  p = ok;
  p.head_dim_v = 512;
  ExpectRejected(GatedDeltaRuleChunkedVarlen(f(), f(), f(), f(), f(), i32(), i32(), nullptr, f(),
                                             f(), f(), p, nullptr),
                 "Dv > 256");
  p = ok;
  p.out_stride = 32;
  ExpectRejected(GatedDeltaRuleChunkedVarlen(f(), f(), f(), f(), f(), i32(), i32(), nullptr, f(),
                                             f(), f(), p, nullptr),
                 "out_stride < Hv * Dv");
  ExpectRejected(GatedDeltaRuleChunkedVarlen(f(), f(), f(), f(), f(), i32(), i32(), nullptr, f(),
                                             f(), nullptr, ok, nullptr),
                 "chunked without workspace");
  ExpectRejected(GatedDeltaRuleChunkedVarlen(f(), f(), f(), f(), f(), i32(), i32(), nullptr, f(),
                                             f(), f() + 1, ok, nullptr),
                 "chunked with a workspace not 16-byte aligned");
  EXPECT_EQ(GatedDeltaRuleChunkedWorkspaceBytes({.num_tokens = 0, .num_heads_v = 2}), 0);
  EXPECT_EQ(GatedDeltaRuleChunkedWorkspaceBytes(
                {.num_tokens = 4, .num_heads_v = 2, .variant = static_cast<GdnVariant>(7)}),
            0);
  ExpectRejected(GatedDeltaRuleRecurrentDecode(f(), f(), f(), f(), f(), i32(), nullptr, f(),
                                               {.num_seqs = 1,
                                                .num_heads_k = 1,
                                                .num_heads_v = 1,
                                                .head_dim_k = 32,
                                                .head_dim_v = 32,
                                                .qk_stride = 64,
                                                .v_stride = 32,
                                                .out_stride = 32},
                                               nullptr),
                 "decode null state pool");
  // A launch the device cannot run is reported, not swallowed: the default chunked kernels at
  // Dk = 256 need ~197 KB of shared memory per block; on a device with less it must fail with
  // cudaErrorNotSupported, on Hopper (227 KB) it runs.
  int device = 0, optin = 0;
  ASSERT_EQ(cudaGetDevice(&device), cudaSuccess);
  ASSERT_EQ(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device),
            cudaSuccess);
  const int64_t need = GatedDeltaRuleChunkedSharedBytes(GdnVariant::kDefault, 256);
  p = ok;
  p.num_tokens = 0;  // no token rows: the scan only rewrites the slot (cu_seqlens are zeros)
  p.head_dim_k = 256;
  p.head_dim_v = 8;
  p.qk_stride = 256;
  p.v_stride = 16;
  p.out_stride = 16;
  DeviceBuffer<float> pool(2 * 256 * 8);
  const cudaError_t err = GatedDeltaRuleChunkedVarlen(
      f(), f(), f(), f(), f(), i32(), i32(), nullptr, pool.get(), f(), nullptr, p, nullptr);
  if (need > optin) {
    EXPECT_EQ(err, cudaErrorNotSupported);
  } else {
    EXPECT_EQ(err, cudaSuccess);
  }
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
}

}  // namespace
}  // namespace qwen::kernels::cuda
