// Entry points of the qwen35 subcommands. Each takes the subcommand's own argv (argv[0] is the
// subcommand name) and returns the process exit code: 0 success, 1 failure (message on stderr),
// 2 usage error.
#pragma once

namespace qwen::tools {

int RunBench(int argc, char** argv);  // needs the CUDA models (QWEN_HAVE_GPU_BENCH)
int RunChatTemplate(int argc, char** argv);
int RunDetokenize(int argc, char** argv);
int RunForward(int argc, char** argv);
int RunChat(int argc, char** argv);    // needs gRPC (QWEN_HAVE_GRPC)
int RunHealth(int argc, char** argv);  // needs gRPC (QWEN_HAVE_GRPC)
int RunServeLocal(int argc, char** argv);  // needs gRPC (its children are the gRPC servers)
int RunGenerate(int argc, char** argv);
int RunMakeDemoCheckpoint(int argc, char** argv);
int RunPreprocessImage(int argc, char** argv);
int RunPreprocessVideo(int argc, char** argv);
int RunTokenize(int argc, char** argv);
}  // namespace qwen::tools
