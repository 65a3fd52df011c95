// Entry points of the qwen35 subcommands. Each takes the subcommand's own argv (argv[0] is the
// subcommand name) and returns the process exit code: 0 success, 1 failure (message on stderr),
// 2 usage error.
#pragma once

namespace qwen::tools {

int RunForward(int argc, char** argv);
int RunGenerate(int argc, char** argv);
int RunMakeDemoCheckpoint(int argc, char** argv);
}  // namespace qwen::tools
