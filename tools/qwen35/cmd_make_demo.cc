// qwen35 make-demo-checkpoint: writes the small random-weight demo checkpoint (see demo_checkpoint.h).
#include <cstdio>

#include "core/status.h"
#include "tools/qwen35/args.h"
#include "tools/qwen35/commands.h"
#include "tools/qwen35/demo_checkpoint.h"

namespace qwen::tools {
namespace {

const std::vector<FlagSpec> kFlags = {
    {"out", "output directory", false, true},
    {"seed", "random seed (default 0)"},
    {"hidden-size", "text hidden size (default 256)"},
    {"layers", "decoder layers, a multiple of 4 (default 8)"},
};

absl::Status Run(const Args& args) {
  DemoCheckpointOptions o;
  QWEN_ASSIGN_OR_RETURN(int64_t seed, args.GetInt("seed", 0));
  QWEN_ASSIGN_OR_RETURN(o.hidden_size, args.GetInt("hidden-size", 256));
  QWEN_ASSIGN_OR_RETURN(o.num_layers, args.GetInt("layers", 8));
  if (o.hidden_size < 16 || o.hidden_size % 16 != 0) {
    return absl::InvalidArgumentError("--hidden-size must be a positive multiple of 16");
  }
  if (o.num_layers < 4 || o.num_layers % 4 != 0) {
    return absl::InvalidArgumentError("--layers must be a positive multiple of 4");
  }
  o.seed = static_cast<uint64_t>(seed);
  QWEN_RETURN_IF_ERROR(WriteDemoCheckpoint(args.Get("out"), o));
  std::fprintf(stderr, "[make-demo-checkpoint] wrote %s\n", args.Get("out").c_str());
  return absl::OkStatus();
}

}  // namespace

int RunMakeDemoCheckpoint(int argc, char** argv) {
  auto args = Args::Parse(argc, argv, kFlags);
  if (!args.ok()) {
    std::fprintf(stderr, "qwen35 make-demo-checkpoint: %s\n", std::string(args.status().message()).c_str());
    return 2;
  }
  if (args->help()) {
    std::fputs(Args::Usage("make-demo-checkpoint", "Write a small random-weight Qwen3.5 checkpoint.", kFlags).c_str(), stdout);
    return 0;
  }
  absl::Status s = Run(*args);
  return s.ok() ? 0 : ReportError("make-demo-checkpoint", s);
}

}  // namespace qwen::tools
