// qwen35 bench: the GPU benchmark of the CUDA text model and vision encoder (bench/gpu) on a
// checkpoint, normally the 9B-shaped random one:
//   qwen35 make-demo-checkpoint --preset 9b --out /tmp/q9b
//   qwen35 bench --model /tmp/q9b --json ours.json
//   python3 bench/model/hf_baseline.py --model /tmp/q9b --json hf.json
//   python3 bench/model/compare.py --ours ours.json --hf hf.json
// Prints one line per measurement to stderr and the JSON report (bench/model/README.md schema)
// to --json or stdout.
#include <cstdio>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/status.h"
#include "tools/qwen35/args.h"
#include "tools/qwen35/commands.h"

#ifdef QWEN_HAVE_GPU_BENCH
#include "bench/gpu/bench_report.h"
#include "core/cuda/device_context.h"
#endif

namespace qwen::tools {
namespace {

const std::vector<FlagSpec> kFlags = {
    {.name = "model", .help = "checkpoint directory (config.json + safetensors)", .required = true},
    {.name = "json", .help = "write the JSON report here (default: stdout)"},
    {.name = "prompt-lens", .help = "prefill prompt lengths (default 1024,8192)"},
    {.name = "batches", .help = "decode batch sizes (default 1,8,32,64)"},
    {.name = "decode-prompt-len", .help = "prompt tokens of each decode sequence (default 1024)"},
    {.name = "new-tokens", .help = "tokens generated per decode sequence (default 256)"},
    {.name = "repeats", .help = "prefill repeats, median reported (default 3)"},
    {.name = "images", .help = "vision encoder image sides in pixels (default 448,1024,2048)"},
    {.name = "no-cuda-graphs", .help = "decode without CUDA graphs", .is_bool = true},
    {.name = "skip-text", .help = "only the vision encoder", .is_bool = true},
    {.name = "skip-vision", .help = "only the text model", .is_bool = true},
};

#ifdef QWEN_HAVE_GPU_BENCH
absl::StatusOr<std::vector<int64_t>> ListOr(const Args& args, const std::string& name,
                                            std::vector<int64_t> fallback) {
  if (!args.Has(name)) return fallback;
  QWEN_ASSIGN_OR_RETURN(std::vector<int64_t> v, args.GetIntList(name));
  for (int64_t x : v) {
    if (x < 1) return absl::InvalidArgumentError(absl::StrCat("--", name, " values must be >= 1"));
  }
  return v;
}

absl::Status Run(const Args& args) {
  bench::TextBenchOptions text{.model_dir = args.Get("model")};
  QWEN_ASSIGN_OR_RETURN(text.prompt_lens, ListOr(args, "prompt-lens", text.prompt_lens));
  QWEN_ASSIGN_OR_RETURN(text.batches, ListOr(args, "batches", text.batches));
  QWEN_ASSIGN_OR_RETURN(text.decode_prompt_len, args.GetInt("decode-prompt-len", 1024));
  QWEN_ASSIGN_OR_RETURN(text.new_tokens, args.GetInt("new-tokens", 256));
  QWEN_ASSIGN_OR_RETURN(int64_t repeats, args.GetInt("repeats", 3));
  text.repeats = static_cast<int>(repeats);
  text.cuda_graphs = !args.GetBool("no-cuda-graphs");
  bench::VisionBenchOptions vision{.model_dir = args.Get("model")};
  QWEN_ASSIGN_OR_RETURN(vision.sides, ListOr(args, "images", vision.sides));

  QWEN_ASSIGN_OR_RETURN(std::unique_ptr<core::cuda::DeviceContext> ctx,
                        core::cuda::DeviceContext::Create());
  bench::BenchReport report{.device = ctx->Describe(), .checkpoint = args.Get("model")};
  std::fprintf(stderr, "[bench] %s\n", report.device.c_str());
  if (!args.GetBool("skip-text")) {
    QWEN_ASSIGN_OR_RETURN(report.text, bench::RunTextBench(*ctx, text));
  }
  if (!args.GetBool("skip-vision")) {
    QWEN_ASSIGN_OR_RETURN(report.vision, bench::RunVisionBench(*ctx, vision));
  }
  if (args.Has("json")) return bench::WriteReport(args.Get("json"), report);
  std::cout << bench::ReportJson(report) << "\n";
  return absl::OkStatus();
}
#endif

}  // namespace

int RunBench(int argc, char** argv) {
  auto args = Args::Parse(argc, argv, kFlags);
  if (!args.ok()) {
    std::cerr << "qwen35 bench: " << std::string(args.status().message()) << "\n";
    return 2;
  }
  if (args->help()) {
    std::cout << Args::Usage("bench",
                             "Benchmark the CUDA text model (prefill latency, decode throughput "
                             "with CUDA graphs) and the CUDA vision encoder on a checkpoint; "
                             "compare with bench/model/hf_baseline.py via bench/model/compare.py.",
                             kFlags);
    return 0;
  }
#ifdef QWEN_HAVE_GPU_BENCH
  const absl::Status s = Run(*args);
  if (!s.ok()) {
    std::cerr << "qwen35 bench: " << s << "\n";
    return 1;
  }
  return 0;
#else
  std::cerr << "qwen35 bench: this build has no CUDA text model and vision encoder (built "
               "without the CUDA toolkit); build with CUDA and run on a GPU machine\n";
  return 1;
#endif
}

}  // namespace qwen::tools
