// How the CUDA model spends GPU memory (computed before anything but the weights is allocated):
//   weights   bf16 (DeviceWeights), one allocation;
//   workspace activations for max_batched_tokens rows, the packed batch metadata, the logits
//             buffer (max_logits_rows x V fp32), one allocation, carved up at load (no cudaMalloc
//             in the forward pass);
//   caches    one allocation holding, per full-attention layer, the K and V page pools
//             bf16 [num_pages, 16, Hkv, Da] ("NHD" pages, Da = the attention head dim, see
//             AttentionHeadDim) and, per linear-attention layer, the conv state pool
//             f32 [max_slots, Kc-1, conv_dim] and the recurrent state pool f32 [max_slots, Hv, Dk,
//             Dv].
// Sizes come from explicit options (max_slots, num_pages) or from gpu_memory_fraction of the free
// memory left after the weights and the workspace.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "core/config.h"

namespace qwen::text::cuda {

inline constexpr int64_t kPageSize = 16;  // tokens per KV page

struct CudaModelOptions {
  int64_t max_batched_tokens = 2048;  // rows of one Forward (all sequences' new tokens)
  int64_t max_seqs = 0;               // sequences of one Forward; 0: min(max_batched_tokens, 256)
  int64_t max_slots = 0;              // DeltaNet state slots = live sequences; 0: derived
  int64_t num_pages = 0;              // KV pages of kPageSize tokens; 0: derived
  int64_t max_context = 0;            // tokens one sequence may hold; 0: max_position_embeddings
  // In (0, 1]: the share of the free GPU memory (after weights and workspace) given to the caches
  // when max_slots or num_pages is 0: slots take at most half of it (and at most max_seqs), pages
  // the rest. 0: max_slots and num_pages must both be set (or the model has no layer that needs
  // them).
  double gpu_memory_fraction = 0.0;
  int64_t max_logits_rows = 0;  // rows of the fp32 logits buffer; 0: max_seqs
  // Distinct (token, row) entries the penalties of one sampling step may list in all (each row's
  // prompt + generated tokens, deduplicated; 4 bytes x 2 each).
  int64_t max_penalty_tokens = int64_t{1} << 21;
  // Decode steps replay CUDA graphs captured per (batch-size bucket, block-table width bucket)
  // (decode_graphs.h). Costs one DeltaNet slot and one KV page for the padding rows.
  bool cuda_graphs = true;
};

// The attention kernels (kernels/cuda/paged_attention.h) support head dims 64, 128 and 256. A
// smaller D (the tiny reference models use 32) is run zero-padded to the next supported size:
// zero q/k columns add nothing to q·k (the scale stays D^-1/2) and zero v columns only produce
// output columns that are dropped. Returns 0 when D > 256 (unsupported).
int64_t AttentionHeadDim(int64_t head_dim);

struct MemoryPlan {
  int64_t max_batched_tokens = 0;
  int64_t max_seqs = 0;
  int64_t max_slots = 0;
  int64_t num_pages = 0;
  int64_t page_size = kPageSize;
  int64_t max_pages_per_sequence = 0;
  int64_t max_logits_rows = 0;
  int64_t attention_head_dim = 0;  // Da >= D
  int64_t metadata_capacity = 0;   // int32 entries of the packed batch metadata
  int64_t max_penalty_tokens = 0;

  size_t weight_bytes = 0;
  size_t workspace_bytes = 0;
  int64_t num_full_layers = 0;
  int64_t num_linear_layers = 0;
  size_t kv_page_unit = 0;     // one page of one K (or V) pool: 16 x Hkv x Da bf16
  size_t conv_slot_unit = 0;   // one slot of one conv pool: (Kc-1) x conv_dim f32
  size_t state_slot_unit = 0;  // one slot of one recurrent pool: Hv x Dk x Dv f32
  size_t page_bytes = 0;       // one page in every full-attention layer, K and V
  size_t slot_bytes = 0;       // one slot in every linear-attention layer, conv and recurrent
  // The cache allocation: per full-attention layer a K and a V pool, then per linear layer a conv
  // and a recurrent pool, each 256-byte aligned.
  size_t kv_pool_bytes() const;     // one K or V pool (aligned)
  size_t conv_pool_bytes() const;   // one conv pool (aligned)
  size_t state_pool_bytes() const;  // one recurrent pool (aligned)
  size_t cache_bytes() const;

  // "weights 1234.5 MiB + workspace ... + KV 512 pages (...) + DeltaNet 16 slots (...) = ..."
  std::string Describe() const;
};

// Plans the memory of `config` under `options` given the device's free memory after the weights
// were loaded (`free_bytes`, of `total_bytes`). InvalidArgument for inconsistent options,
// Unimplemented for an unsupported head dim, ResourceExhausted (with the numbers) when the plan
// does not fit.
absl::StatusOr<MemoryPlan> PlanMemory(const core::TextConfig& config,
                                      const CudaModelOptions& options, size_t weight_bytes,
                                      size_t free_bytes, size_t total_bytes);

}  // namespace qwen::text::cuda
