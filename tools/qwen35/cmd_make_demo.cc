// qwen35 make-demo-checkpoint: writes a random-weight Qwen3.5 checkpoint (see demo_checkpoint.h):
// the small demo model, or with --preset 9b the full Qwen3.5-9B shape for benchmarks.
#include <cstdio>

#include "core/status.h"
#include "tools/qwen35/args.h"
#include "tools/qwen35/commands.h"
#include "tools/qwen35/demo_checkpoint.h"

namespace qwen::tools {
namespace {

const std::vector<FlagSpec> kFlags = {
    {"out", "output directory", false, true},
    {"preset",
     "demo | 9b: a named shape (9b: the full Qwen3.5-9B, about 19 GB in 5 GB shards). With a "
     "preset the directory gets a completion marker and a complete checkpoint of the same options "
     "is reused instead of rewritten"},
    {"seed", "random seed (default 0)"},
    {"hidden-size", "text hidden size (default 256, or the preset's)"},
    {"layers", "decoder layers, a multiple of 4 (default 8, or the preset's)"},
    {"threads", "threads filling the 9b preset's values (default: all cores)"},
    {"force", "rewrite even when --out already holds this preset's complete checkpoint", true},
};

absl::Status Run(const Args& args) {
  const bool preset = args.Has("preset");
  QWEN_ASSIGN_OR_RETURN(DemoCheckpointOptions o, Qwen35Preset(args.Get("preset", "demo")));
  QWEN_ASSIGN_OR_RETURN(int64_t seed, args.GetInt("seed", 0));
  QWEN_ASSIGN_OR_RETURN(o.hidden_size, args.GetInt("hidden-size", o.hidden_size));
  QWEN_ASSIGN_OR_RETURN(o.num_layers, args.GetInt("layers", o.num_layers));
  QWEN_ASSIGN_OR_RETURN(int64_t threads, args.GetInt("threads", 0));
  if (o.hidden_size < 16 || o.hidden_size % 16 != 0) {
    return absl::InvalidArgumentError("--hidden-size must be a positive multiple of 16");
  }
  if (o.num_layers < 4 || o.num_layers % 4 != 0) {
    return absl::InvalidArgumentError("--layers must be a positive multiple of 4");
  }
  if (threads < 0 || threads > 1024) {
    return absl::InvalidArgumentError("--threads must be between 0 and 1024");
  }
  o.seed = static_cast<uint64_t>(seed);
  o.threads = static_cast<int>(threads);
  o.progress = true;
  const std::string out = args.Get("out");
  if (!preset) {
    // Without a preset: the original behaviour, always written and no marker.
    QWEN_RETURN_IF_ERROR(WriteDemoCheckpoint(out, o));
    std::fprintf(stderr, "[make-demo-checkpoint] wrote %s\n", out.c_str());
    return absl::OkStatus();
  }
  QWEN_ASSIGN_OR_RETURN(bool wrote, EnsureDemoCheckpoint(out, o, args.GetBool("force")));
  std::fprintf(stderr, "[make-demo-checkpoint] %s %s (preset %s, seed %llu)\n",
               wrote ? "wrote" : "reused the complete checkpoint in", out.c_str(),
               args.Get("preset").c_str(), static_cast<unsigned long long>(o.seed));
  return absl::OkStatus();
}

}  // namespace

int RunMakeDemoCheckpoint(int argc, char** argv) {
  auto args = Args::Parse(argc, argv, kFlags);
  if (!args.ok()) {
    std::fprintf(stderr, "qwen35 make-demo-checkpoint: %s\n",
                 std::string(args.status().message()).c_str());
    return 2;
  }
  if (args->help()) {
    std::fputs(Args::Usage("make-demo-checkpoint",
                           "Write a random-weight Qwen3.5 checkpoint in the Hugging Face format: "
                           "the small demo model, or with --preset 9b the full Qwen3.5-9B shape.",
                           kFlags)
                   .c_str(),
               stdout);
    return 0;
  }
  absl::Status s = Run(*args);
  return s.ok() ? 0 : ReportError("make-demo-checkpoint", s);
}

}  // namespace qwen::tools
