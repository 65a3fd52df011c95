// qwen35: the command-line tool (shared/REFERENCE_CASES.md, "The CLI contract").
// Each subcommand lives in its own cmd_*.cc and is listed in kCommands below.
#include <cstdio>
#include <cstring>
#include <string>

#include "tools/qwen35/commands.h"

namespace {

struct Command {
  const char* name;
  const char* summary;
  int (*run)(int argc, char** argv);  // argv[0] is the subcommand name
};

const Command kCommands[] = {
    // QWEN35_COMMANDS (keep sorted)
    {"bench", "GPU benchmark: prefill, decode tok/s, vision encoder (JSON report)", &qwen::tools::RunBench},
#ifdef QWEN_HAVE_GRPC
    {"chat", "send one chat turn to a gateway and stream the answer", &qwen::tools::RunChat},
#endif
    {"chat-template", "render a chat template for a request.json", &qwen::tools::RunChatTemplate},
    {"detokenize", "print the text of token ids", &qwen::tools::RunDetokenize},
    {"forward", "run the model on inputs.safetensors, write logits/greedy ids", &qwen::tools::RunForward},
    {"generate", "greedy generation from prompt ids (CPU)", &qwen::tools::RunGenerate},
#ifdef QWEN_HAVE_GRPC
    {"health", "grpc.health.v1 check of a server (optionally wait for SERVING)", &qwen::tools::RunHealth},
#endif
    {"make-demo-checkpoint", "write a random-weight Qwen3.5 checkpoint (small demo, or --preset 9b)", &qwen::tools::RunMakeDemoCheckpoint},
    {"preprocess-image", "HF-compatible image pre-processing to pixel_values", &qwen::tools::RunPreprocessImage},
    {"preprocess-video", "HF-compatible video pre-processing to pixel_values_videos", &qwen::tools::RunPreprocessVideo},
#ifdef QWEN_HAVE_GRPC
    {"serve-local", "run vision, text and gateway on loopback (gateway on --port)", &qwen::tools::RunServeLocal},
#endif
    {"tokenize", "print the token ids of a text as JSON", &qwen::tools::RunTokenize},
};

void PrintUsage() {
  std::fprintf(stderr, "usage: qwen35 <command> [flags]\n\ncommands:\n");
  for (const Command& c : kCommands) std::fprintf(stderr, "  %-18s %s\n", c.name, c.summary);
  std::fprintf(stderr, "\nRun 'qwen35 <command> --help' for the flags of one command.\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    PrintUsage();
    return argc < 2 ? 2 : 0;
  }
  for (const Command& c : kCommands) {
    if (std::strcmp(argv[1], c.name) == 0) return c.run(argc - 1, argv + 1);
  }
  std::fprintf(stderr, "qwen35: unknown command '%s'\n\n", argv[1]);
  PrintUsage();
  return 2;
}
