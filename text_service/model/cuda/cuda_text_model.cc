#include "text_service/model/cuda/cuda_text_model.h"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>

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
  // The decode graphs' padding rows hold one slot and one page on top of explicit sizes.
  CudaModelOptions planned = options;
  if (options.cuda_graphs) {
    if (planned.max_slots > 0) ++planned.max_slots;
    if (planned.num_pages > 0) ++planned.num_pages;
  }
  QWEN_ASSIGN_OR_RETURN(m->plan_,
                        PlanMemory(c, planned, m->weights_.bytes(), free_bytes, total_bytes));
  if (options.cuda_graphs && options.max_slots == 0 && m->plan_.max_slots == m->plan_.max_seqs) {
    // Derived slots are capped at max_seqs: plan the padding slot on top so that max_seqs
    // sequences can still run at once (kept only if it fits).
    CudaModelOptions one_more = planned;
    one_more.max_slots = m->plan_.max_slots + 1;
    absl::StatusOr<MemoryPlan> replanned =
        PlanMemory(c, one_more, m->weights_.bytes(), free_bytes, total_bytes);
    if (replanned.ok()) m->plan_ = *replanned;
  }
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
                           .attention_head_dim = p.attention_head_dim,
                           .max_penalty_tokens = p.max_penalty_tokens};
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
  QWEN_ASSIGN_OR_RETURN(
      m->sampling_host_,
      core::cuda::PinnedMemory::Allocate(
          m->ws_.sampling.inputs_bytes + m->ws_.sampling.outputs_bytes, "sampling staging"));
  LayoutSamplingBuffers(p.max_seqs, p.max_penalty_tokens, m->sampling_host_.as<char>(),
                        &m->sampling_host_view_);
  m->cache_ = std::make_unique<CacheAllocator>(
      p.max_slots, p.num_pages, kPageSize, p.max_pages_per_sequence,
      c.num_layers_of(core::LayerType::kFullAttention) > 0);
  if (options.cuda_graphs) {
    const int64_t max_batch = std::min({p.max_seqs, p.max_logits_rows, p.max_batched_tokens});
    const bool pages_ok = !m->cache_->uses_pages() || m->cache_->num_pages() >= 2;
    if (m->cache_->num_slots() >= 2 && pages_ok && max_batch >= 1) {
      QWEN_ASSIGN_OR_RETURN(m->graph_padding_, m->cache_->NewSequence());
      if (m->cache_->uses_pages()) QWEN_RETURN_IF_ERROR(m->cache_->Reserve(m->graph_padding_, 1));
      // Width buckets from 64 pages (1024 tokens): short contexts share one graph per batch size.
      m->graphs_ = std::make_unique<DecodeGraphs>(max_batch, 64, p.max_pages_per_sequence);
    } else {
      QWEN_LOG(Warning)
          << "CUDA graphs off: the cache is too small to spare a padding slot and page";
    }
  }
  QWEN_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(ctx.stream()), "loading the CUDA model");
  QWEN_LOG(Info) << "CUDA text model " << dir.string() << ": " << p.Describe() << "; decode "
                 << (m->graphs_ != nullptr ? absl::StrCat("CUDA graphs for batches up to ",
                                                          m->graphs_->batch_buckets().back())
                                           : std::string("without CUDA graphs"));
  return m;
}

CudaTextModel::~CudaTextModel() {
  graph_padding_.Release();  // the model's own sequence, not a caller's
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

absl::StatusOr<BatchPlan> CudaTextModel::Prepare(const CudaForwardBatch& batch,
                                                 int64_t* graph_width) {
  *graph_width = 0;
  DecodePadding padding;
  const DecodePadding* pad = nullptr;
  if (graphs_ != nullptr && IsDecodeBatch(batch) && batch.embed_rows.empty() &&
      batch.positions.empty()) {
    const int64_t bucket = graphs_->BatchBucket(static_cast<int64_t>(batch.sequences.size()));
    const int64_t width = BlockTableWidth(batch, *cache_);
    if (bucket > 0 && width <= cache_->max_pages_per_sequence()) {
      padding = {.num_seqs = bucket,
                 .block_table_stride = graphs_->WidthBucket(width),
                 .slot = graph_padding_.slot(),
                 .page = graph_padding_.pages().empty() ? 0 : graph_padding_.pages()[0]};
      pad = &padding;
    }
  }
  QWEN_ASSIGN_OR_RETURN(BatchPlan plan,
                        PlanBatch(batch, limits_, *cache_, metadata_host_.as<int32_t>(),
                                  plan_.metadata_capacity, pad));
  if (plan.num_embed_rows > 0) {
    core::ConvertFromF32(batch.embed_rows.data(), embed_host_.get(), core::DType::kBF16,
                         batch.embed_rows.size());
  }
  if (pad != nullptr) *graph_width = padding.block_table_stride;
  return plan;
}

absl::Status CudaTextModel::Upload(const BatchPlan& plan) {
  cudaStream_t stream = ctx_->stream();
  QWEN_CUDA_RETURN_IF_ERROR(
      cudaMemcpyAsync(ws_.metadata, metadata_host_.get(), static_cast<size_t>(plan.size) * 4,
                      cudaMemcpyHostToDevice, stream),
      "uploading the batch metadata");
  if (plan.num_embed_rows > 0) {
    QWEN_CUDA_RETURN_IF_ERROR(
        cudaMemcpyAsync(
            ws_.embed_rows, embed_host_.get(),
            static_cast<size_t>(plan.num_embed_rows * config_.text.hidden_size) * sizeof(bf16),
            cudaMemcpyHostToDevice, stream),
        "uploading the injected embedding rows");
  }
  return absl::OkStatus();
}

Step CudaTextModel::MakeStep(const BatchPlan& plan) const {
  Step s;
  s.stream = ctx_->stream();
  s.cublas = &ctx_->cublas();
  s.gdn_variant = ctx_->gdn_variant();
  s.config = &config_.text;
  s.ws = &ws_;
  s.plan = &plan;
  s.attention_head_dim = plan_.attention_head_dim;
  s.page_size = kPageSize;
  s.token_ids = ws_.metadata + plan.token_ids;
  s.positions = ws_.metadata + plan.positions;
  s.embed_index = ws_.metadata + plan.embed_index;
  s.cu_seqlens = ws_.metadata + plan.cu_seqlens;
  s.cached_lens = ws_.metadata + plan.cached_lens;
  s.state_slots = ws_.metadata + plan.state_slots;
  s.has_initial_state = ws_.metadata + plan.has_initial_state;
  s.last_rows = ws_.metadata + plan.last_rows;
  s.block_table = ws_.metadata + plan.block_table;
  return s;
}

absl::Status CudaTextModel::EnqueueLayers(const Step& s, LogitsMode mode, const bf16** rows) {
  const core::TextConfig& c = config_.text;
  const BatchPlan& plan = *s.plan;
  const int64_t n = plan.num_tokens, h = c.hidden_size, vocab = c.vocab_size;
  cudaStream_t stream = s.stream;
  const Workspace& ws = ws_;

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

  *rows = ws.normed;
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
    *rows = ws.mix;
  }
  return absl::OkStatus();
}

absl::Status CudaTextModel::EnqueueLmHead(const bf16* rows, int64_t r0, int64_t m) {
  // MODEL.md 2.9: fp32 logits.
  const int64_t h = config_.text.hidden_size;
  QWEN_CUDA_RETURN_IF_ERROR(
      kcu::GemmF32Out(ctx_->cublas(), rows + r0 * h, weights_.lm_head(), nullptr, ws_.logits,
                      {.m = m, .n = config_.text.vocab_size, .k = h}, ctx_->stream()),
      "lm_head GEMM");
  return absl::OkStatus();
}

absl::Status CudaTextModel::Run(const BatchPlan& plan, int64_t graph_width, LogitsMode mode,
                                int64_t rows,
                                const std::function<absl::Status(int64_t, int64_t)>& per_chunk) {
  QWEN_RETURN_IF_ERROR(Upload(plan));
  const Step s = MakeStep(plan);
  if (graph_width > 0) {
    // The padded step, LM head included (plan.num_seqs <= max_logits_rows by the bucket cap).
    QWEN_RETURN_IF_ERROR(
        graphs_->Run(plan.num_seqs, graph_width, ctx_->stream(), [&]() -> absl::Status {
          const bf16* src = nullptr;
          QWEN_RETURN_IF_ERROR(EnqueueLayers(s, LogitsMode::kLast, &src));
          return EnqueueLmHead(src, 0, plan.num_seqs);
        }));
    return per_chunk(0, rows);
  }
  const bf16* src = nullptr;
  QWEN_RETURN_IF_ERROR(EnqueueLayers(s, mode, &src));
  for (int64_t r0 = 0; r0 < rows; r0 += plan_.max_logits_rows) {
    const int64_t m = std::min(plan_.max_logits_rows, rows - r0);
    QWEN_RETURN_IF_ERROR(EnqueueLmHead(src, r0, m));
    QWEN_RETURN_IF_ERROR(per_chunk(r0, m));
  }
  return absl::OkStatus();
}

absl::StatusOr<core::Tensor> CudaTextModel::Forward(const CudaForwardBatch& batch,
                                                    LogitsMode mode) {
  QWEN_RETURN_IF_ERROR(ctx_->Activate());
  int64_t graph_width = 0;
  QWEN_ASSIGN_OR_RETURN(const BatchPlan plan, Prepare(batch, &graph_width));
  // Rows of the caller's batch (a padded plan has more).
  const int64_t rows = mode == LogitsMode::kAll ? static_cast<int64_t>(batch.token_ids.size())
                                                : static_cast<int64_t>(batch.sequences.size());
  const int64_t vocab = config_.text.vocab_size;
  core::Tensor logits = core::Tensor::Zeros({rows, vocab}, core::DType::kF32);
  float* host = logits.data<float>();
  QWEN_RETURN_IF_ERROR(Run(plan, graph_width, mode, rows, [&](int64_t r0, int64_t m) {
    QWEN_CUDA_RETURN_IF_ERROR(
        cudaMemcpyAsync(host + r0 * vocab, ws_.logits, static_cast<size_t>(m * vocab) * 4,
                        cudaMemcpyDeviceToHost, ctx_->stream()),
        "copying the logits");
    return absl::OkStatus();
  }));
  QWEN_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(ctx_->stream()), "running the forward pass");
  for (const CudaSequenceSpan& span : batch.sequences) cache_->Advance(*span.sequence, span.length);
  return logits;
}

absl::Status CudaTextModel::CheckSampling(const CudaSamplingInputs& in, int64_t num_seqs) const {
  if (static_cast<int64_t>(in.rows.size()) != num_seqs) {
    return absl::InvalidArgumentError(absl::StrCat(
        "sampling has ", in.rows.size(), " rows of parameters for ", num_seqs, " sequences"));
  }
  if (in.num_top_logprobs < 0 || in.num_top_logprobs > kMaxTopLogprobs) {
    return absl::InvalidArgumentError(absl::StrCat(
        "num_top_logprobs must be in [0, ", kMaxTopLogprobs, "], got ", in.num_top_logprobs));
  }
  for (size_t r = 0; r < in.rows.size(); ++r) {
    const kcu::SamplingRowParams& p = in.rows[r];
    const bool ok = std::isfinite(p.temperature) && p.temperature >= 0.0 && p.top_p > 0.0 &&
                    p.top_p <= 1.0 && p.min_p >= 0.0 && p.min_p <= 1.0 &&
                    std::isfinite(p.repetition_penalty) && p.repetition_penalty > 0.0 &&
                    std::isfinite(p.presence_penalty) && std::isfinite(p.frequency_penalty);
    if (!ok) {
      return absl::InvalidArgumentError(absl::StrCat(
          "sampling row ", r, ": temperature ", p.temperature, ", top_p ", p.top_p, ", min_p ",
          p.min_p, ", repetition_penalty ", p.repetition_penalty,
          " (need temperature >= 0, top_p in (0, 1], min_p in [0, 1], repetition_penalty > 0)"));
    }
  }
  const bool any =
      !in.penalty_offsets.empty() || !in.penalty_tokens.empty() || !in.penalty_counts.empty();
  if (!any) return absl::OkStatus();
  if (static_cast<int64_t>(in.penalty_offsets.size()) != num_seqs + 1 ||
      in.penalty_offsets[0] != 0) {
    return absl::InvalidArgumentError(absl::StrCat("penalty_offsets has ",
                                                   in.penalty_offsets.size(), " entries; expected ",
                                                   num_seqs + 1, " starting at 0"));
  }
  for (int64_t r = 0; r < num_seqs; ++r) {
    if (in.penalty_offsets[r + 1] < in.penalty_offsets[r]) {
      return absl::InvalidArgumentError(absl::StrCat("penalty_offsets decreases at row ", r + 1));
    }
  }
  const int64_t total = in.penalty_offsets[num_seqs];
  if (static_cast<int64_t>(in.penalty_tokens.size()) != total ||
      static_cast<int64_t>(in.penalty_counts.size()) != total) {
    return absl::InvalidArgumentError(
        absl::StrCat("penalty_tokens / penalty_counts have ", in.penalty_tokens.size(), " / ",
                     in.penalty_counts.size(), " entries; penalty_offsets ends at ", total));
  }
  if (total > plan_.max_penalty_tokens) {
    return absl::InvalidArgumentError(
        absl::StrCat("penalties list ", total, " tokens, over the model's max_penalty_tokens of ",
                     plan_.max_penalty_tokens));
  }
  for (int64_t i = 0; i < total; ++i) {
    if (in.penalty_tokens[i] < 0 || in.penalty_tokens[i] >= config_.text.vocab_size ||
        in.penalty_counts[i] < 0) {
      return absl::InvalidArgumentError(absl::StrCat("penalty entry ", i, " (token ",
                                                     in.penalty_tokens[i], ", count ",
                                                     in.penalty_counts[i], ") is out of range"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<CudaSampled> CudaTextModel::ForwardSample(const CudaForwardBatch& batch,
                                                         const CudaSamplingInputs& sampling) {
  QWEN_RETURN_IF_ERROR(ctx_->Activate());
  const int64_t num_seqs = static_cast<int64_t>(batch.sequences.size());
  QWEN_RETURN_IF_ERROR(CheckSampling(sampling, num_seqs));
  int64_t graph_width = 0;
  QWEN_ASSIGN_OR_RETURN(const BatchPlan plan, Prepare(batch, &graph_width));
  cudaStream_t stream = ctx_->stream();

  // Sampling inputs: staged in the pinned mirror, uploaded in up to four copies.
  const SamplingBuffers& host = sampling_host_view_;
  const SamplingBuffers& dev = ws_.sampling;
  const bool penalties = !sampling.penalty_offsets.empty();
  std::copy(sampling.rows.begin(), sampling.rows.end(), host.rows);
  auto upload = [&](void* dst, const void* src, size_t bytes) -> absl::Status {
    if (bytes == 0) return absl::OkStatus();
    QWEN_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream),
                              "uploading the sampling inputs");
    return absl::OkStatus();
  };
  QWEN_RETURN_IF_ERROR(upload(dev.rows, host.rows, sampling.rows.size_bytes()));
  if (penalties) {
    std::copy(sampling.penalty_offsets.begin(), sampling.penalty_offsets.end(),
              host.penalty_offsets);
    std::copy(sampling.penalty_tokens.begin(), sampling.penalty_tokens.end(), host.penalty_tokens);
    std::copy(sampling.penalty_counts.begin(), sampling.penalty_counts.end(), host.penalty_counts);
    QWEN_RETURN_IF_ERROR(
        upload(dev.penalty_offsets, host.penalty_offsets, sampling.penalty_offsets.size_bytes()));
    QWEN_RETURN_IF_ERROR(
        upload(dev.penalty_tokens, host.penalty_tokens, sampling.penalty_tokens.size_bytes()));
    QWEN_RETURN_IF_ERROR(
        upload(dev.penalty_counts, host.penalty_counts, sampling.penalty_counts.size_bytes()));
  }
  const int64_t top_n = sampling.num_top_logprobs;
  QWEN_RETURN_IF_ERROR(
      Run(plan, graph_width, LogitsMode::kLast, num_seqs, [&](int64_t r0, int64_t m) {
        const kcu::PenaltyTokens pen{.offsets = penalties ? dev.penalty_offsets + r0 : nullptr,
                                     .tokens = dev.penalty_tokens,
                                     .counts = dev.penalty_counts};
        const kcu::SampleOutputs out{
            .tokens = dev.tokens + r0,
            .logprobs = dev.logprobs + r0,
            .top_tokens = top_n > 0 ? dev.top_tokens + r0 * top_n : nullptr,
            .top_logprobs = top_n > 0 ? dev.top_logprobs + r0 * top_n : nullptr};
        QWEN_CUDA_RETURN_IF_ERROR(kcu::SampleTokens(ws_.logits, dev.rows + r0, pen, out,
                                                    {.num_rows = m,
                                                     .vocab_size = config_.text.vocab_size,
                                                     .logits_stride = config_.text.vocab_size,
                                                     .num_top_logprobs = top_n},
                                                    stream),
                                  "sampling");
        return absl::OkStatus();
      }));
  // Outputs back: the tokens and log-probabilities are adjacent in the layout.
  auto download = [&](void* dst, const void* src, size_t bytes) -> absl::Status {
    if (bytes == 0) return absl::OkStatus();
    QWEN_CUDA_RETURN_IF_ERROR(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream),
                              "copying the sampled tokens");
    return absl::OkStatus();
  };
  const size_t s_bytes = static_cast<size_t>(num_seqs) * 4;
  QWEN_RETURN_IF_ERROR(download(host.tokens, dev.tokens, s_bytes));
  QWEN_RETURN_IF_ERROR(download(host.logprobs, dev.logprobs, s_bytes));
  QWEN_RETURN_IF_ERROR(download(host.top_tokens, dev.top_tokens, s_bytes * top_n));
  QWEN_RETURN_IF_ERROR(download(host.top_logprobs, dev.top_logprobs, s_bytes * top_n));
  QWEN_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream), "running the forward pass");
  for (const CudaSequenceSpan& span : batch.sequences) cache_->Advance(*span.sequence, span.length);

  CudaSampled r;
  r.tokens.assign(host.tokens, host.tokens + num_seqs);
  r.logprobs.assign(host.logprobs, host.logprobs + num_seqs);
  r.top_tokens.assign(host.top_tokens, host.top_tokens + num_seqs * top_n);
  r.top_logprobs.assign(host.top_logprobs, host.top_logprobs + num_seqs * top_n);
  return r;
}

}  // namespace qwen::text::cuda
