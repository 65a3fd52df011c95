#include "text_service/model/cuda/cuda_text_model.h"

#include <cuda_runtime_api.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/cuda/cuda_status.h"
#include "core/dtype.h"
#include "core/logging.h"
#include "core/status.h"
#include "kernels/cuda/conv1d.h"
#include "kernels/cuda/elementwise.h"
#include "kernels/cuda/gated_delta_rule.h"
#include "kernels/cuda/rms_norm.h"
#include "text_service/model/cuda/gated_attention.h"
#include "text_service/model/cuda/gated_deltanet.h"
#include "text_service/model/cuda/mlp.h"
#include "text_service/model/cuda/step.h"

namespace qwen::text::cuda {

namespace kcu = ::qwen::kernels::cuda;
using bf16 = __nv_bfloat16;

namespace {

// Shapes the CUDA kernels accept (their launchers' documented limits), checked once at load so a
// forward never fails on them.
absl::Status CheckSupported(const core::TextConfig& c, const core::cuda::DeviceContext& ctx) {
  if (AttentionHeadDim(c.head_dim) == 0) {
    return absl::UnimplementedError(
        absl::StrCat("head_dim ", c.head_dim, " > 256 is not supported by the CUDA attention"));
  }
  if (c.rotary_dim() < 2 || c.rotary_dim() % 2 != 0 || c.rotary_dim() > 256) {
    return absl::UnimplementedError(
        absl::StrCat("rotary dim ", c.rotary_dim(), " is not supported by the CUDA M-RoPE"));
  }
  if (c.num_layers_of(core::LayerType::kLinearAttention) == 0) return absl::OkStatus();
  const int64_t dk = c.linear_key_head_dim, dv = c.linear_value_head_dim;
  if (dk < 4 || dk > kcu::kMaxGdnHeadDim || dk % 4 != 0 || dv < 1 || dv > kcu::kMaxGdnHeadDim) {
    return absl::UnimplementedError(absl::StrCat(
        "Gated DeltaNet head dims Dk ", dk, " / Dv ", dv,
        " are not supported by the CUDA kernels (Dk a multiple of 4 in [4, 256], Dv in [1, 256])"));
  }
  if (c.linear_conv_kernel_dim < 1 || c.linear_conv_kernel_dim > kcu::kMaxConvKernel) {
    return absl::UnimplementedError(absl::StrCat("conv kernel size ", c.linear_conv_kernel_dim,
                                                 " is not supported (max ", kcu::kMaxConvKernel,
                                                 ")"));
  }
  const int64_t smem = kcu::GatedDeltaRuleChunkedSharedBytes(ctx.gdn_variant(), dk);
  if (smem <= 0 || static_cast<size_t>(smem) > ctx.max_shared_memory_per_block()) {
    return absl::FailedPreconditionError(
        absl::StrCat("the chunked delta-rule kernel ('", kcu::GdnVariantName(ctx.gdn_variant()),
                     "') needs ", smem, " bytes of shared memory per block at Dk ", dk,
                     "; the GPU allows ", ctx.max_shared_memory_per_block()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<CudaTextModel>> CudaTextModel::Load(
    const core::cuda::DeviceContext& ctx, const std::filesystem::path& dir,
    const CudaModelOptions& options) {
  QWEN_RETURN_IF_ERROR(ctx.Activate());
  std::unique_ptr<CudaTextModel> m(new CudaTextModel());
  m->ctx_ = &ctx;
  QWEN_ASSIGN_OR_RETURN(m->config_, core::LoadModelConfig(dir));
  const core::TextConfig& c = m->config_.text;
  QWEN_RETURN_IF_ERROR(CheckSupported(c, ctx));
  QWEN_ASSIGN_OR_RETURN(m->weights_, DeviceWeights::Load(ctx, dir, m->config_));

  size_t free_bytes = 0, total_bytes = 0;
  QWEN_RETURN_IF_ERROR(ctx.MemoryInfo(&free_bytes, &total_bytes));
  QWEN_ASSIGN_OR_RETURN(m->plan_,
                        PlanMemory(c, options, m->weights_.bytes(), free_bytes, total_bytes));
  const MemoryPlan& p = m->plan_;
  m->limits_ = {.vocab_size = c.vocab_size,
                .hidden_size = c.hidden_size,
                .max_position_embeddings = c.max_position_embeddings,
                .max_batched_tokens = p.max_batched_tokens,
                .max_seqs = p.max_seqs};

  // Workspace: one allocation, laid out once.
  const WorkspaceDims dims{.max_tokens = p.max_batched_tokens,
                           .max_seqs = p.max_seqs,
                           .logits_rows = p.max_logits_rows,
                           .metadata_capacity = p.metadata_capacity,
                           .attention_head_dim = p.attention_head_dim};
  QWEN_ASSIGN_OR_RETURN(m->workspace_memory_,
                        core::cuda::DeviceMemory::Allocate(p.workspace_bytes, "forward workspace"));
  LayoutWorkspace(c, dims, m->workspace_memory_.at<char>(0), &m->ws_);
  if (m->ws_.pad_bytes > 0) {
    // The zero pad columns of the padded attention buffers are never written afterwards.
    QWEN_CUDA_RETURN_IF_ERROR(cudaMemsetAsync(m->workspace_memory_.at<char>(m->ws_.pad_offset), 0,
                                              m->ws_.pad_bytes, ctx.stream()),
                              "clearing the padded attention buffers");
  }

  // Caches: KV page pools of the full-attention layers, then DeltaNet state pools.
  QWEN_ASSIGN_OR_RETURN(m->cache_memory_, core::cuda::DeviceMemory::Allocate(
                                              p.cache_bytes(), "KV cache and DeltaNet states"));
  size_t at = 0;
  for (core::LayerType t : c.layer_types) {
    if (t != core::LayerType::kFullAttention) continue;
    m->k_pages_.push_back(m->cache_memory_.at<bf16>(at));
    at += p.kv_pool_bytes();
    m->v_pages_.push_back(m->cache_memory_.at<bf16>(at));
    at += p.kv_pool_bytes();
  }
  for (core::LayerType t : c.layer_types) {
    if (t != core::LayerType::kLinearAttention) continue;
    m->conv_states_.push_back(m->cache_memory_.at<float>(at));
    at += p.conv_pool_bytes();
    m->recurrent_states_.push_back(m->cache_memory_.at<float>(at));
    at += p.state_pool_bytes();
  }
  QWEN_CHECK(at == p.cache_bytes()) << "cache layout differs from the memory plan";

  QWEN_ASSIGN_OR_RETURN(m->metadata_host_, core::cuda::PinnedMemory::Allocate(
                                               static_cast<size_t>(p.metadata_capacity) * 4,
                                               "batch metadata staging"));
  QWEN_ASSIGN_OR_RETURN(
      m->embed_host_, core::cuda::PinnedMemory::Allocate(
                          static_cast<size_t>(p.max_batched_tokens) * c.hidden_size * sizeof(bf16),
                          "embedding rows staging"));
  m->cache_ = std::make_unique<CacheAllocator>(
      p.max_slots, p.num_pages, kPageSize, p.max_pages_per_sequence,
      c.num_layers_of(core::LayerType::kFullAttention) > 0);
  QWEN_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(ctx.stream()), "loading the CUDA model");
  QWEN_LOG(Info) << "CUDA text model " << dir.string() << ": " << p.Describe();
  return m;
}

CudaTextModel::~CudaTextModel() {
  if (cache_ != nullptr && cache_->num_free_slots() != cache_->num_slots()) {
    QWEN_LOG(Error) << "CudaTextModel destroyed with "
                    << cache_->num_slots() - cache_->num_free_slots()
                    << " live sequences; their handles now dangle";
  }
  if (ctx_ != nullptr) {
    ctx_->Activate().IgnoreError();
    cudaStreamSynchronize(ctx_->stream());
  }
}

absl::StatusOr<core::Tensor> CudaTextModel::Forward(const CudaForwardBatch& batch,
                                                    LogitsMode mode) {
  QWEN_RETURN_IF_ERROR(ctx_->Activate());
  QWEN_ASSIGN_OR_RETURN(
      const BatchPlan plan,
      PlanBatch(batch, limits_, *cache_, metadata_host_.as<int32_t>(), plan_.metadata_capacity));
  if (plan.num_embed_rows > 0) {
    core::ConvertFromF32(batch.embed_rows.data(), embed_host_.get(), core::DType::kBF16,
                         batch.embed_rows.size());
  }
  const int64_t rows = mode == LogitsMode::kAll ? plan.num_tokens : plan.num_seqs;
  core::Tensor logits = core::Tensor::Zeros({rows, config_.text.vocab_size}, core::DType::kF32);
  QWEN_RETURN_IF_ERROR(Enqueue(plan, mode, logits));
  for (const CudaSequenceSpan& span : batch.sequences) cache_->Advance(*span.sequence, span.length);
  return logits;
}

absl::Status CudaTextModel::Enqueue(const BatchPlan& plan, LogitsMode mode, core::Tensor& logits) {
  const core::TextConfig& c = config_.text;
  const int64_t n = plan.num_tokens, h = c.hidden_size, vocab = c.vocab_size;
  cudaStream_t stream = ctx_->stream();
  const Workspace& ws = ws_;

  // The step's metadata: one upload (plus the injected rows, when any).
  QWEN_CUDA_RETURN_IF_ERROR(
      cudaMemcpyAsync(ws.metadata, metadata_host_.get(), static_cast<size_t>(plan.size) * 4,
                      cudaMemcpyHostToDevice, stream),
      "uploading the batch metadata");
  if (plan.num_embed_rows > 0) {
    QWEN_CUDA_RETURN_IF_ERROR(
        cudaMemcpyAsync(ws.embed_rows, embed_host_.get(),
                        static_cast<size_t>(plan.num_embed_rows * h) * sizeof(bf16),
                        cudaMemcpyHostToDevice, stream),
        "uploading the injected embedding rows");
  }
  Step s;
  s.stream = stream;
  s.cublas = &ctx_->cublas();
  s.gdn_variant = ctx_->gdn_variant();
  s.config = &c;
  s.ws = &ws;
  s.plan = &plan;
  s.attention_head_dim = plan_.attention_head_dim;
  s.page_size = kPageSize;
  s.token_ids = ws.metadata + plan.token_ids;
  s.positions = ws.metadata + plan.positions;
  s.embed_index = ws.metadata + plan.embed_index;
  s.cu_seqlens = ws.metadata + plan.cu_seqlens;
  s.cached_lens = ws.metadata + plan.cached_lens;
  s.state_slots = ws.metadata + plan.state_slots;
  s.has_initial_state = ws.metadata + plan.has_initial_state;
  s.last_rows = ws.metadata + plan.last_rows;
  s.block_table = ws.metadata + plan.block_table;

  // MODEL.md 2.2 (+ 5): embeddings, injected rows where requested.
  const bool inject = plan.num_embed_rows > 0;
  QWEN_CUDA_RETURN_IF_ERROR(
      kcu::EmbeddingGather(
          weights_.embed_tokens(), s.token_ids, inject ? ws.embed_rows : nullptr,
          inject ? s.embed_index : nullptr, ws.hidden,
          {.num_tokens = n, .dim = h, .vocab_size = vocab, .out_stride = h, .inject_stride = h},
          stream),
      "embedding gather");

  // MODEL.md 2.4: pre-norm residual layers. The residual stream stays bf16 (as in HF); each
  // residual add is fused with the next RMSNorm (the post-attention norm, then the next layer's
  // input norm or the final norm).
  const float eps = static_cast<float>(c.rms_norm_eps);
  const std::vector<DeviceLayer>& layers = weights_.layers();
  const bf16* first_norm = layers.empty() ? weights_.final_norm() : layers[0].input_layernorm;
  QWEN_CUDA_RETURN_IF_ERROR(kcu::RmsNorm(ws.hidden, first_norm, ws.normed,
                                         {.num_tokens = n,
                                          .num_heads = 1,
                                          .dim = h,
                                          .x_token_stride = h,
                                          .x_head_stride = h,
                                          .y_token_stride = h,
                                          .y_head_stride = h,
                                          .eps = eps,
                                          .weight_offset = 1.0f},
                                         stream),
                            "input_layernorm");
  const kcu::AddRmsNormParams add_norm{.num_tokens = n,
                                       .dim = h,
                                       .x_stride = h,
                                       .residual_stride = h,
                                       .y_stride = h,
                                       .eps = eps,
                                       .weight_offset = 1.0f};
  for (size_t i = 0; i < layers.size(); ++i) {
    const DeviceLayer& l = layers[i];
    if (l.type == core::LayerType::kFullAttention) {
      QWEN_RETURN_IF_ERROR(GatedAttentionForward(s, l.full, k_pages_[l.state_index],
                                                 v_pages_[l.state_index], ws.normed, ws.mix));
    } else {
      QWEN_RETURN_IF_ERROR(GatedDeltaNetForward(s, l.linear, conv_states_[l.state_index],
                                                recurrent_states_[l.state_index], ws.normed,
                                                ws.mix));
    }
    QWEN_CUDA_RETURN_IF_ERROR(
        kcu::AddRmsNorm(ws.mix, ws.hidden, l.post_attention_layernorm, ws.normed, add_norm, stream),
        "residual + post_attention_layernorm");
    QWEN_RETURN_IF_ERROR(MlpForward(s, l, ws.normed, ws.mix));
    const bf16* next_norm =
        i + 1 < layers.size() ? layers[i + 1].input_layernorm : weights_.final_norm();
    QWEN_CUDA_RETURN_IF_ERROR(
        kcu::AddRmsNorm(ws.mix, ws.hidden, next_norm, ws.normed, add_norm, stream),
        i + 1 < layers.size() ? "residual + input_layernorm" : "residual + final norm");
  }

  // MODEL.md 2.9: LM head on the selected rows (fp32 logits), in chunks of the logits buffer.
  const bf16* rows_src = ws.normed;
  const int64_t rows = logits.dim(0);
  if (mode == LogitsMode::kLast) {
    // Gather each sequence's last row (the gather kernel reads `normed` as an [N, H] table).
    QWEN_CUDA_RETURN_IF_ERROR(kcu::EmbeddingGather(ws.normed, s.last_rows, nullptr, nullptr, ws.mix,
                                                   {.num_tokens = plan.num_seqs,
                                                    .dim = h,
                                                    .vocab_size = n,
                                                    .out_stride = h,
                                                    .inject_stride = h},
                                                   stream),
                              "gathering the last rows");
    rows_src = ws.mix;
  }
  float* host = logits.data<float>();
  for (int64_t r0 = 0; r0 < rows; r0 += plan_.max_logits_rows) {
    const int64_t m = std::min(plan_.max_logits_rows, rows - r0);
    QWEN_CUDA_RETURN_IF_ERROR(
        kcu::GemmF32Out(ctx_->cublas(), rows_src + r0 * h, weights_.lm_head(), nullptr, ws.logits,
                        {.m = m, .n = vocab, .k = h}, stream),
        "lm_head GEMM");
    QWEN_CUDA_RETURN_IF_ERROR(
        cudaMemcpyAsync(host + r0 * vocab, ws.logits, static_cast<size_t>(m * vocab) * 4,
                        cudaMemcpyDeviceToHost, stream),
        "copying the logits");
  }
  QWEN_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream), "running the forward pass");
  return absl::OkStatus();
}

}  // namespace qwen::text::cuda
