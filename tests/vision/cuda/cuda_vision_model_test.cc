// The CUDA vision encoder on the GPU (each test skips without one): parity with Hugging Face on
// every committed vision / multimodal reference case (the image batch, the video batch and both
// as one mixed batch), parity with the CPU fp32 VisionModel on synthetic batches (several items
// of different sizes incl. a video, one 1024-token frame, head dim 72, the shipped encoder's
// widths, every pixel dtype, device-resident pixels and results), the largest batch the workspace
// is sized for, rejected inputs that leave the model usable, and rejected checkpoints.
//
// Every comparison with an fp32 reference uses the bound of vision_tolerance.h, derived per input
// from the CPU bf16 oracle's distance to that reference (vision_bf16_oracle.h).
#include "vision_service/model/cuda/cuda_vision_model.h"

#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "core/cuda/device_context.h"
#include "core/dtype.h"
#include "tests/model/reference_case.h"
#include "tests/vision/cuda/vision_bf16_oracle.h"
#include "tests/vision/cuda/vision_case_util.h"
#include "tests/vision/cuda/vision_tolerance.h"
#include "tests/vision/model/multimodal_cases.h"
#include "tests/vision/model/tiny_vision_checkpoint.h"
#include "vision_service/model/vision_model.h"

namespace qwen::testing {
namespace {

namespace vc = ::qwen::vision::cuda;
using vision::GridThw;
using vision::testing::RandomPixels;
using vision::testing::TinyVisionCheckpoint;
using vision::testing::TinyVisionSpec;
using vision::testing::WriteTinyVisionCheckpoint;

bool HaveGpu() { return core::cuda::CudaDeviceAvailable(0); }

#define SKIP_WITHOUT_GPU()                                                                       \
  if (!HaveGpu()) {                                                                              \
    GTEST_SKIP() << "no CUDA device: the CUDA vision encoder tests run only on the GPU machine"; \
  }

int HostThreads() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }

std::unique_ptr<core::cuda::DeviceContext> MakeContext() {
  auto ctx = core::cuda::DeviceContext::Create({.device = 0});
  EXPECT_TRUE(ctx.ok()) << ctx.status();
  return ctx.ok() ? std::move(*ctx) : nullptr;
}

std::unique_ptr<vc::CudaVisionModel> LoadEncoder(const core::cuda::DeviceContext& ctx,
                                                 const std::filesystem::path& dir,
                                                 int64_t max_patches) {
  auto m = vc::CudaVisionModel::Load(ctx, dir, {.max_patches = max_patches});
  EXPECT_TRUE(m.ok()) << m.status();
  return m.ok() ? std::move(*m) : nullptr;
}

int64_t Rows(const std::vector<GridThw>& grids) {
  int64_t n = 0;
  for (const GridThw& g : grids) n += g.num_patches();
  return n;
}

// got (GPU) against an fp32 reference under the bound derived from the oracle's distance to the
// same reference.
void ExpectWithinBf16Tolerance(const core::Tensor& got, const core::Tensor& ref,
                               const core::Tensor& oracle, const std::string& what) {
  ASSERT_EQ(got.shape(), ref.shape()) << what;
  ASSERT_EQ(oracle.shape(), ref.shape()) << what;
  const float scale = MaxAbs(ref.data<float>(), ref.numel());
  ASSERT_GT(scale, 0.0f) << what << ": the reference is all zeros";
  const EmbedTolerance tol = MakeEmbedTolerance(
      scale, MaxAbsDiffOrInf(oracle.data<float>(), ref.data<float>(), ref.numel()));
  EXPECT_LE(tol.noise, kMaxPlausibleNoise) << what << ": " << tol.Summary();
  const float diff = MaxAbsDiffOrInf(got.data<float>(), ref.data<float>(), ref.numel());
  std::cout << "[          ] " << what << ": GPU max |diff| " << diff << " = "
            << 100.0 * diff / scale << "% of scale; " << tol.Summary() << "\n";
  EXPECT_LE(diff, tol.tolerance) << what << ": " << tol.Summary();
}

// The merged-row offsets of `grids` (as the CPU model reports them).
std::vector<int64_t> MergedOffsets(const std::vector<GridThw>& grids, int64_t merge) {
  auto plan = vision::PlanVisionBatch(grids, Rows(grids), merge);
  EXPECT_TRUE(plan.ok()) << plan.status();
  return plan.ok() ? plan->merged_offsets : std::vector<int64_t>{};
}

void ExpectError(const absl::Status& s, absl::StatusCode code,
                 const std::vector<std::string>& fragments) {
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), code) << s;
  for (const std::string& f : fragments) {
    EXPECT_NE(std::string(s.message()).find(f), std::string::npos)
        << "message \"" << s.message() << "\" lacks \"" << f << "\"";
  }
}

// ---- Hugging Face reference cases ---------------------------------------------------------------

class CudaVisionParityTest : public ::testing::TestWithParam<std::filesystem::path> {};

TEST_P(CudaVisionParityTest, EmbeddingsMatchTransformers) {
  SKIP_WITHOUT_GPU();
  const std::filesystem::path dir = GetParam();
  auto ctx = MakeContext();
  ASSERT_NE(ctx, nullptr);
  auto encoder = LoadEncoder(*ctx, dir / "model", 4096);
  ASSERT_NE(encoder, nullptr);
  auto oracle = VisionBf16Oracle::Load(dir / "model", /*round_bf16=*/true);
  ASSERT_TRUE(oracle.ok()) << oracle.status();
  const std::vector<VisionCaseInput> inputs = ReadVisionCaseInputs(dir);
  ASSERT_FALSE(inputs.empty()) << "the case has neither pixel_values nor pixel_values_videos";
  for (const VisionCaseInput& in : inputs) {
    const std::string what = dir.filename().string() + " " + in.name;
    auto got = encoder->Forward(in.pixels, in.grids);
    ASSERT_TRUE(got.ok()) << what << ": " << got.status();
    EXPECT_EQ(got->item_offsets, MergedOffsets(in.grids, encoder->config().spatial_merge_size))
        << what;
    auto want_oracle = (*oracle)->Embeds(in.pixels, in.grids);
    ASSERT_TRUE(want_oracle.ok()) << want_oracle.status();
    ExpectWithinBf16Tolerance(got->embeds, in.expected, *want_oracle, what);
  }
}

INSTANTIATE_TEST_SUITE_P(Reference, CudaVisionParityTest,
                         ::testing::ValuesIn(FindMultimodalCases({"vision", "multimodal"})),
                         CaseName);
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(CudaVisionParityTest);

// ---- Synthetic batches against the CPU fp32 model -----------------------------------------------

// A CPU model, its bf16 oracle and the CUDA encoder of one checkpoint.
struct Trio {
  std::unique_ptr<vision::VisionModel> cpu;
  std::unique_ptr<VisionBf16Oracle> oracle;
  std::unique_ptr<vc::CudaVisionModel> gpu;
};

Trio LoadTrio(const core::cuda::DeviceContext& ctx, const std::filesystem::path& dir,
              int64_t max_patches) {
  Trio t;
  auto cpu = vision::VisionModel::Load(dir);
  EXPECT_TRUE(cpu.ok()) << cpu.status();
  if (cpu.ok()) t.cpu = std::move(*cpu);
  auto oracle = VisionBf16Oracle::Load(dir, /*round_bf16=*/true);
  EXPECT_TRUE(oracle.ok()) << oracle.status();
  if (oracle.ok()) t.oracle = std::move(*oracle);
  t.gpu = LoadEncoder(ctx, dir, max_patches);
  return t;
}

// One GPU forward of `pixels` against the CPU model on the same pixel values.
void ExpectMatchesCpu(Trio& t, const core::Tensor& pixels, const std::vector<GridThw>& grids,
                      const std::string& what) {
  auto cpu = t.cpu->Forward(vision::VisionContext{.num_threads = HostThreads()}, pixels, grids);
  ASSERT_TRUE(cpu.ok()) << cpu.status();
  auto oracle = t.oracle->Embeds(pixels, grids, HostThreads());
  ASSERT_TRUE(oracle.ok()) << oracle.status();
  auto gpu = t.gpu->Forward(pixels, grids);
  ASSERT_TRUE(gpu.ok()) << what << ": " << gpu.status();
  EXPECT_EQ(gpu->item_offsets, cpu->item_offsets) << what;
  ExpectWithinBf16Tolerance(gpu->embeds, cpu->embeds, *oracle, what);
}

// Head dim 72 (the shipped encoder's, padded to 80 by the flash kernel), a 32x32 image (one
// 1024-token frame: many query and key tiles), a 3-frame video, the smallest image (one merge
// block) and a non-square one.
constexpr TinyVisionSpec kMixedSpec{.depth = 2,
                                    .hidden = 144,
                                    .heads = 2,
                                    .inter = 200,
                                    .patch = 4,
                                    .pos_side = 6,
                                    .out_hidden = 96,
                                    .seed = 11};
const std::vector<GridThw> kMixedGrids = {{1, 32, 32}, {3, 4, 8}, {1, 2, 2}, {1, 6, 10}};

class CudaVisionModelTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (!ckpt_.dir.empty()) std::filesystem::remove_all(ckpt_.dir);
  }
  TinyVisionCheckpoint ckpt_;
};

TEST_F(CudaVisionModelTest, MixedBatchMatchesTheCpuModel) {
  SKIP_WITHOUT_GPU();
  ckpt_ = WriteTinyVisionCheckpoint("cuda_mixed", kMixedSpec);
  auto ctx = MakeContext();
  ASSERT_NE(ctx, nullptr);
  Trio t = LoadTrio(*ctx, ckpt_.dir, 2048);
  ASSERT_TRUE(t.cpu && t.oracle && t.gpu);
  const core::Tensor pixels = RandomPixels(Rows(kMixedGrids), ckpt_.patch_dim(), 5);
  ExpectMatchesCpu(t, pixels, kMixedGrids, "mixed batch (f32 pixels)");

  // Each item alone gives its rows of the batch (items never interact).
  int64_t row = 0;
  for (size_t i = 0; i < kMixedGrids.size(); ++i) {
    const int64_t n = kMixedGrids[i].num_patches();
    ExpectMatchesCpu(t, pixels.Slice(row, row + n).Clone(), {kMixedGrids[i]},
                     "item " + std::to_string(i) + " alone");
    row += n;
  }

  // BF16 and F16 pixel rows (HF casts pixel_values to bf16; the encoder converts on the host).
  for (core::DType dtype : {core::DType::kBF16, core::DType::kF16}) {
    auto converted = pixels.To(dtype);
    ASSERT_TRUE(converted.ok()) << converted.status();
    ExpectMatchesCpu(t, *converted, kMixedGrids,
                     std::string("mixed batch (") + core::DTypeName(dtype) + " pixels)");
  }
}

TEST_F(CudaVisionModelTest, ShippedEncoderWidthsMatchTheCpuModel) {
  SKIP_WITHOUT_GPU();
  // One block of the 9B encoder's shapes: Hvis 1152 (16 heads of 72), Ivis 4304, 16 px patches
  // (patch_dim 1536), the 48x48 position table, out_hidden 4096.
  ckpt_ = WriteTinyVisionCheckpoint("cuda_shipped", {.depth = 1,
                                                     .hidden = 1152,
                                                     .heads = 16,
                                                     .inter = 4304,
                                                     .patch = 16,
                                                     .pos_side = 48,
                                                     .out_hidden = 4096,
                                                     .seed = 23});
  auto ctx = MakeContext();
  ASSERT_NE(ctx, nullptr);
  Trio t = LoadTrio(*ctx, ckpt_.dir, 16384);
  ASSERT_TRUE(t.cpu && t.oracle && t.gpu);
  // A 512x512 image and a 4-frame 128x192 video.
  const std::vector<GridThw> grids = {{1, 32, 32}, {2, 8, 12}};
  ExpectMatchesCpu(t, RandomPixels(Rows(grids), 1536, 9), grids, "shipped widths");

  // The largest batch the workspace holds: one 2048x2048 image (too slow for the CPU reference,
  // so checked for shape, offsets and finiteness; timed for information).
  const std::vector<GridThw> big = {{1, 128, 128}};
  const core::Tensor big_pixels = RandomPixels(16384, 1536, 10);
  auto prepared = t.gpu->Prepare(big_pixels, big);
  ASSERT_TRUE(prepared.ok()) << prepared.status();
  ASSERT_TRUE(t.gpu->Synchronize().ok());
  const auto start = std::chrono::steady_clock::now();
  auto dev = t.gpu->Encode(*prepared);
  ASSERT_TRUE(dev.ok()) << dev.status();
  ASSERT_TRUE(t.gpu->Synchronize().ok());
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::cout << "[          ] 16384 patches, 1 block of the 9B encoder: Encode " << ms << " ms\n";
  EXPECT_EQ(dev->rows, 4096);
  EXPECT_EQ(dev->hidden, 4096);
  auto out = t.gpu->Forward(big_pixels, big);
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->embeds.shape(), (core::Shape{4096, 4096}));
  EXPECT_EQ(out->item_offsets, (std::vector<int64_t>{0, 4096}));
  int64_t non_finite = 0;
  for (int64_t i = 0; i < out->embeds.numel(); ++i) {
    non_finite += std::isfinite(out->embeds.data<float>()[i]) ? 0 : 1;
  }
  EXPECT_EQ(non_finite, 0);
  EXPECT_GT(MaxAbs(out->embeds.data<float>(), out->embeds.numel()), 0.0f);
  // One row more than the workspace holds.
  ExpectError(
      t.gpu->Forward(RandomPixels(16384 + 4, 1536, 1), std::vector<GridThw>{{1, 2, 8194}}).status(),
      absl::StatusCode::kInvalidArgument, {"16388", "16384", "max_patches"});
}

TEST_F(CudaVisionModelTest, DevicePixelsAndDeviceResult) {
  SKIP_WITHOUT_GPU();
  ckpt_ = WriteTinyVisionCheckpoint("cuda_device_io", kMixedSpec);
  auto ctx = MakeContext();
  ASSERT_NE(ctx, nullptr);
  Trio t = LoadTrio(*ctx, ckpt_.dir, 2048);
  ASSERT_TRUE(t.cpu && t.oracle && t.gpu);
  const core::Tensor pixels = RandomPixels(Rows(kMixedGrids), ckpt_.patch_dim(), 6);
  auto host = t.gpu->Forward(pixels, kMixedGrids);
  ASSERT_TRUE(host.ok()) << host.status();

  // The same rows as a bf16 device tensor.
  auto bf16 = pixels.To(core::DType::kBF16);
  ASSERT_TRUE(bf16.ok());
  void* dev_pixels = nullptr;
  ASSERT_EQ(cudaMalloc(&dev_pixels, bf16->nbytes()), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(dev_pixels, bf16->raw_data(), bf16->nbytes(), cudaMemcpyHostToDevice),
            cudaSuccess);
  const core::Tensor on_gpu =
      core::Tensor::View(dev_pixels, pixels.shape(), core::DType::kBF16, core::Device::kCuda);
  auto prepared = t.gpu->Prepare(on_gpu, kMixedGrids);
  ASSERT_TRUE(prepared.ok()) << prepared.status();
  auto dev = t.gpu->Encode(*prepared);
  ASSERT_TRUE(dev.ok()) << dev.status();
  ASSERT_TRUE(t.gpu->Synchronize().ok());
  EXPECT_EQ(dev->item_offsets, host->item_offsets);
  ASSERT_EQ(dev->rows, host->embeds.dim(0));
  ASSERT_EQ(dev->hidden, host->embeds.dim(1));
  std::vector<core::BFloat16> raw(static_cast<size_t>(dev->rows * dev->hidden));
  ASSERT_EQ(cudaMemcpy(raw.data(), dev->embeds, raw.size() * 2, cudaMemcpyDeviceToHost),
            cudaSuccess);
  cudaFree(dev_pixels);
  core::Tensor from_device = core::Tensor::Zeros(host->embeds.shape(), core::DType::kF32);
  core::ConvertToF32(raw.data(), core::DType::kBF16, from_device.data<float>(), raw.size());
  // The same bf16 inputs through the same kernels: the host-pixel forward's result, up to the
  // GEMM library's freedom to reduce in another order, so under the same bound as against fp32.
  auto cpu =
      t.cpu->Forward(vision::VisionContext{.num_threads = HostThreads()}, pixels, kMixedGrids);
  ASSERT_TRUE(cpu.ok());
  auto oracle = t.oracle->Embeds(pixels, kMixedGrids, HostThreads());
  ASSERT_TRUE(oracle.ok());
  ExpectWithinBf16Tolerance(from_device, cpu->embeds, *oracle, "device pixels, device result");
  const float self =
      MaxAbsDiffOrInf(from_device.data<float>(), host->embeds.data<float>(), from_device.numel());
  std::cout << "[          ] device vs host pixel path: max |diff| " << self << "\n";

  // Encode can run again on the prepared inputs (what a benchmark times).
  auto again = t.gpu->Encode(*prepared);
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_TRUE(t.gpu->Synchronize().ok());
}

TEST_F(CudaVisionModelTest, BadInputsAreRejectedAndLeaveTheModelUsable) {
  SKIP_WITHOUT_GPU();
  ckpt_ = WriteTinyVisionCheckpoint("cuda_bad_input", TinyVisionSpec{});  // head dim 8
  auto ctx = MakeContext();
  ASSERT_NE(ctx, nullptr);
  Trio t = LoadTrio(*ctx, ckpt_.dir, 64);
  ASSERT_TRUE(t.cpu && t.oracle && t.gpu);
  vc::CudaVisionModel& gpu = *t.gpu;
  const std::vector<GridThw> grids = {{1, 4, 6}, {2, 2, 4}};  // 24 + 16 rows
  const core::Tensor pixels = RandomPixels(40, 24, 3);
  auto first = gpu.Forward(pixels, grids);
  ASSERT_TRUE(first.ok()) << first.status();
  auto prepared = gpu.Prepare(pixels, grids);
  ASSERT_TRUE(prepared.ok()) << prepared.status();

  auto forward = [&](const core::Tensor& px, const std::vector<GridThw>& g) {
    return gpu.Forward(px, g).status();
  };
  // More rows than the workspace holds: both numbers named.
  ExpectError(forward(RandomPixels(68, 24, 1), {{1, 2, 34}}), absl::StatusCode::kInvalidArgument,
              {"68", "64"});
  // Bad grids, as the CPU model reports them.
  ExpectError(forward(RandomPixels(6, 24, 1), {{1, 3, 2}}), absl::StatusCode::kInvalidArgument,
              {"item 0", "multiples of spatial_merge_size 2"});
  ExpectError(forward(RandomPixels(12, 24, 1), {{1, 2, 2}, {1, 2, 2}}),
              absl::StatusCode::kInvalidArgument, {"covers 8", "pixel_values has 12"});
  ExpectError(forward(RandomPixels(4, 24, 1), {{0, 2, 2}}), absl::StatusCode::kInvalidArgument,
              {">= 1"});
  ExpectError(forward(RandomPixels(4, 24, 1), {}), absl::StatusCode::kInvalidArgument,
              {"no images or videos"});
  // Wrong pixel width, rank or dtype.
  ExpectError(forward(RandomPixels(4, 23, 1), {{1, 2, 2}}), absl::StatusCode::kInvalidArgument,
              {"[num_patches, 24]", "[4, 23]"});
  ExpectError(forward(RandomPixels(4, 24, 1).Reshaped({1, 4, 24}), {{1, 2, 2}}),
              absl::StatusCode::kInvalidArgument, {"[1, 4, 24]"});
  ExpectError(forward(core::Tensor::Zeros({4, 24}, core::DType::kI32), {{1, 2, 2}}),
              absl::StatusCode::kInvalidArgument, {"I32"});
  // Device tensors must be bf16 device memory.
  const core::Tensor host_rows = RandomPixels(4, 24, 1);
  ExpectError(forward(core::Tensor::View(const_cast<void*>(host_rows.raw_data()), {4, 24},
                                         core::DType::kF32, core::Device::kCuda),
                      {{1, 2, 2}}),
              absl::StatusCode::kInvalidArgument, {"BF16"});
  auto host_bf16 = host_rows.To(core::DType::kBF16);
  ASSERT_TRUE(host_bf16.ok());
  ExpectError(forward(core::Tensor::View(host_bf16->raw_data(), {4, 24}, core::DType::kBF16,
                                         core::Device::kCuda),
                      {{1, 2, 2}}),
              absl::StatusCode::kInvalidArgument, {"not device memory"});

  // None of that touched the prepared batch: it still encodes to the first result.
  auto dev = gpu.Encode(*prepared);
  ASSERT_TRUE(dev.ok()) << dev.status();
  ASSERT_TRUE(gpu.Synchronize().ok());
  // And a forward after the errors still gives the right answer.
  auto again = gpu.Forward(pixels, grids);
  ASSERT_TRUE(again.ok()) << again.status();
  auto cpu = t.cpu->Forward(vision::VisionContext{}, pixels, grids);
  ASSERT_TRUE(cpu.ok());
  auto oracle = t.oracle->Embeds(pixels, grids);
  ASSERT_TRUE(oracle.ok());
  ExpectWithinBf16Tolerance(first->embeds, cpu->embeds, *oracle, "before the errors");
  ExpectWithinBf16Tolerance(again->embeds, cpu->embeds, *oracle, "after the errors");
  EXPECT_EQ(again->item_offsets, first->item_offsets);

  // A batch prepared before another Prepare (or Forward) is stale.
  auto p1 = gpu.Prepare(pixels, grids);
  ASSERT_TRUE(p1.ok());
  auto p2 = gpu.Prepare(pixels.Slice(0, 24).Clone(), std::vector<GridThw>{grids[0]});
  ASSERT_TRUE(p2.ok());
  ExpectError(gpu.Encode(*p1).status(), absl::StatusCode::kFailedPrecondition, {"stale"});
  ExpectError(gpu.Encode(vc::PreparedVisionBatch{}).status(), absl::StatusCode::kFailedPrecondition,
              {"stale"});
  auto d2 = gpu.Encode(*p2);
  ASSERT_TRUE(d2.ok()) << d2.status();
  EXPECT_EQ(d2->rows, 6);
  ASSERT_TRUE(gpu.Synchronize().ok());
}

TEST_F(CudaVisionModelTest, RejectedCheckpointsAndOptions) {
  SKIP_WITHOUT_GPU();
  auto ctx = MakeContext();
  ASSERT_NE(ctx, nullptr);
  auto load = [&](const std::filesystem::path& dir, int64_t max_patches = 64) {
    return vc::CudaVisionModel::Load(*ctx, dir, {.max_patches = max_patches}).status();
  };
  // A text-only checkpoint.
  const std::vector<std::filesystem::path> text_cases = FindCases("text_causal_");
  ASSERT_FALSE(text_cases.empty());
  ExpectError(load(text_cases.front() / "model"), absl::StatusCode::kFailedPrecondition,
              {"no vision_config"});

  ckpt_ = WriteTinyVisionCheckpoint("cuda_bad_ckpt_ok", TinyVisionSpec{});
  ExpectError(load(ckpt_.dir, 0), absl::StatusCode::kInvalidArgument, {"max_patches"});
  ExpectError(load(ckpt_.dir, (int64_t{1} << 24) + 1), absl::StatusCode::kInvalidArgument,
              {"max_patches"});
  std::filesystem::remove_all(ckpt_.dir);

  // Head dim 12: fine for the CPU model (a multiple of 4), not for the CUDA attention.
  ckpt_ = WriteTinyVisionCheckpoint("cuda_bad_ckpt_hd", {.hidden = 24, .heads = 2});
  ExpectError(load(ckpt_.dir), absl::StatusCode::kUnimplemented, {"head dim 12", "multiple of 8"});
  std::filesystem::remove_all(ckpt_.dir);

  ckpt_ = WriteTinyVisionCheckpoint("cuda_bad_ckpt_missing", TinyVisionSpec{}, {},
                                    {"model.visual.blocks.1.attn.proj.bias"});
  ExpectError(load(ckpt_.dir), absl::StatusCode::kNotFound, {"blocks.1.attn.proj.bias"});
  std::filesystem::remove_all(ckpt_.dir);

  ckpt_ = WriteTinyVisionCheckpoint(
      "cuda_bad_ckpt_extra", TinyVisionSpec{},
      {{"model.visual.blocks.2.norm1.weight", core::Tensor::Zeros({16}, core::DType::kF32)}});
  ExpectError(load(ckpt_.dir), absl::StatusCode::kInvalidArgument,
              {"does not explain", "blocks.2.norm1.weight"});
  std::filesystem::remove_all(ckpt_.dir);

  ckpt_ = WriteTinyVisionCheckpoint(
      "cuda_bad_ckpt_shape", TinyVisionSpec{},
      {{"model.visual.merger.norm.bias", core::Tensor::Zeros({15}, core::DType::kF32)}});
  ExpectError(load(ckpt_.dir), absl::StatusCode::kInvalidArgument, {"merger.norm.bias"});
}

}  // namespace
}  // namespace qwen::testing
