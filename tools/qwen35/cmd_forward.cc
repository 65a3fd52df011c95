// qwen35 forward: runs the model on a reference case's inputs and writes every output tensor the
// inputs allow (shared/REFERENCE_CASES.md, kind `text`).
#include <cstdio>
#include <map>

#include "absl/strings/str_cat.h"
#include "core/safetensors.h"
#include "core/status.h"
#include "text_service/model/text_model.h"
#include "tools/qwen35/args.h"
#include "tools/qwen35/commands.h"
#include "tools/qwen35/greedy_decode.h"

namespace qwen::tools {
namespace {

const std::vector<FlagSpec> kFlags = {
    {"model", "Hugging Face checkpoint directory", false, true},
    {"inputs", "inputs.safetensors (input_ids i64 [T])", false, true},
    {"out", "output .safetensors (logits, greedy_ids, step_logits)", false, true},
    {"device", "cpu (default) or cuda"},
    {"dtype", "f32 (default) or bf16"},
    {"greedy", "greedy-decode N tokens with the cache after the prefill (default 0)"},
    {"threads", "CPU threads for the matrix products (default 1)"},
};

absl::Status Run(const Args& args) {
  std::string device = args.Get("device", "cpu");
  std::string dtype = args.Get("dtype", "f32");
  if (device != "cpu" && device != "cuda") {
    return absl::InvalidArgumentError(absl::StrCat("--device must be cpu or cuda, got '", device, "'"));
  }
  if (dtype != "f32" && dtype != "bf16") {
    return absl::InvalidArgumentError(absl::StrCat("--dtype must be f32 or bf16, got '", dtype, "'"));
  }
  if (device == "cuda") {
    return absl::UnimplementedError("this build has no CUDA backend for the text model yet; use --device cpu");
  }
  if (dtype != "f32") return absl::InvalidArgumentError("--device cpu runs in f32 only");
  QWEN_ASSIGN_OR_RETURN(int64_t greedy, args.GetInt("greedy", 0));
  QWEN_ASSIGN_OR_RETURN(int64_t threads, args.GetInt("threads", 1));
  if (greedy < 0) return absl::InvalidArgumentError("--greedy must be >= 0");
  if (threads < 1 || threads > 256) return absl::InvalidArgumentError("--threads must be in [1, 256]");

  QWEN_ASSIGN_OR_RETURN(std::shared_ptr<core::SafetensorsFile> inputs,
                        core::SafetensorsFile::Open(args.Get("inputs")));
  QWEN_ASSIGN_OR_RETURN(core::Tensor ids_t, inputs->Get("input_ids"));
  if (ids_t.rank() == 2 && ids_t.dim(0) == 1) ids_t = ids_t.Reshaped({ids_t.dim(1)});
  if (ids_t.rank() != 1) {
    return absl::InvalidArgumentError(absl::StrCat("input_ids must be [T] (or [1, T]), got ",
                                                   core::ShapeToString(ids_t.shape())));
  }
  QWEN_ASSIGN_OR_RETURN(core::Tensor ids64, ids_t.To(core::DType::kI64));
  std::vector<int64_t> prompt(ids64.data<int64_t>(), ids64.data<int64_t>() + ids64.numel());
  if (inputs->Has("pixel_values") || inputs->Has("pixel_values_videos")) {
    return absl::UnimplementedError("multimodal inputs are not supported by this build yet");
  }

  QWEN_ASSIGN_OR_RETURN(std::unique_ptr<text::TextModel> model, text::TextModel::Load(args.Get("model")));
  GreedyOptions opts{.max_new_tokens = greedy, .keep_prefill_logits = true,
                     .keep_step_logits = true, .num_threads = static_cast<int>(threads)};
  QWEN_ASSIGN_OR_RETURN(GreedyResult r, GreedyDecode(*model, prompt, opts));

  std::map<std::string, core::Tensor> out;
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
    std::fputs(Args::Usage("forward", "Run the model on inputs.safetensors and write its outputs.", kFlags).c_str(), stdout);
    return 0;
  }
  absl::Status s = Run(*args);
  return s.ok() ? 0 : ReportError("forward", s);
}

}  // namespace qwen::tools
