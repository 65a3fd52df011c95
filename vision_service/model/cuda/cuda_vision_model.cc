#include "vision_service/model/cuda/cuda_vision_model.h"

#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/cuda/cuda_status.h"
#include "core/cuda/staged_upload.h"
#include "core/dtype.h"
#include "core/logging.h"
#include "core/status.h"
#include "kernels/cuda/vision.h"
#include "kernels/cuda/vision_attention.h"
#include "vision_service/model/cuda/batch_metadata.h"
#include "vision_service/model/cuda/vision_block.h"
#include "vision_service/model/cuda/vision_merger.h"
#include "vision_service/model/cuda/vision_step.h"

namespace qwen::vision::cuda {

namespace kcu = ::qwen::kernels::cuda;

namespace {

constexpr int64_t kMaxPatchesLimit = int64_t{1} << 24;

// Shapes the CUDA kernels accept (their launchers' documented limits), checked once at load so a
// forward never fails on them.
absl::Status CheckSupported(const core::VisionConfig& c) {
  const int64_t head_dim = c.hidden_size / c.num_heads;
  if (head_dim % 8 != 0 || head_dim > 128) {
    return absl::UnimplementedError(absl::StrCat(
        "vision head dim ", head_dim,
        " is not supported by the CUDA segment attention (a multiple of 8, at most 128)"));
  }
  // Every norm after the first runs inside kcu::BiasResidualLayerNorm (a row in one warp).
  if (c.hidden_size % 8 != 0 || c.hidden_size > kcu::kFusedLayerNormMaxDim) {
    return absl::UnimplementedError(absl::StrCat(
        "vision hidden_size ", c.hidden_size,
        " is not supported by the CUDA fused residual LayerNorm (a multiple of 8, at most ",
        kcu::kFusedLayerNormMaxDim, ")"));
  }
  return absl::OkStatus();
}

// The blocks, each ending with the LayerNorm that comes after it (vision_block.h): only the
// first norm runs on its own. Leaves merger.norm(hidden) in s.ws->normed.
absl::Status RunBlocks(const VisionStep& s, const VisionDeviceWeights& weights) {
  const std::vector<DeviceVisionBlock>& blocks = weights.blocks();
  const DeviceVisionMerger& merger = weights.merger();
  const VisionNormWeights merger_norm{.w = merger.norm_w, .b = merger.norm_b};
  const VisionNormWeights first =
      blocks.empty() ? merger_norm
                     : VisionNormWeights{.w = blocks[0].norm1_w, .b = blocks[0].norm1_b};
  const int64_t n = s.num_patches, h = s.config->hidden_size;
  QWEN_CUDA_RETURN_IF_ERROR(
      kcu::LayerNorm(
          s.ws->hidden, first.w, first.b, s.ws->normed,
          {.rows = n, .dim = h, .x_stride = h, .y_stride = h, .eps = kVisionLayerNormEps},
          s.stream),
      blocks.empty() ? "vision merger.norm" : "vision blocks.0.norm1");
  for (size_t i = 0; i < blocks.size(); ++i) {
    const VisionNormWeights next =
        i + 1 < blocks.size()
            ? VisionNormWeights{.w = blocks[i + 1].norm1_w, .b = blocks[i + 1].norm1_b}
            : merger_norm;
    QWEN_RETURN_IF_ERROR(VisionBlockForward(s, blocks[i], next));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<CudaVisionModel>> CudaVisionModel::Load(
    const core::cuda::DeviceContext& ctx, const std::filesystem::path& dir,
    const CudaVisionOptions& options) {
  if (options.max_patches < 1 || options.max_patches > kMaxPatchesLimit) {
    return absl::InvalidArgumentError(
        absl::StrCat("CudaVisionOptions.max_patches = ", options.max_patches, " must be in [1, ",
                     kMaxPatchesLimit, "]"));
  }
  QWEN_RETURN_IF_ERROR(ctx.Activate());
  QWEN_ASSIGN_OR_RETURN(core::ModelConfig config, core::LoadModelConfig(dir));
  if (!config.vision.has_value()) {
    return absl::FailedPreconditionError(
        "the model config has no vision_config: this checkpoint cannot encode images or videos");
  }
  std::unique_ptr<CudaVisionModel> m(new CudaVisionModel());
  m->ctx_ = &ctx;
  m->config_ = *config.vision;
  const core::VisionConfig& c = m->config_;
  QWEN_RETURN_IF_ERROR(ValidateVisionConfig(c));
  // A square table (ValidateVisionConfig).
  m->pos_side_ = static_cast<int64_t>(std::llround(std::sqrt(double(c.num_position_embeddings))));
  QWEN_RETURN_IF_ERROR(CheckSupported(c));
  m->patch_dim_ = c.in_channels * c.temporal_patch_size * c.patch_size * c.patch_size;
  m->max_patches_ = options.max_patches;
  QWEN_ASSIGN_OR_RETURN(m->weights_, VisionDeviceWeights::Load(ctx, dir, config));

  const size_t ws_bytes = LayoutVisionWorkspace(c, m->max_patches_, nullptr, nullptr);
  QWEN_ASSIGN_OR_RETURN(m->workspace_memory_,
                        core::cuda::DeviceMemory::Allocate(ws_bytes, "vision encoder workspace"));
  LayoutVisionWorkspace(c, m->max_patches_, m->workspace_memory_.at<char>(0), &m->ws_);
  // The bf16-output GEMMs with a bias (patch embedding, merger fc2) round through the cuBLASLt
  // context's fp32 scratch, which would otherwise grow (cudaMalloc) inside the first large forward.
  const int64_t scratch_elems = VisionBiasScratchElems(c, m->max_patches_);
  QWEN_CUDA_RETURN_IF_ERROR(
      ctx.cublas().ReserveBiasScratch(static_cast<size_t>(scratch_elems)),
      absl::StrCat("reserving the GEMM bias scratch (",
                   core::cuda::FormatMiB(scratch_elems * sizeof(float)), ")"));

  const int64_t unit = c.spatial_merge_size * c.spatial_merge_size;
  QWEN_ASSIGN_OR_RETURN(m->pixels_host_,
                        core::cuda::PinnedMemory::Allocate(
                            static_cast<size_t>(m->max_patches_ * m->patch_dim_) * sizeof(bf16),
                            "vision pixel staging"));
  QWEN_ASSIGN_OR_RETURN(m->metadata_host_,
                        core::cuda::PinnedMemory::Allocate(
                            static_cast<size_t>(VisionMetadataElems(m->max_patches_)) * 4,
                            "vision metadata staging"));
  QWEN_ASSIGN_OR_RETURN(
      m->out_host_,
      core::cuda::PinnedMemory::Allocate(
          static_cast<size_t>(m->max_patches_ / unit * c.out_hidden_size) * sizeof(bf16),
          "vision result staging"));
  QWEN_CUDA_RETURN_IF_ERROR(cudaEventCreateWithFlags(&m->upload_done_, cudaEventDisableTiming),
                            "creating the vision upload event");
  QWEN_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(ctx.stream()), "loading the vision encoder");
  QWEN_LOG(Info) << "CUDA vision encoder " << dir.string() << ": depth " << c.depth << ", hidden "
                 << c.hidden_size << ", " << c.num_heads << " heads (segment attention on "
                 << kcu::SegmentAttentionKernelName(kcu::SegmentAttentionKernelFor(
                        ctx.cc_major(), ctx.cc_minor(), c.hidden_size / c.num_heads))
                 << "); up to " << m->max_patches_ << " patches per batch; weights "
                 << core::cuda::FormatMiB(m->weights_.bytes()) << ", workspace "
                 << core::cuda::FormatMiB(ws_bytes) << ", GEMM bias scratch "
                 << core::cuda::FormatMiB(scratch_elems * sizeof(float)) << ", pinned staging "
                 << core::cuda::FormatMiB(m->pixels_host_.bytes() + m->metadata_host_.bytes() +
                                          m->out_host_.bytes());
  return m;
}

CudaVisionModel::~CudaVisionModel() {
  if (ctx_ == nullptr) return;
  ctx_->Activate().IgnoreError();
  // Queued work still reads the workspace and the pinned buffers freed below.
  cudaStreamSynchronize(ctx_->stream());
  if (upload_done_ != nullptr) cudaEventDestroy(upload_done_);
}

absl::Status CudaVisionModel::Synchronize() const {
  QWEN_RETURN_IF_ERROR(ctx_->Activate());
  return core::cuda::CudaStatus(cudaStreamSynchronize(ctx_->stream()),
                                "running the vision encoder");
}

absl::StatusOr<PreparedVisionBatch> CudaVisionModel::Prepare(const core::Tensor& pixel_values,
                                                             std::span<const GridThw> grids) {
  // Every input check comes before anything touches the staging buffers or the GPU.
  const bool on_device = pixel_values.device() == core::Device::kCuda;
  if (pixel_values.rank() != 2 || pixel_values.dim(1) != patch_dim_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "pixel_values must be [num_patches, ", patch_dim_, "] (channels x temporal_patch_size x ",
        "patch_size²), got ", core::ShapeToString(pixel_values.shape())));
  }
  if (!core::IsFloating(pixel_values.dtype())) {
    return absl::InvalidArgumentError(absl::StrCat("pixel_values must be F32, BF16 or F16, got ",
                                                   core::DTypeName(pixel_values.dtype())));
  }
  if (on_device && pixel_values.dtype() != core::DType::kBF16) {
    return absl::InvalidArgumentError(absl::StrCat("pixel_values on the GPU must be BF16, got ",
                                                   core::DTypeName(pixel_values.dtype()),
                                                   " (host tensors may be F32 or F16)"));
  }
  const int64_t n = pixel_values.dim(0);
  if (n > max_patches_) {
    return absl::InvalidArgumentError(
        absl::StrCat("pixel_values has ", n, " patch rows but this CUDA vision encoder was loaded ",
                     "for at most ", max_patches_, " per batch (CudaVisionOptions.max_patches)"));
  }
  QWEN_ASSIGN_OR_RETURN(VisionPlan plan, PlanVisionBatch(grids, n, config_.spatial_merge_size));
  QWEN_RETURN_IF_ERROR(ctx_->Activate());
  if (on_device) {
    cudaPointerAttributes attr{};
    const cudaError_t err = cudaPointerGetAttributes(&attr, pixel_values.raw_data());
    if (err != cudaSuccess || attr.type != cudaMemoryTypeDevice || attr.device != ctx_->device()) {
      cudaGetLastError();
      return absl::InvalidArgumentError(
          absl::StrCat("pixel_values is marked as a CUDA tensor but is not device memory of GPU ",
                       ctx_->device()));
    }
  }

  // Earlier prepared batches lose their inputs from here on, even if the upload fails.
  generation_ = 0;
  QWEN_RETURN_IF_ERROR(Upload(pixel_values, plan));
  generation_ = ++last_generation_;

  PreparedVisionBatch batch;
  batch.num_patches = n;
  batch.num_segments = static_cast<int64_t>(plan.cu_seqlens.size()) - 1;
  batch.grids.assign(grids.begin(), grids.end());
  batch.patch_offsets = std::move(plan.patch_offsets);
  batch.item_offsets = std::move(plan.merged_offsets);
  batch.generation = generation_;
  return batch;
}

absl::Status CudaVisionModel::Upload(const core::Tensor& pixel_values, const VisionPlan& plan) {
  cudaStream_t stream = ctx_->stream();
  // The previous Prepare's copies may still read the pinned buffers (normally long finished:
  // Forward waits for its result).
  QWEN_CUDA_RETURN_IF_ERROR(cudaEventSynchronize(upload_done_),
                            "waiting for the previous vision upload");
  const VisionMetadataLayout layout = PackVisionMetadata(plan, metadata_host_.as<int32_t>());
  QWEN_CUDA_RETURN_IF_ERROR(
      cudaMemcpyAsync(ws_.metadata, metadata_host_.get(), static_cast<size_t>(layout.size) * 4,
                      cudaMemcpyHostToDevice, stream),
      "uploading the vision batch metadata");
  const size_t elems = static_cast<size_t>(plan.num_patches * patch_dim_);
  if (pixel_values.device() == core::Device::kCuda) {
    QWEN_CUDA_RETURN_IF_ERROR(
        cudaMemcpyAsync(ws_.pixels, pixel_values.raw_data(), elems * sizeof(bf16),
                        cudaMemcpyDeviceToDevice, stream),
        "copying the device pixel rows");
  } else {
    // HF casts pixel_values to the vision weights' dtype (bf16) before the patch embedding.
    std::vector<float> scratch;
    core::cuda::ConvertFloating(pixel_values.raw_data(), pixel_values.dtype(), pixels_host_.get(),
                                core::DType::kBF16, elems, scratch);
    QWEN_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(ws_.pixels, pixels_host_.get(), elems * sizeof(bf16),
                                              cudaMemcpyHostToDevice, stream),
                              "uploading the pixel rows");
  }
  QWEN_CUDA_RETURN_IF_ERROR(cudaEventRecord(upload_done_, stream), "recording the vision upload");
  return absl::OkStatus();
}

absl::StatusOr<DeviceVisionOutput> CudaVisionModel::Encode(const PreparedVisionBatch& batch) {
  if (batch.generation == 0 || batch.generation != generation_) {
    return absl::FailedPreconditionError(
        "the prepared vision batch is stale: Prepare (or Forward) has been called since, or its "
        "upload failed");
  }
  QWEN_RETURN_IF_ERROR(ctx_->Activate());
  const core::VisionConfig& c = config_;
  const int64_t n = batch.num_patches, h = c.hidden_size;
  const VisionMetadataLayout layout = VisionMetadataLayoutFor(batch.num_segments, n);
  VisionStep s;
  s.stream = ctx_->stream();
  s.cublas = &ctx_->cublas();
  s.config = &c;
  s.ws = &ws_;
  s.num_patches = n;
  s.num_segments = batch.num_segments;
  s.cu_seqlens = ws_.metadata + layout.cu_seqlens;
  s.rows = ws_.metadata + layout.rows;
  s.cols = ws_.metadata + layout.cols;

  // MODEL.md 4.1: the Conv3d with kernel == stride is one GEMM over the flattened patches.
  QWEN_CUDA_RETURN_IF_ERROR(
      kcu::Gemm(*s.cublas, ws_.pixels, weights_.patch_embed_w(), weights_.patch_embed_b(),
                ws_.hidden, {.m = n, .n = h, .k = patch_dim_}, s.stream),
      "vision patch_embed GEMM");
  // MODEL.md 4.2: + the interpolated position table of each item, the same for every frame.
  for (size_t i = 0; i < batch.grids.size(); ++i) {
    const GridThw& g = batch.grids[i];
    bf16* rows = ws_.hidden + batch.patch_offsets[i] * h;
    QWEN_CUDA_RETURN_IF_ERROR(kcu::VisionPosEmbed(weights_.pos_embed(), rows, rows,
                                                  {.side = pos_side_,
                                                   .dim = h,
                                                   .height = g.h,
                                                   .width = g.w,
                                                   .merge_size = c.spatial_merge_size,
                                                   .num_frames = g.t,
                                                   .residual_stride = h,
                                                   .out_stride = h},
                                                  s.stream),
                              absl::StrCat("vision position embedding of item ", i));
  }
  QWEN_RETURN_IF_ERROR(RunBlocks(s, weights_));
  QWEN_RETURN_IF_ERROR(VisionMergerForward(s, weights_.merger()));

  DeviceVisionOutput out;
  out.embeds = ws_.out;
  out.rows = batch.item_offsets.back();
  out.hidden = c.out_hidden_size;
  out.item_offsets = batch.item_offsets;
  return out;
}

absl::StatusOr<VisionOutput> CudaVisionModel::Forward(const core::Tensor& pixel_values,
                                                      std::span<const GridThw> grids) {
  QWEN_ASSIGN_OR_RETURN(const PreparedVisionBatch batch, Prepare(pixel_values, grids));
  QWEN_ASSIGN_OR_RETURN(DeviceVisionOutput dev, Encode(batch));
  const size_t elems = static_cast<size_t>(dev.rows * dev.hidden);
  QWEN_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(out_host_.get(), dev.embeds, elems * sizeof(bf16),
                                            cudaMemcpyDeviceToHost, ctx_->stream()),
                            "copying the vision embeddings");
  QWEN_RETURN_IF_ERROR(Synchronize());
  VisionOutput out;
  out.embeds = core::Tensor::Zeros({dev.rows, dev.hidden}, core::DType::kF32);
  core::ConvertToF32(out_host_.get(), core::DType::kBF16, out.embeds.data<float>(), elems);
  out.item_offsets = std::move(dev.item_offsets);
  return out;
}

}  // namespace qwen::vision::cuda
