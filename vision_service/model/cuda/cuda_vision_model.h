// The Qwen3.5 vision encoder on one GPU: the twin of the CPU fp32 VisionModel
// (vision_service/model/vision_model.h, MODEL.md 4) with bf16 weights and activations, fp32
// statistics / accumulation / RoPE / softmax inside the kernels (kernels/cuda/vision.h,
// vision_attention.h, gemm.h), in the CPU model's op order. Encodes a varlen batch of images and
// videos (all patch rows in one [N, patch_dim] tensor, items in grid order) at once.
//
// A forward is two steps, which callers may also run separately:
//   Prepare: validates the inputs exactly as the CPU model does (plus N <= max_patches), converts
//            the pixel rows to bf16 and uploads them and the batch metadata (one copy each);
//   Encode:  enqueues the encoder on the context's stream without host synchronisation and
//            leaves the bf16 result in the model's workspace.
// Forward = Prepare + Encode + one copy of the result to the host (the only sync).
// To time the GPU alone (e.g. a benchmark on 448², 1024² and 2048² images): Prepare once, then
// time Encode + Synchronize, repeatedly (Encode never modifies the prepared inputs).
//
// Typical use:
//   auto ctx = core::cuda::DeviceContext::Create();
//   auto encoder = CudaVisionModel::Load(**ctx, dir, {.max_patches = 16384});
//   absl::StatusOr<VisionOutput> out = (*encoder)->Forward(pixel_values, grids);
//
// Memory is allocated at Load only (weights, a workspace for max_patches rows, pinned staging,
// and the cuBLASLt context's bias scratch), never in a forward. Not thread-safe (one stream, one
// workspace): one caller at a time. The DeviceContext must outlive the model.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "core/config.h"
#include "core/cuda/device_context.h"
#include "core/cuda/device_memory.h"
#include "core/tensor.h"
#include "vision_service/model/cuda/device_weights.h"
#include "vision_service/model/cuda/workspace.h"
#include "vision_service/model/vision_grid.h"
#include "vision_service/model/vision_model.h"  // VisionOutput

namespace qwen::vision::cuda {

struct CudaVisionOptions {
  // Most patch rows (sum of t*h*w over the items) one batch may have; the workspace is sized for
  // it at load. 16384 = one 2048x2048 image (128 x 128 patches of 16 px). At most 1 << 24.
  int64_t max_patches = 16384;
};

// A batch whose pixel rows and metadata are on the GPU (Prepare), ready for Encode. Valid until
// the next Prepare (or Forward) of the same model, which replaces the device-side inputs.
struct PreparedVisionBatch {
  int64_t num_patches = 0;   // N
  int64_t num_segments = 0;  // attention segments: one per temporal slice of every item
  std::vector<GridThw> grids;
  // [num_items + 1]: item i owns pixel rows [patch_offsets[i], patch_offsets[i+1]) and merged
  // rows [item_offsets[i], item_offsets[i+1]).
  std::vector<int64_t> patch_offsets;
  std::vector<int64_t> item_offsets;
  uint64_t generation = 0;  // which Prepare made it (Encode rejects stale batches)
};

// The merged embeddings Encode leaves on the GPU, e.g. for injection into the CUDA text model.
struct DeviceVisionOutput {
  // Device bf16 [rows, hidden], contiguous, in the model's workspace: valid until the next
  // Encode / Forward; complete once the context's stream reaches the end of Encode's work.
  const __nv_bfloat16* embeds = nullptr;
  int64_t rows = 0;    // sum_i t_i*h_i*w_i / m²
  int64_t hidden = 0;  // out_hidden_size
  // [num_items + 1]: item i owns rows [item_offsets[i], item_offsets[i+1]) (as VisionOutput).
  std::vector<int64_t> item_offsets;
};

class CudaVisionModel {
 public:
  // Loads config.json (which must have a vision_config: else FailedPrecondition) and the vision
  // weights of the checkpoint in `dir` onto ctx's GPU as bf16, and sizes the workspace for
  // options.max_patches. Errors: those of the CPU loader (InvalidArgument / NotFound naming the
  // config field or tensor); InvalidArgument for bad options; Unimplemented for shapes the CUDA
  // kernels do not support (head dim not a multiple of 8 or over 128, ...); ResourceExhausted
  // when the GPU or pinned host memory is too small.
  static absl::StatusOr<std::unique_ptr<CudaVisionModel>> Load(const core::cuda::DeviceContext& ctx,
                                                               const std::filesystem::path& dir,
                                                               const CudaVisionOptions& options);
  ~CudaVisionModel();
  CudaVisionModel(const CudaVisionModel&) = delete;
  CudaVisionModel& operator=(const CudaVisionModel&) = delete;

  const core::VisionConfig& config() const { return config_; }
  // Width of a pixel_values row: in_channels * temporal_patch_size * patch_size² (1536).
  int64_t patch_dim() const { return patch_dim_; }
  int64_t max_patches() const { return max_patches_; }
  size_t weight_bytes() const { return weights_.bytes(); }
  size_t workspace_bytes() const { return workspace_memory_.bytes(); }
  const core::cuda::DeviceContext& context() const { return *ctx_; }

  // pixel_values: host [N, patch_dim] F32, BF16 or F16 (rows of all items in `grids` order, each
  // item's rows in merge-block order as the processor emits them). Returns host f32 embeddings
  // (each value a bf16 number) and item offsets laid out exactly as VisionModel::Forward's.
  // Invalid inputs are InvalidArgument (as the CPU model's, or N > max_patches naming both
  // numbers), returned before anything reaches the GPU.
  absl::StatusOr<VisionOutput> Forward(const core::Tensor& pixel_values,
                                       std::span<const GridThw> grids);

  // Validates and uploads a batch: pixel_values as for Forward, or a device tensor
  // (core::Device::kCuda, BF16 [N, patch_dim] on the context's GPU, copied on the context's
  // stream: keep it alive until that copy has run, e.g. until Synchronize).
  // Invalidates earlier prepared batches. Waits only for the previous Prepare's uploads to have
  // left the pinned staging buffers. Errors as Forward's; nothing changes on an error raised
  // before the upload starts (every input error).
  absl::StatusOr<PreparedVisionBatch> Prepare(const core::Tensor& pixel_values,
                                              std::span<const GridThw> grids);

  // Enqueues the encoder on the batch of the latest Prepare (FailedPrecondition for an older
  // one) and returns without waiting; the result is in the workspace (DeviceVisionOutput).
  // Asynchronous CUDA failures surface at the next synchronisation (Synchronize, Forward).
  absl::StatusOr<DeviceVisionOutput> Encode(const PreparedVisionBatch& batch);

  // Waits for everything queued on the context's stream.
  absl::Status Synchronize() const;

 private:
  CudaVisionModel() = default;
  // Packs the metadata and stages the pixel rows (validated) in pinned memory, then queues both
  // uploads.
  absl::Status Upload(const core::Tensor& pixel_values, const VisionPlan& plan);

  const core::cuda::DeviceContext* ctx_ = nullptr;
  core::VisionConfig config_;
  int64_t patch_dim_ = 0;
  int64_t pos_side_ = 0;  // S: pos_embed is an S x S grid
  int64_t max_patches_ = 0;
  VisionDeviceWeights weights_;
  core::cuda::DeviceMemory workspace_memory_;
  VisionWorkspace ws_;
  core::cuda::PinnedMemory pixels_host_;    // bf16 [max_patches, patch_dim] staging
  core::cuda::PinnedMemory metadata_host_;  // i32 [VisionMetadataElems(max_patches)] staging
  core::cuda::PinnedMemory out_host_;       // bf16 [max_patches / m², out_hidden] result
  cudaEvent_t upload_done_ = nullptr;       // recorded after each Prepare's uploads
  uint64_t generation_ = 0;                 // of the prepared batch on the GPU; 0: none
  uint64_t last_generation_ = 0;
};

}  // namespace qwen::vision::cuda
