#include "text_service/model/cuda/device_weights.h"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstring>
#include <variant>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/cuda/cuda_status.h"
#include "core/dtype.h"
#include "core/logging.h"
#include "core/safetensors.h"
#include "core/status.h"

namespace qwen::text::cuda {
namespace {

struct Part {
  std::string name;  // full checkpoint name
  core::Shape shape;
  core::Tensor view;  // zero-copy view into the mapped checkpoint (filled by Load)
};

// One device tensor: the concatenation (along the first dimension) of its parts, stored as bf16
// or f32.
struct Entry {
  std::vector<Part> parts;
  bool f32 = false;
  std::variant<const bf16**, const float**> target;
  int64_t numel = 0;
  size_t offset = 0;
  size_t bytes() const { return static_cast<size_t>(numel) * (f32 ? 4 : 2); }
};

// The device tensors of `c` in load order; targets point into `w` (whose layers are created).
std::vector<Entry> Enumerate(const core::TextConfig& c, const std::string& prefix,
                             std::vector<DeviceLayer>& layers, const bf16** embed,
                             const bf16** norm, const bf16** lm_head) {
  const int64_t h = c.hidden_size, inter = c.intermediate_size;
  std::vector<Entry> out;
  auto add = [&](std::vector<Part> parts, auto target, bool f32 = false) {
    Entry e;
    e.parts = std::move(parts);
    e.f32 = f32;
    e.target = target;
    for (const Part& p : e.parts) e.numel += core::NumElements(p.shape);
    out.push_back(std::move(e));
  };
  auto part = [&](const std::string& name, core::Shape shape) {
    return Part{prefix + name, std::move(shape), {}};
  };
  add({part("embed_tokens.weight", {c.vocab_size, h})}, embed);
  add({part("norm.weight", {h})}, norm);
  if (!c.tie_word_embeddings) add({Part{"lm_head.weight", {c.vocab_size, h}, {}}}, lm_head);

  layers.assign(c.layer_types.size(), DeviceLayer{});
  int64_t num_linear = 0, num_full = 0;
  for (size_t i = 0; i < layers.size(); ++i) {
    DeviceLayer& l = layers[i];
    const std::string lp = absl::StrCat("layers.", i, ".");
    l.type = c.layer_types[i];
    add({part(lp + "input_layernorm.weight", {h})}, &l.input_layernorm);
    add({part(lp + "post_attention_layernorm.weight", {h})}, &l.post_attention_layernorm);
    add({part(lp + "mlp.gate_proj.weight", {inter, h}),
         part(lp + "mlp.up_proj.weight", {inter, h})},
        &l.gate_up_proj);
    add({part(lp + "mlp.down_proj.weight", {h, inter})}, &l.down_proj);
    if (l.type == core::LayerType::kFullAttention) {
      l.state_index = num_full++;
      const int64_t d = c.head_dim, hq = c.num_attention_heads, hkv = c.num_key_value_heads;
      const std::string ap = lp + "self_attn.";
      add({part(ap + "q_proj.weight", {2 * hq * d, h})}, &l.full.q_proj);
      add({part(ap + "k_proj.weight", {hkv * d, h}), part(ap + "v_proj.weight", {hkv * d, h})},
          &l.full.kv_proj);
      add({part(ap + "o_proj.weight", {h, hq * d})}, &l.full.o_proj);
      add({part(ap + "q_norm.weight", {d})}, &l.full.q_norm);
      add({part(ap + "k_norm.weight", {d})}, &l.full.k_norm);
    } else {
      l.state_index = num_linear++;
      const int64_t hv = c.linear_num_value_heads, dv = c.linear_value_head_dim;
      const int64_t conv_dim = c.linear_conv_dim();
      const std::string gp = lp + "linear_attn.";
      add({part(gp + "in_proj_qkv.weight", {conv_dim, h}),
           part(gp + "in_proj_z.weight", {hv * dv, h}), part(gp + "in_proj_b.weight", {hv, h}),
           part(gp + "in_proj_a.weight", {hv, h})},
          &l.linear.in_proj);
      add({part(gp + "conv1d.weight", {conv_dim, 1, c.linear_conv_kernel_dim})},
          &l.linear.conv_weight);
      add({part(gp + "A_log", {hv})}, &l.linear.a_log, true);
      add({part(gp + "dt_bias", {hv})}, &l.linear.dt_bias, true);
      add({part(gp + "norm.weight", {dv})}, &l.linear.norm);
      add({part(gp + "out_proj.weight", {h, hv * dv})}, &l.linear.out_proj);
    }
  }
  core::cuda::AssignAlignedOffsets(out);
  return out;
}

// Converts `n` elements of a checkpoint tensor (F32 / BF16 / F16) starting at element `first`
// into `dst` as bf16 or f32.
void Convert(const core::Tensor& src, int64_t first, int64_t n, bool to_f32, void* dst,
             std::vector<float>& scratch) {
  const size_t esize = core::DTypeSize(src.dtype());
  const char* s = static_cast<const char*>(src.raw_data()) + static_cast<size_t>(first) * esize;
  if (!to_f32 && src.dtype() == core::DType::kBF16) {
    std::memcpy(dst, s, static_cast<size_t>(n) * 2);
    return;
  }
  if (to_f32 && src.dtype() == core::DType::kF32) {
    std::memcpy(dst, s, static_cast<size_t>(n) * 4);
    return;
  }
  float* f =
      to_f32 ? static_cast<float*>(dst) : (scratch.resize(static_cast<size_t>(n)), scratch.data());
  core::ConvertToF32(s, src.dtype(), f, static_cast<size_t>(n));
  if (!to_f32) core::ConvertFromF32(f, dst, core::DType::kBF16, static_cast<size_t>(n));
}

}  // namespace

size_t DeviceWeights::BytesFor(const core::TextConfig& config) {
  std::vector<DeviceLayer> layers;
  const bf16 *e = nullptr, *n = nullptr, *l = nullptr;
  return core::cuda::AlignedTotalBytes(Enumerate(config, "", layers, &e, &n, &l));
}

absl::StatusOr<DeviceWeights> DeviceWeights::Load(const core::cuda::DeviceContext& ctx,
                                                  const std::filesystem::path& dir,
                                                  const core::ModelConfig& config) {
  QWEN_RETURN_IF_ERROR(ctx.Activate());
  QWEN_ASSIGN_OR_RETURN(core::Checkpoint ckpt, core::Checkpoint::Open(dir));
  const core::TextConfig& c = config.text;
  const std::string& prefix = config.text_weight_prefix;
  DeviceWeights w;
  std::vector<Entry> entries =
      Enumerate(c, prefix, w.layers_, &w.embed_tokens_, &w.final_norm_, &w.lm_head_);

  // Pass 1: every tensor present, shaped as the config says, floating (no device memory yet).
  for (Entry& e : entries) {
    for (Part& p : e.parts) {
      QWEN_ASSIGN_OR_RETURN(p.view, ckpt.Get(p.name, p.shape));
      if (!core::IsFloating(p.view.dtype())) {
        return absl::InvalidArgumentError(absl::StrCat("tensor ", p.name, " has dtype ",
                                                       core::DTypeName(p.view.dtype()),
                                                       "; expected F32, BF16 or F16"));
      }
    }
  }
  if (c.tie_word_embeddings && ckpt.Has("lm_head.weight")) {
    // HF ignores a stored head when tied; accept it without using it (mark it read).
    QWEN_RETURN_IF_ERROR(ckpt.Get("lm_head.weight").status());
  }
  std::vector<std::string> unused = ckpt.Unused({prefix});
  if (!unused.empty()) {
    if (unused.size() > 5) unused.resize(5);
    return absl::InvalidArgumentError(
        absl::StrCat("checkpoint ", dir.string(),
                     " has tensors the config does not explain: ", absl::StrJoin(unused, ", ")));
  }

  // Pass 2: one allocation, then convert and upload tensor by tensor through a pinned buffer.
  const size_t total = core::cuda::AlignedTotalBytes(entries);
  size_t free_bytes = 0, total_bytes = 0;
  QWEN_RETURN_IF_ERROR(ctx.MemoryInfo(&free_bytes, &total_bytes));
  if (total > free_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the model's weights need ", core::cuda::FormatMiB(total), " (bf16) but the GPU has ",
        core::cuda::FormatMiB(free_bytes), " free of ", core::cuda::FormatMiB(total_bytes)));
  }
  QWEN_ASSIGN_OR_RETURN(w.memory_, core::cuda::DeviceMemory::Allocate(total, "model weights"));
  constexpr size_t kStagingBytes = size_t{16} << 20;
  QWEN_ASSIGN_OR_RETURN(core::cuda::PinnedMemory staging,
                        core::cuda::PinnedMemory::Allocate(kStagingBytes, "weight upload buffer"));
  std::vector<float> scratch;
  cudaStream_t stream = ctx.stream();
  for (Entry& e : entries) {
    const size_t esize = e.f32 ? 4 : 2;
    const int64_t chunk = static_cast<int64_t>(kStagingBytes / esize);
    char* dst = w.memory_.at<char>(e.offset);
    for (const Part& p : e.parts) {
      const int64_t n = p.view.numel();
      for (int64_t first = 0; first < n; first += chunk) {
        const int64_t count = std::min(chunk, n - first);
        // The previous chunk's copy must be done before the staging buffer is overwritten.
        QWEN_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream), "uploading weights");
        Convert(p.view, first, count, e.f32, staging.get(), scratch);
        QWEN_CUDA_RETURN_IF_ERROR(
            cudaMemcpyAsync(dst, staging.get(), static_cast<size_t>(count) * esize,
                            cudaMemcpyHostToDevice, stream),
            absl::StrCat("uploading ", p.name));
        dst += static_cast<size_t>(count) * esize;
      }
    }
    if (e.f32) {
      *std::get<const float**>(e.target) = w.memory_.at<const float>(e.offset);
    } else {
      *std::get<const bf16**>(e.target) = w.memory_.at<const bf16>(e.offset);
    }
  }
  QWEN_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream), "uploading weights");
  if (c.tie_word_embeddings) w.lm_head_ = w.embed_tokens_;
  return w;
}

}  // namespace qwen::text::cuda
