// qwen35 forward: runs the model on a reference case's inputs and writes every output tensor the
// inputs allow (shared/REFERENCE_CASES.md, kinds `text` and `multimodal`).
#include <algorithm>
#include <cstdio>
#include <map>
#include <optional>

#include "absl/strings/str_cat.h"
#include "core/safetensors.h"
#include "core/status.h"
#include "text_service/model/mrope_positions.h"
#include "text_service/model/text_model.h"
#include "tools/qwen35/args.h"
#include "tools/qwen35/commands.h"
#include "tools/qwen35/greedy_decode.h"
#include "vision_service/model/vision_model.h"
#ifdef QWEN_HAVE_CUDA
#include "core/cuda/device_context.h"
#include "text_service/model/cuda/cuda_text_model.h"
#include "text_service/model/cuda/greedy_decode.h"
#endif

namespace qwen::tools {
namespace {

const std::vector<FlagSpec> kFlags = {
    {"model", "Hugging Face checkpoint directory", false, true},
    {"inputs",
     "inputs.safetensors: input_ids i64 [T]; for multimodal prompts also mm_token_type_ids [T], "
     "pixel_values [P, 1536] + image_grid_thw [I, 3], pixel_values_videos [Pv, 1536] + "
     "video_grid_thw [V, 3] (each optional)",
     false, true},
    {"out",
     "output .safetensors (logits, greedy_ids, step_logits; multimodal inputs add image_embeds, "
     "video_embeds, position_ids, rope_delta)",
     false, true},
    {"device", "cpu (default) or cuda"},
    {"dtype", "f32 (cpu, the default there) or bf16 (cuda, the only dtype there)"},
    {"greedy", "greedy-decode N tokens with the cache after the prefill (default 0)"},
    {"threads", "CPU threads for the matrix products (default 1)"},
    {"gpu-memory-fraction",
     "cuda: size the KV cache and DeltaNet state slots from this share of the free GPU memory "
     "(default: exactly what the prompt and --greedy need)"},
    {"prefill-chunk",
     "cuda: run the prompt as chunks of N tokens, each continuing the cache (default: one pass)"},
};

// A [T] (or [1, T]) integer tensor as i64 values.
absl::StatusOr<std::vector<int64_t>> ReadIdVector(const core::SafetensorsFile& file,
                                                  const std::string& name) {
  QWEN_ASSIGN_OR_RETURN(core::Tensor t, file.Get(name));
  if (t.rank() == 2 && t.dim(0) == 1) t = t.Reshaped({t.dim(1)});
  if (t.rank() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " must be [T] (or [1, T]), got ", core::ShapeToString(t.shape())));
  }
  if (core::IsFloating(t.dtype())) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " must be an integer tensor, got ", core::DTypeName(t.dtype())));
  }
  QWEN_ASSIGN_OR_RETURN(core::Tensor t64, t.To(core::DType::kI64));
  return std::vector<int64_t>(t64.data<int64_t>(), t64.data<int64_t>() + t64.numel());
}

// One modality's vision input: pixel rows and their grids.
struct VisionItems {
  core::Tensor pixels;
  std::vector<vision::GridThw> grids;
};

// Reads `pixels_name` + `grid_name` (both or neither).
absl::StatusOr<std::optional<VisionItems>> ReadVisionItems(const core::SafetensorsFile& file,
                                                           const std::string& pixels_name,
                                                           const std::string& grid_name) {
  const bool has_pixels = file.Has(pixels_name), has_grid = file.Has(grid_name);
  if (!has_pixels && !has_grid) return std::optional<VisionItems>();
  if (has_pixels != has_grid) {
    return absl::InvalidArgumentError(absl::StrCat(has_pixels ? pixels_name : grid_name,
                                                   " is given without ",
                                                   has_pixels ? grid_name : pixels_name));
  }
  VisionItems items;
  QWEN_ASSIGN_OR_RETURN(items.pixels, file.Get(pixels_name));
  QWEN_ASSIGN_OR_RETURN(core::Tensor grid, file.Get(grid_name));
  auto grids = vision::GridsFromTensor(grid);
  if (!grids.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(grid_name, ": ", grids.status().message()));
  }
  items.grids = *std::move(grids);
  return std::optional<VisionItems>(std::move(items));
}

std::vector<text::MmGrid> ToMmGrids(const std::optional<VisionItems>& items) {
  std::vector<text::MmGrid> out;
  if (items.has_value()) {
    for (const vision::GridThw& g : items->grids) out.push_back({g.t, g.h, g.w});
  }
  return out;
}

// Writes the encoder output rows, in order, into the rows of `embeds` [T, H] whose id is
// `token_id` (HF masked_scatter); the counts must match exactly.
absl::Status ScatterFeatures(const std::vector<int64_t>& ids, int64_t token_id,
                             const core::Tensor& features, const char* what,
                             std::vector<float>& embeds) {
  const int64_t h = features.dim(1);
  int64_t slots = 0;
  for (int64_t id : ids) slots += id == token_id ? 1 : 0;
  if (slots != features.dim(0)) {
    return absl::InvalidArgumentError(absl::StrCat(what, " features and ", what,
                                                   " tokens do not match: tokens ", slots,
                                                   ", features ", features.dim(0)));
  }
  const float* src = features.data<float>();
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] != token_id) continue;
    std::copy(src, src + h, embeds.begin() + static_cast<int64_t>(i) * h);
    src += h;
  }
  return absl::OkStatus();
}

struct Prepared {
  std::vector<float> embeds;                    // f32 [T, H]
  text::MropePositions positions;               // i64 [3, T] + rope_delta
  std::map<std::string, core::Tensor> outputs;  // image_embeds / video_embeds
};

// The multimodal prefill of MODEL.md 3 and 5: encode images and videos, embed the ids, scatter the
// features into the placeholder rows, and compute the M-RoPE positions.
absl::StatusOr<Prepared> PrepareMultimodal(const core::SafetensorsFile& inputs,
                                           const std::string& model_dir,
                                           const text::TextModel& model,
                                           const std::vector<int64_t>& ids, int num_threads) {
  const core::ModelConfig& config = model.model_config();
  const int64_t vocab = model.config().vocab_size, h = model.config().hidden_size;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= vocab) {
      return absl::InvalidArgumentError(
          absl::StrCat("input_ids[", i, "] = ", ids[i], " is out of range [0, ", vocab, ")"));
    }
  }
  QWEN_ASSIGN_OR_RETURN(std::optional<VisionItems> images,
                        ReadVisionItems(inputs, "pixel_values", "image_grid_thw"));
  QWEN_ASSIGN_OR_RETURN(std::optional<VisionItems> videos,
                        ReadVisionItems(inputs, "pixel_values_videos", "video_grid_thw"));
  std::vector<int64_t> types;
  if (inputs.Has("mm_token_type_ids")) {
    QWEN_ASSIGN_OR_RETURN(types, ReadIdVector(inputs, "mm_token_type_ids"));
    QWEN_RETURN_IF_ERROR(
        text::CheckMmTokenTypes(ids, types, config.image_token_id, config.video_token_id));
  } else {
    types = text::MmTokenTypesFromIds(ids, config.image_token_id, config.video_token_id);
  }

  Prepared p;
  p.embeds.assign(ids.size() * static_cast<size_t>(h), 0.0f);
  model.EmbedTokens(ids, p.embeds.data());
  if (images.has_value() || videos.has_value()) {
    QWEN_ASSIGN_OR_RETURN(std::unique_ptr<vision::VisionModel> encoder,
                          vision::VisionModel::Load(model_dir));
    const vision::VisionContext vctx{.num_threads = num_threads};
    for (auto& [items, name, token_id, what, inputs_named] :
         {std::tuple{&images, "image_embeds", config.image_token_id, "image",
                     "pixel_values / image_grid_thw"},
          std::tuple{&videos, "video_embeds", config.video_token_id, "video",
                     "pixel_values_videos / video_grid_thw"}}) {
      if (!items->has_value()) continue;
      auto encoded = encoder->Forward(vctx, (*items)->pixels, (*items)->grids);
      if (!encoded.ok()) {
        return absl::Status(encoded.status().code(),
                            absl::StrCat(inputs_named, ": ", encoded.status().message()));
      }
      QWEN_RETURN_IF_ERROR(ScatterFeatures(ids, token_id, encoded->embeds, what, p.embeds));
      p.outputs[name] = encoded->embeds;
    }
  }
  const int64_t merge = config.vision.has_value() ? config.vision->spatial_merge_size : 2;
  QWEN_ASSIGN_OR_RETURN(p.positions,
                        text::GetRopeIndex(types, ToMmGrids(images), ToMmGrids(videos), merge));
  return p;
}

#ifdef QWEN_HAVE_CUDA
// --device cuda: the bf16 CUDA model, one sequence sized exactly for the prompt and --greedy (or
// from --gpu-memory-fraction), greedy decode with the cache (decode kernels for every step).
absl::Status RunCuda(const Args& args, const core::SafetensorsFile& inputs, int64_t greedy) {
  QWEN_ASSIGN_OR_RETURN(std::vector<int64_t> prompt, ReadIdVector(inputs, "input_ids"));
  if (prompt.empty()) return absl::InvalidArgumentError("input_ids has no tokens");
  QWEN_ASSIGN_OR_RETURN(double fraction, args.GetDouble("gpu-memory-fraction", 0.0));
  QWEN_ASSIGN_OR_RETURN(int64_t chunk, args.GetInt("prefill-chunk", 0));
  if (fraction < 0.0 || fraction > 1.0) {
    return absl::InvalidArgumentError("--gpu-memory-fraction must be in (0, 1]");
  }
  if (chunk < 0) return absl::InvalidArgumentError("--prefill-chunk must be >= 0");
  const int64_t t = static_cast<int64_t>(prompt.size());
  const int64_t rows = chunk > 0 ? std::min(chunk, t) : t;
  const bool sized = fraction > 0.0;
  const text::cuda::CudaModelOptions options{
      .max_batched_tokens = rows,
      .max_seqs = 1,
      .max_slots = sized ? 0 : 1,
      .num_pages = sized ? 0 : (t + greedy + text::cuda::kPageSize - 1) / text::cuda::kPageSize,
      .max_context = 0,
      .gpu_memory_fraction = fraction,
      .max_logits_rows = std::min<int64_t>(rows, 512)};
  QWEN_ASSIGN_OR_RETURN(std::unique_ptr<core::cuda::DeviceContext> ctx,
                        core::cuda::DeviceContext::Create());
  QWEN_ASSIGN_OR_RETURN(std::unique_ptr<text::cuda::CudaTextModel> model,
                        text::cuda::CudaTextModel::Load(*ctx, args.Get("model"), options));
  QWEN_ASSIGN_OR_RETURN(text::cuda::CudaGreedyResult r,
                        text::cuda::GreedyDecode(*model, prompt,
                                                 {.max_new_tokens = greedy,
                                                  .keep_prefill_logits = true,
                                                  .keep_step_logits = true,
                                                  .prefill_chunk = chunk}));
  std::map<std::string, core::Tensor> out;
  out["logits"] = r.prefill_logits;
  if (greedy > 0) {
    const int64_t n = static_cast<int64_t>(r.ids.size()), vocab = model->config().vocab_size;
    out["greedy_ids"] = core::Tensor::FromVector(r.ids, {n});
    out["step_logits"] = core::Tensor::FromVector(r.step_logits, {n, vocab});
  }
  return core::WriteSafetensors(args.Get("out"), out);
}
#endif

absl::Status Run(const Args& args) {
  std::string device = args.Get("device", "cpu");
  if (device != "cpu" && device != "cuda") {
    return absl::InvalidArgumentError(
        absl::StrCat("--device must be cpu or cuda, got '", device, "'"));
  }
  std::string dtype = args.Get("dtype", device == "cuda" ? "bf16" : "f32");
  if (dtype != "f32" && dtype != "bf16") {
    return absl::InvalidArgumentError(
        absl::StrCat("--dtype must be f32 or bf16, got '", dtype, "'"));
  }
  if (device == "cuda") {
#ifdef QWEN_HAVE_CUDA
    if (dtype != "bf16") {
      return absl::InvalidArgumentError(
          "--device cuda runs in bf16 only (bf16 weights and activations, fp32 accumulation, "
          "fp32 DeltaNet state); use --dtype bf16, or --device cpu for f32");
    }
    QWEN_ASSIGN_OR_RETURN(int64_t cuda_greedy, args.GetInt("greedy", 0));
    if (cuda_greedy < 0) return absl::InvalidArgumentError("--greedy must be >= 0");
    QWEN_ASSIGN_OR_RETURN(std::shared_ptr<core::SafetensorsFile> cuda_inputs,
                          core::SafetensorsFile::Open(args.Get("inputs")));
    if (cuda_inputs->Has("mm_token_type_ids") || cuda_inputs->Has("pixel_values") ||
        cuda_inputs->Has("pixel_values_videos")) {
      return absl::UnimplementedError(
          "--device cuda runs text inputs (input_ids) only for now; use --device cpu for "
          "multimodal inputs");
    }
    return RunCuda(args, *cuda_inputs, cuda_greedy);
#else
    return absl::UnimplementedError(
        "this build has no CUDA text model (built without the CUDA toolkit or the paged "
        "attention kernels); use --device cpu");
#endif
  }
  if (args.Has("gpu-memory-fraction") || args.Has("prefill-chunk")) {
    return absl::InvalidArgumentError(
        "--gpu-memory-fraction and --prefill-chunk apply to --device cuda only");
  }
  if (dtype != "f32") return absl::InvalidArgumentError("--device cpu runs in f32 only");
  QWEN_ASSIGN_OR_RETURN(int64_t greedy, args.GetInt("greedy", 0));
  QWEN_ASSIGN_OR_RETURN(int64_t threads, args.GetInt("threads", 1));
  if (greedy < 0) return absl::InvalidArgumentError("--greedy must be >= 0");
  if (threads < 1 || threads > 256)
    return absl::InvalidArgumentError("--threads must be in [1, 256]");

  QWEN_ASSIGN_OR_RETURN(std::shared_ptr<core::SafetensorsFile> inputs,
                        core::SafetensorsFile::Open(args.Get("inputs")));
  QWEN_ASSIGN_OR_RETURN(std::vector<int64_t> prompt, ReadIdVector(*inputs, "input_ids"));
  const bool multimodal = inputs->Has("mm_token_type_ids") || inputs->Has("pixel_values") ||
                          inputs->Has("image_grid_thw") || inputs->Has("pixel_values_videos") ||
                          inputs->Has("video_grid_thw");

  const std::string model_dir = args.Get("model");
  QWEN_ASSIGN_OR_RETURN(std::unique_ptr<text::TextModel> model, text::TextModel::Load(model_dir));
  GreedyOptions opts{.max_new_tokens = greedy,
                     .keep_prefill_logits = true,
                     .keep_step_logits = true,
                     .stop_ids = {},
                     .num_threads = static_cast<int>(threads),
                     .on_token = nullptr};
  std::map<std::string, core::Tensor> out;
  GreedyResult r;
  if (multimodal) {
    QWEN_ASSIGN_OR_RETURN(Prepared p, PrepareMultimodal(*inputs, model_dir, *model, prompt,
                                                        static_cast<int>(threads)));
    const PrefillInputs prefill{.input_embeds = p.embeds,
                                .positions = p.positions.positions,
                                .rope_delta = p.positions.rope_delta};
    QWEN_ASSIGN_OR_RETURN(r, GreedyDecode(*model, prompt, opts, prefill));
    out = std::move(p.outputs);
    const int64_t t = static_cast<int64_t>(prompt.size());
    out["position_ids"] = core::Tensor::FromVector(p.positions.positions, {3, t});
    out["rope_delta"] = core::Tensor::FromVector(std::vector<int64_t>{p.positions.rope_delta}, {1});
  } else {
    QWEN_ASSIGN_OR_RETURN(r, GreedyDecode(*model, prompt, opts));
  }

  out["logits"] = r.prefill_logits;
  if (greedy > 0) {
    const int64_t n = static_cast<int64_t>(r.ids.size()), vocab = model->config().vocab_size;
    out["greedy_ids"] = core::Tensor::FromVector(r.ids, {n});
    out["step_logits"] = core::Tensor::FromVector(r.step_logits, {n, vocab});
  }
  return core::WriteSafetensors(args.Get("out"), out);
}

}  // namespace

int RunForward(int argc, char** argv) {
  auto args = Args::Parse(argc, argv, kFlags);
  if (!args.ok()) {
    std::fprintf(stderr, "qwen35 forward: %s\n", std::string(args.status().message()).c_str());
    return 2;
  }
  if (args->help()) {
    std::fputs(
        Args::Usage("forward", "Run the model on inputs.safetensors and write its outputs.", kFlags)
            .c_str(),
        stdout);
    return 0;
  }
  absl::Status s = Run(*args);
  return s.ok() ? 0 : ReportError("forward", s);
}

}  // namespace qwen::tools
