// qwen35 tokenize / detokenize (shared/REFERENCE_CASES.md, "The CLI contract").
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gateway/tokenizer/tokenizer.h"
#include "tools/qwen35/args.h"
#include "tools/qwen35/commands.h"

namespace qwen::tools {
namespace {

const std::vector<FlagSpec>& TokenizeFlags() {
  static const std::vector<FlagSpec> kFlags = {
      {"tokenizer", "tokenizer.json (a tokenizer_config.json beside it is read too)", false, true},
      {"tokenizer-config", "tokenizer_config.json to use instead of the one beside tokenizer.json"},
      {"text-file", "text to tokenize (default: standard input); read as raw bytes"},
      {"split-special-tokens", "tokenize special tokens in the text as plain text", true},
  };
  return kFlags;
}

const std::vector<FlagSpec>& DetokenizeFlags() {
  static const std::vector<FlagSpec> kFlags = {
      {"tokenizer", "tokenizer.json (a tokenizer_config.json beside it is read too)", false, true},
      {"tokenizer-config", "tokenizer_config.json to use instead of the one beside tokenizer.json"},
      {"ids", "comma-separated token ids, e.g. 9419,11,1814", false, true},
      {"skip-special", "drop special tokens (<|im_end|>, ...) from the text", true},
  };
  return kFlags;
}

absl::StatusOr<gateway::Tokenizer> LoadTokenizer(const Args& args) {
  gateway::TokenizerLoadOptions options;
  options.tokenizer_config_path = args.Get("tokenizer-config");
  return gateway::Tokenizer::FromFile(args.Get("tokenizer"), options);
}

absl::StatusOr<std::string> ReadInput(const Args& args) {
  std::ostringstream buf;
  if (args.Has("text-file")) {
    const std::string path = args.Get("text-file");
    std::ifstream in(path, std::ios::binary);
    if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
    buf << in.rdbuf();
  } else {
    buf << std::cin.rdbuf();
  }
  return std::move(buf).str();
}

}  // namespace

int RunTokenize(int argc, char** argv) {
  static const char kSummary[] = "Prints the token ids of a text as JSON {\"ids\": [...]}.";
  absl::StatusOr<Args> args = Args::Parse(argc, argv, TokenizeFlags());
  if (!args.ok()) {
    std::fprintf(stderr, "qwen35 tokenize: %s\n\n%s", std::string(args.status().message()).c_str(),
                 Args::Usage("tokenize", kSummary, TokenizeFlags()).c_str());
    return 2;
  }
  if (args->help()) {
    std::printf("%s", Args::Usage("tokenize", kSummary, TokenizeFlags()).c_str());
    return 0;
  }
  absl::StatusOr<gateway::Tokenizer> tokenizer = LoadTokenizer(*args);
  if (!tokenizer.ok()) return ReportError("tokenize", tokenizer.status());
  absl::StatusOr<std::string> text = ReadInput(*args);
  if (!text.ok()) return ReportError("tokenize", text.status());
  gateway::EncodeOptions options;
  options.parse_special_tokens = !args->GetBool("split-special-tokens");
  absl::StatusOr<std::vector<int32_t>> ids = tokenizer->Encode(*text, options);
  if (!ids.ok()) return ReportError("tokenize", ids.status());
  std::printf("{\"ids\": [%s]}\n", absl::StrJoin(*ids, ", ").c_str());
  return 0;
}

int RunDetokenize(int argc, char** argv) {
  static const char kSummary[] = "Prints the text of token ids (exactly, no newline added).";
  absl::StatusOr<Args> args = Args::Parse(argc, argv, DetokenizeFlags());
  if (!args.ok()) {
    std::fprintf(stderr, "qwen35 detokenize: %s\n\n%s",
                 std::string(args.status().message()).c_str(),
                 Args::Usage("detokenize", kSummary, DetokenizeFlags()).c_str());
    return 2;
  }
  if (args->help()) {
    std::printf("%s", Args::Usage("detokenize", kSummary, DetokenizeFlags()).c_str());
    return 0;
  }
  absl::StatusOr<std::vector<int64_t>> ids64 = args->GetIntList("ids");
  if (!ids64.ok()) {
    std::fprintf(stderr, "qwen35 detokenize: %s\n", std::string(ids64.status().message()).c_str());
    return 2;
  }
  std::vector<int32_t> ids;
  for (int64_t id : *ids64) {
    if (id < INT32_MIN || id > INT32_MAX) {
      return ReportError("detokenize", absl::InvalidArgumentError(absl::StrCat(
                                           "token id ", id, " is not in the vocabulary")));
    }
    ids.push_back(static_cast<int32_t>(id));
  }
  absl::StatusOr<gateway::Tokenizer> tokenizer = LoadTokenizer(*args);
  if (!tokenizer.ok()) return ReportError("detokenize", tokenizer.status());
  absl::StatusOr<std::string> text = tokenizer->Decode(ids, args->GetBool("skip-special"));
  if (!text.ok()) return ReportError("detokenize", text.status());
  std::fwrite(text->data(), 1, text->size(), stdout);
  return 0;
}

}  // namespace qwen::tools
