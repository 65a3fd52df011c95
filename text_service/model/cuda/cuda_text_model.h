// Qwen3.5 hybrid text decoder on one GPU (MODEL.md 2): bf16 weights and activations with fp32
// accumulation, fp32 norms/softmax/gates and fp32 DeltaNet state, as the CUDA kernels provide
// (kernels/cuda/*.h). Runs a flattened varlen batch (all new tokens of all sequences in one
// [N, H] activation) in one launch sequence: the step's metadata (token ids, positions,
// cu_seqlens, cached lengths, state slots, block tables) is packed on the host and uploaded with
// one copy, the layers run on the context's stream without host synchronisation, and the only
// sync is the final copy of the logits. Per-sequence decoder state lives in the model's page and
// slot pools (memory_plan.h) and is owned by CudaSequence handles.
//
// Typical use:
//   auto ctx = core::cuda::DeviceContext::Create();
//   auto model = CudaTextModel::Load(**ctx, dir, {.max_batched_tokens = 2048,
//                                                 .gpu_memory_fraction = 0.9});
//   CudaSequence seq = *(*model)->NewSequence();
//   auto logits = (*model)->Forward({.token_ids = ids, .sequences = {{n, &seq}}},
//   LogitsMode::kLast);
//
// Decode steps (every sequence adds one token to a non-empty cache) replay CUDA graphs
// (decode_graphs.h) unless CudaModelOptions::cuda_graphs is false; ForwardSample samples on the GPU
// and copies back only the chosen tokens.
//
// Not thread-safe (one stream, one workspace): one caller at a time. The core::cuda::DeviceContext
// must outlive the model, and the model every CudaSequence it made.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "core/config.h"
#include "core/cuda/device_context.h"
#include "core/cuda/device_memory.h"
#include "core/tensor.h"
#include "kernels/cuda/sampling.h"
#include "text_service/model/cuda/batch_plan.h"
#include "text_service/model/cuda/cache_allocator.h"
#include "text_service/model/cuda/decode_graphs.h"
#include "text_service/model/cuda/device_weights.h"
#include "text_service/model/cuda/memory_plan.h"
#include "text_service/model/cuda/workspace.h"
#include "text_service/model/text_model.h"  // LogitsMode

namespace qwen::text::cuda {

struct Step;

// How ForwardSample picks each sequence's next token (kernels/cuda/sampling.h).
struct CudaSamplingInputs {
  std::span<const kernels::cuda::SamplingRowParams> rows = {};  // [S], in batch order
  // Penalty token lists, CSR by sequence (kernels/cuda/sampling.h PenaltyTokens): offsets [S + 1]
  // from 0, tokens and counts [offsets[S]] (<= max_penalty_tokens). All empty: no penalties.
  std::span<const int32_t> penalty_offsets = {};
  std::span<const int32_t> penalty_tokens = {};
  std::span<const int32_t> penalty_counts = {};
  int64_t num_top_logprobs = 0;  // [0, 32]
};

struct CudaSampled {
  std::vector<int32_t> tokens;      // [S]
  std::vector<float> logprobs;      // [S]: raw log-probability of each chosen token
  std::vector<int32_t> top_tokens;  // [S, num_top_logprobs], best first
  std::vector<float> top_logprobs;  // [S, num_top_logprobs]
};

class CudaTextModel {
 public:
  // Loads config.json and the text weights of the checkpoint in `dir` onto ctx's GPU and plans
  // its memory (MemoryPlan, logged). Errors: those of DeviceWeights::Load and PlanMemory;
  // Unimplemented for shapes the kernels do not support (head dims, conv kernel size).
  static absl::StatusOr<std::unique_ptr<CudaTextModel>> Load(const core::cuda::DeviceContext& ctx,
                                                             const std::filesystem::path& dir,
                                                             const CudaModelOptions& options);
  ~CudaTextModel();
  CudaTextModel(const CudaTextModel&) = delete;
  CudaTextModel& operator=(const CudaTextModel&) = delete;

  const core::ModelConfig& model_config() const { return config_; }
  const core::TextConfig& config() const { return config_.text; }
  const MemoryPlan& memory_plan() const { return plan_; }
  const core::cuda::DeviceContext& context() const { return *ctx_; }
  // Free slots and pages (the engine's admission control reads these).
  const CacheAllocator& cache() const { return *cache_; }
  // For reserving a sequence's pages ahead of its forwards (CacheAllocator::Reserve).
  CacheAllocator& mutable_cache() { return *cache_; }

  // A new empty sequence (one DeltaNet state slot); ResourceExhausted when all slots are taken.
  absl::StatusOr<CudaSequence> NewSequence() { return cache_->NewSequence(); }

  // Runs the new tokens of every sequence of `batch`, appends them to the sequences' caches and
  // advances their num_tokens. Returns host f32 logits [N, V] (kAll) or [S, V] (kLast: the last
  // new token of each sequence). Invalid batches are InvalidArgument and a full KV cache
  // ResourceExhausted, both before anything is launched or any state changes. After a CUDA error
  // the states of the batch's sequences are undefined: release them.
  absl::StatusOr<core::Tensor> Forward(const CudaForwardBatch& batch, LogitsMode mode);

  // Runs `batch` like Forward and samples the next token of every sequence on the GPU from the
  // logits of its last new token. Invalid sampling inputs are InvalidArgument, checked before
  // anything runs or any state changes.
  absl::StatusOr<CudaSampled> ForwardSample(const CudaForwardBatch& batch,
                                            const CudaSamplingInputs& sampling);

  // Decode graphs captured so far (0 with cuda_graphs off).
  int64_t num_decode_graphs() const { return graphs_ == nullptr ? 0 : graphs_->num_graphs(); }

 private:
  CudaTextModel() = default;
  // Validates and packs `batch` (padded for a decode graph when one applies) into the pinned
  // metadata buffer and stages its injected rows; sets *graph_width to the width bucket, or 0 when
  // the step runs eagerly.
  absl::StatusOr<BatchPlan> Prepare(const CudaForwardBatch& batch, int64_t* graph_width);
  // Uploads the staged metadata (and injected rows) of `plan`.
  absl::Status Upload(const BatchPlan& plan);
  Step MakeStep(const BatchPlan& plan) const;
  // Embeddings, layers and final norm; sets *rows to the normed rows the LM head reads (the last
  // row of each sequence for kLast, gathered; every row for kAll).
  absl::Status EnqueueLayers(const Step& s, LogitsMode mode, const __nv_bfloat16** rows);
  // LM head of rows [r0, r0 + m) of `rows` into ws_.logits (m <= max_logits_rows).
  absl::Status EnqueueLmHead(const __nv_bfloat16* rows, int64_t r0, int64_t m);
  // Runs `plan` through the logits of its first rows (decode graphs: all of them); calls
  // `per_chunk(r0, m)` after each LM-head chunk of rows [r0, r0 + m) is in ws_.logits.
  absl::Status Run(const BatchPlan& plan, int64_t graph_width, LogitsMode mode, int64_t rows,
                   const std::function<absl::Status(int64_t, int64_t)>& per_chunk);
  absl::Status CheckSampling(const CudaSamplingInputs& sampling, int64_t num_seqs) const;

  const core::cuda::DeviceContext* ctx_ = nullptr;
  core::ModelConfig config_;
  MemoryPlan plan_;
  BatchLimits limits_;
  DeviceWeights weights_;
  core::cuda::DeviceMemory workspace_memory_;
  Workspace ws_;
  core::cuda::DeviceMemory cache_memory_;
  std::vector<__nv_bfloat16*> k_pages_;     // per full-attention layer: [pages, 16, Hkv, Da]
  std::vector<__nv_bfloat16*> v_pages_;     // per full-attention layer: [pages, 16, Hkv, Da]
  std::vector<float*> conv_states_;         // per linear layer: f32 [slots, Kc-1, conv_dim]
  std::vector<float*> recurrent_states_;    // per linear layer: f32 [slots, Hv, Dk, Dv]
  core::cuda::PinnedMemory metadata_host_;  // i32 [metadata_capacity]
  core::cuda::PinnedMemory embed_host_;     // bf16 [N, H] injected rows staging
  std::unique_ptr<CacheAllocator> cache_;
  core::cuda::PinnedMemory sampling_host_;  // pinned mirror of ws_.sampling
  SamplingBuffers sampling_host_view_;
  CudaSequence graph_padding_;  // owns the padding rows' slot and page
  std::unique_ptr<DecodeGraphs> graphs_;
};

}  // namespace qwen::text::cuda
