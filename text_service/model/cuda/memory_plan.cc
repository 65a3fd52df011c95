#include "text_service/model/cuda/memory_plan.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/cuda/device_memory.h"
#include "text_service/model/cuda/batch_plan.h"
#include "text_service/model/cuda/workspace.h"

namespace qwen::text::cuda {

int64_t AttentionHeadDim(int64_t head_dim) {
  for (int64_t d : {64, 128, 256}) {
    if (head_dim <= d) return d;
  }
  return 0;
}

size_t MemoryPlan::kv_pool_bytes() const {
  return core::cuda::AlignBytes(static_cast<size_t>(num_pages) * kv_page_unit);
}
size_t MemoryPlan::conv_pool_bytes() const {
  return core::cuda::AlignBytes(static_cast<size_t>(max_slots) * conv_slot_unit);
}
size_t MemoryPlan::state_pool_bytes() const {
  return core::cuda::AlignBytes(static_cast<size_t>(max_slots) * state_slot_unit);
}
size_t MemoryPlan::cache_bytes() const {
  return static_cast<size_t>(num_full_layers) * 2 * kv_pool_bytes() +
         static_cast<size_t>(num_linear_layers) * (conv_pool_bytes() + state_pool_bytes());
}

std::string MemoryPlan::Describe() const {
  return absl::StrCat(
      "weights ", core::cuda::FormatMiB(weight_bytes), " + workspace ",
      core::cuda::FormatMiB(workspace_bytes), " (", max_batched_tokens, " tokens, ", max_seqs,
      " sequences, ", max_logits_rows, " logit rows) + KV cache ", num_pages, " pages of ",
      page_size, " tokens (", core::cuda::FormatMiB(static_cast<size_t>(num_pages) * page_bytes),
      ") + DeltaNet state ", max_slots, " slots (",
      core::cuda::FormatMiB(static_cast<size_t>(max_slots) * slot_bytes),
      ") = ", core::cuda::FormatMiB(weight_bytes + workspace_bytes + cache_bytes()));
}

absl::StatusOr<MemoryPlan> PlanMemory(const core::TextConfig& c, const CudaModelOptions& o,
                                      size_t weight_bytes, size_t free_bytes, size_t total_bytes) {
  MemoryPlan p;
  p.weight_bytes = weight_bytes;
  if (o.max_batched_tokens < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_batched_tokens must be >= 1, got ", o.max_batched_tokens));
  }
  if (o.max_seqs < 0 || o.max_slots < 0 || o.num_pages < 0 || o.max_context < 0 ||
      o.max_logits_rows < 0) {
    return absl::InvalidArgumentError(
        "max_seqs, max_slots, num_pages, max_context and "
        "max_logits_rows must be >= 0 (0: derived)");
  }
  if (!(o.gpu_memory_fraction >= 0.0 && o.gpu_memory_fraction <= 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("gpu_memory_fraction must be in (0, 1], got ", o.gpu_memory_fraction));
  }
  p.attention_head_dim = AttentionHeadDim(c.head_dim);
  if (p.attention_head_dim == 0) {
    return absl::UnimplementedError(absl::StrCat(
        "head_dim ", c.head_dim, " is larger than the CUDA attention kernels support (256)"));
  }
  p.max_batched_tokens = o.max_batched_tokens;
  p.max_seqs = o.max_seqs > 0 ? o.max_seqs : std::min<int64_t>(o.max_batched_tokens, 256);
  p.max_logits_rows = o.max_logits_rows > 0 ? o.max_logits_rows : p.max_seqs;
  const int64_t context = o.max_context > 0 ? std::min(o.max_context, c.max_position_embeddings)
                                            : c.max_position_embeddings;
  p.max_pages_per_sequence = (context + kPageSize - 1) / kPageSize;
  const BatchLimits limits{.vocab_size = c.vocab_size,
                           .hidden_size = c.hidden_size,
                           .max_position_embeddings = c.max_position_embeddings,
                           .max_batched_tokens = p.max_batched_tokens,
                           .max_seqs = p.max_seqs};
  p.metadata_capacity = MetadataCapacity(limits, p.max_pages_per_sequence);
  if (o.max_penalty_tokens < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_penalty_tokens must be >= 0, got ", o.max_penalty_tokens));
  }
  p.max_penalty_tokens = o.max_penalty_tokens;
  p.workspace_bytes = LayoutWorkspace(c,
                                      {.max_tokens = p.max_batched_tokens,
                                       .max_seqs = p.max_seqs,
                                       .logits_rows = p.max_logits_rows,
                                       .metadata_capacity = p.metadata_capacity,
                                       .attention_head_dim = p.attention_head_dim,
                                       .max_penalty_tokens = p.max_penalty_tokens},
                                      nullptr, nullptr);

  const int64_t num_full = c.num_layers_of(core::LayerType::kFullAttention);
  const int64_t num_linear = c.num_layers_of(core::LayerType::kLinearAttention);
  p.num_full_layers = num_full;
  p.num_linear_layers = num_linear;
  p.kv_page_unit =
      static_cast<size_t>(kPageSize * c.num_key_value_heads * p.attention_head_dim) * 2;
  p.conv_slot_unit = static_cast<size_t>((c.linear_conv_kernel_dim - 1) * c.linear_conv_dim()) * 4;
  p.state_slot_unit = static_cast<size_t>(c.linear_num_value_heads * c.linear_key_head_dim *
                                          c.linear_value_head_dim) *
                      4;
  p.page_bytes = static_cast<size_t>(num_full) * 2 * p.kv_page_unit;
  p.slot_bytes = static_cast<size_t>(num_linear) * (p.conv_slot_unit + p.state_slot_unit);

  const bool need_pages = num_full > 0 && o.num_pages == 0;
  const bool need_slots = o.max_slots == 0;
  const size_t left =
      free_bytes > p.workspace_bytes ? free_bytes - p.workspace_bytes : 0;  // after the workspace
  auto exhausted = [&](const std::string& why) {
    return absl::ResourceExhaustedError(
        absl::StrCat(why, ": ", p.Describe(), "; the GPU has ", core::cuda::FormatMiB(free_bytes),
                     " free of ", core::cuda::FormatMiB(total_bytes), " after the weights"));
  };
  p.max_slots = o.max_slots;
  p.num_pages = num_full > 0 ? o.num_pages : 0;
  if (need_pages || need_slots) {
    if (o.gpu_memory_fraction <= 0.0) {
      if (need_slots && p.slot_bytes == 0) {
        p.max_slots = p.max_seqs;  // no linear layers: slots cost nothing
      } else {
        return absl::InvalidArgumentError(
            "set max_slots and num_pages, or gpu_memory_fraction to size them from free memory");
      }
    } else {
      size_t budget = static_cast<size_t>(static_cast<double>(left) * o.gpu_memory_fraction);
      const size_t slack =
          static_cast<size_t>(2 * num_full + 2 * num_linear) * core::cuda::kDeviceAlignment;
      budget = budget > slack ? budget - slack : 0;  // per-pool alignment
      if (need_slots) {
        if (p.slot_bytes == 0) {
          p.max_slots = p.max_seqs;
        } else {
          const size_t share = need_pages ? budget / 2 : budget;
          p.max_slots = std::min<int64_t>(p.max_seqs, static_cast<int64_t>(share / p.slot_bytes));
          if (p.max_slots < 1) return exhausted("not even one DeltaNet state slot fits");
        }
      }
      const size_t slots_bytes = static_cast<size_t>(p.max_slots) * p.slot_bytes;
      budget = budget > slots_bytes ? budget - slots_bytes : 0;
      if (need_pages) {
        p.num_pages = static_cast<int64_t>(budget / p.page_bytes);
        if (p.num_pages < 1) return exhausted("not even one KV page fits");
      }
    }
  }
  if (p.max_slots < 1) return absl::InvalidArgumentError("max_slots must be >= 1");
  if (p.max_slots > 0x7fffffff || p.num_pages > 0x7fffffff) {
    return exhausted("too many slots or pages for int32 indices");
  }
  const double cache =
      static_cast<double>(p.num_pages) * static_cast<double>(p.page_bytes) +
      static_cast<double>(p.max_slots) * static_cast<double>(p.slot_bytes) +
      static_cast<double>(2 * num_full + 2 * num_linear) * core::cuda::kDeviceAlignment;
  if (static_cast<double>(p.workspace_bytes) + cache > static_cast<double>(free_bytes)) {
    return exhausted("the model does not fit the GPU");
  }
  return p;
}

}  // namespace qwen::text::cuda
