#include "vision_service/model/cuda/device_weights.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/cuda/staged_upload.h"
#include "core/safetensors.h"
#include "core/status.h"

namespace qwen::vision::cuda {
namespace {

struct Entry {
  std::string name;  // relative to the vision prefix
  core::Shape shape;
  const bf16** target = nullptr;
  size_t offset = 0;  // bytes into the allocation
  size_t bytes() const { return static_cast<size_t>(core::NumElements(shape)) * sizeof(bf16); }
};

// Every vision tensor in load order, with the names and shapes the CPU pieces read
// (vision_patch_embed.cc, vision_model.cc, vision_block.cc, vision_merger.cc); targets point
// into the given structs. Offsets are laid out 256-byte aligned.
std::vector<Entry> Enumerate(const core::VisionConfig& c, const bf16** patch_w,
                             const bf16** patch_b, const bf16** pos_embed,
                             std::vector<DeviceVisionBlock>& blocks, DeviceVisionMerger& merger) {
  const int64_t h = c.hidden_size, inter = c.intermediate_size;
  const int64_t merged = h * c.spatial_merge_size * c.spatial_merge_size;
  std::vector<Entry> out;
  auto add = [&out](std::string name, core::Shape shape, const bf16** target) {
    out.push_back(Entry{std::move(name), std::move(shape), target, 0});
  };
  add("patch_embed.proj.weight",
      {h, c.in_channels, c.temporal_patch_size, c.patch_size, c.patch_size}, patch_w);
  add("patch_embed.proj.bias", {h}, patch_b);
  add("pos_embed.weight", {c.num_position_embeddings, h}, pos_embed);
  blocks.assign(static_cast<size_t>(c.depth), DeviceVisionBlock{});
  for (int64_t j = 0; j < c.depth; ++j) {
    DeviceVisionBlock& b = blocks[static_cast<size_t>(j)];
    const std::string p = absl::StrCat("blocks.", j, ".");
    add(p + "norm1.weight", {h}, &b.norm1_w);
    add(p + "norm1.bias", {h}, &b.norm1_b);
    add(p + "norm2.weight", {h}, &b.norm2_w);
    add(p + "norm2.bias", {h}, &b.norm2_b);
    add(p + "attn.qkv.weight", {3 * h, h}, &b.qkv_w);
    add(p + "attn.qkv.bias", {3 * h}, &b.qkv_b);
    add(p + "attn.proj.weight", {h, h}, &b.proj_w);
    add(p + "attn.proj.bias", {h}, &b.proj_b);
    add(p + "mlp.linear_fc1.weight", {inter, h}, &b.fc1_w);
    add(p + "mlp.linear_fc1.bias", {inter}, &b.fc1_b);
    add(p + "mlp.linear_fc2.weight", {h, inter}, &b.fc2_w);
    add(p + "mlp.linear_fc2.bias", {h}, &b.fc2_b);
  }
  add("merger.norm.weight", {h}, &merger.norm_w);
  add("merger.norm.bias", {h}, &merger.norm_b);
  add("merger.linear_fc1.weight", {merged, merged}, &merger.fc1_w);
  add("merger.linear_fc1.bias", {merged}, &merger.fc1_b);
  add("merger.linear_fc2.weight", {c.out_hidden_size, merged}, &merger.fc2_w);
  add("merger.linear_fc2.bias", {c.out_hidden_size}, &merger.fc2_b);
  core::cuda::AssignAlignedOffsets(out);
  return out;
}

}  // namespace

size_t VisionDeviceWeights::BytesFor(const core::VisionConfig& config) {
  VisionDeviceWeights w;
  return core::cuda::AlignedTotalBytes(
      Enumerate(config, &w.patch_embed_w_, &w.patch_embed_b_, &w.pos_embed_, w.blocks_, w.merger_));
}

absl::StatusOr<VisionDeviceWeights> VisionDeviceWeights::Load(const core::cuda::DeviceContext& ctx,
                                                              const std::filesystem::path& dir,
                                                              const core::ModelConfig& config) {
  if (!config.vision.has_value()) {
    return absl::FailedPreconditionError(
        "the model config has no vision_config: this checkpoint cannot encode images or videos");
  }
  QWEN_RETURN_IF_ERROR(ctx.Activate());
  QWEN_ASSIGN_OR_RETURN(core::Checkpoint ckpt, core::Checkpoint::Open(dir));
  const std::string& prefix = config.vision_weight_prefix;
  VisionDeviceWeights w;
  std::vector<Entry> entries = Enumerate(*config.vision, &w.patch_embed_w_, &w.patch_embed_b_,
                                         &w.pos_embed_, w.blocks_, w.merger_);

  // Pass 1 (no device memory yet): every tensor present, shaped as the config says, floating,
  // and nothing else under the prefix.
  std::vector<core::Tensor> views;
  views.reserve(entries.size());
  for (const Entry& e : entries) {
    const std::string full = prefix + e.name;
    QWEN_ASSIGN_OR_RETURN(core::Tensor t, ckpt.Get(full, e.shape));
    if (!core::IsFloating(t.dtype())) {
      return absl::InvalidArgumentError(absl::StrCat("tensor ", full, " has dtype ",
                                                     core::DTypeName(t.dtype()),
                                                     "; expected F32, BF16 or F16"));
    }
    views.push_back(std::move(t));
  }
  std::vector<std::string> unused = ckpt.Unused({prefix});
  if (!unused.empty()) {
    if (unused.size() > 5) unused.resize(5);
    // e.g. more blocks than vision_config.depth, or DeepStack mergers (not part of Qwen3.5).
    return absl::InvalidArgumentError(
        absl::StrCat("checkpoint has vision tensors the config does not explain: ",
                     absl::StrJoin(unused, ", ")));
  }

  // Pass 2: one allocation, converted to bf16 tensor by tensor through pinned staging.
  const size_t total = core::cuda::AlignedTotalBytes(entries);
  size_t free_bytes = 0, total_bytes = 0;
  QWEN_RETURN_IF_ERROR(ctx.MemoryInfo(&free_bytes, &total_bytes));
  if (total > free_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the vision encoder's weights need ", core::cuda::FormatMiB(total),
                     " (bf16) but the GPU has ", core::cuda::FormatMiB(free_bytes), " free of ",
                     core::cuda::FormatMiB(total_bytes)));
  }
  QWEN_ASSIGN_OR_RETURN(w.memory_,
                        core::cuda::DeviceMemory::Allocate(total, "vision encoder weights"));
  QWEN_ASSIGN_OR_RETURN(core::cuda::StagedUpload upload,
                        core::cuda::StagedUpload::Create(ctx.stream()));
  for (size_t i = 0; i < entries.size(); ++i) {
    const Entry& e = entries[i];
    QWEN_RETURN_IF_ERROR(
        upload.Copy(views[i], core::DType::kBF16, w.memory_.at<char>(e.offset), prefix + e.name));
    *e.target = w.memory_.at<const bf16>(e.offset);
  }
  QWEN_RETURN_IF_ERROR(upload.Finish());
  return w;
}

}  // namespace qwen::vision::cuda
