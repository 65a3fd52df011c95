// qwen35 generate: greedy generation from prompt ids with the CPU model, streaming ids as they come.
#include <chrono>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "core/status.h"
#include "text_service/model/text_model.h"
#include "tools/qwen35/args.h"
#include "tools/qwen35/commands.h"
#include "tools/qwen35/greedy_decode.h"

namespace qwen::tools {
namespace {

const std::vector<FlagSpec> kFlags = {
    {"model", "Hugging Face checkpoint directory", false, true},
    {"prompt-ids", "comma-separated prompt token ids", false, true},
    {"max-new-tokens", "tokens to generate (default 32)"},
    {"threads", "CPU threads for the matrix products (default 1)"},
    {"ignore-eos", "do not stop at the EOS ids of generation_config.json", true},
};

absl::Status Run(const Args& args) {
  QWEN_ASSIGN_OR_RETURN(std::vector<int64_t> prompt, args.GetIntList("prompt-ids"));
  QWEN_ASSIGN_OR_RETURN(int64_t max_new, args.GetInt("max-new-tokens", 32));
  QWEN_ASSIGN_OR_RETURN(int64_t threads, args.GetInt("threads", 1));
  if (max_new < 1) return absl::InvalidArgumentError("--max-new-tokens must be >= 1");
  if (threads < 1 || threads > 256) return absl::InvalidArgumentError("--threads must be in [1, 256]");

  auto t0 = std::chrono::steady_clock::now();
  QWEN_ASSIGN_OR_RETURN(std::unique_ptr<text::TextModel> model, text::TextModel::Load(args.Get("model")));
  QWEN_ASSIGN_OR_RETURN(core::GenerationConfig gen, core::LoadGenerationConfig(args.Get("model")));
  auto t1 = std::chrono::steady_clock::now();
  std::fprintf(stderr, "[generate] loaded %s in %.2f s (%lld layers, vocab %lld)\n",
               args.Get("model").c_str(), std::chrono::duration<double>(t1 - t0).count(),
               static_cast<long long>(model->config().layer_types.size()),
               static_cast<long long>(model->config().vocab_size));

  std::chrono::steady_clock::time_point first_token;
  int64_t count = 0;
  GreedyOptions opts{.max_new_tokens = max_new, .num_threads = static_cast<int>(threads)};
  if (!args.GetBool("ignore-eos")) opts.stop_ids = gen.eos_token_ids;
  opts.on_token = [&](int64_t id) {
    if (count++ == 0) first_token = std::chrono::steady_clock::now();
    std::printf("%s%lld", count > 1 ? " " : "", static_cast<long long>(id));
    std::fflush(stdout);
    return true;
  };
  QWEN_ASSIGN_OR_RETURN(GreedyResult r, GreedyDecode(*model, prompt, opts));
  std::printf("\n");
  auto t2 = std::chrono::steady_clock::now();
  double ttft = std::chrono::duration<double>(first_token - t1).count();
  double decode = std::chrono::duration<double>(t2 - first_token).count();
  std::fprintf(stderr, "[generate] %zu prompt tokens, %zu new; time to first token %.1f ms; decode %.1f tok/s\n",
               prompt.size(), r.ids.size(), ttft * 1e3,
               r.ids.size() > 1 ? static_cast<double>(r.ids.size() - 1) / decode : 0.0);
  return absl::OkStatus();
}

}  // namespace

int RunGenerate(int argc, char** argv) {
  auto args = Args::Parse(argc, argv, kFlags);
  if (!args.ok()) {
    std::fprintf(stderr, "qwen35 generate: %s\n", std::string(args.status().message()).c_str());
    return 2;
  }
  if (args->help()) {
    std::fputs(Args::Usage("generate", "Greedy generation from prompt token ids (CPU).", kFlags).c_str(), stdout);
    return 0;
  }
  absl::Status s = Run(*args);
  return s.ok() ? 0 : ReportError("generate", s);
}

}  // namespace qwen::tools
