// Helpers shared by the chat-template tests.
#pragma once

#include <fstream>
#include <sstream>
#include <string>

#include "nlohmann/json.hpp"

namespace qwen::gateway::testing {

// Reads a file below the repository root (QWEN_SOURCE_DIR) as bytes; empty if missing.
inline std::string ReadRepoFile(const std::string& relative_path) {
  std::ifstream in(std::string(QWEN_SOURCE_DIR) + "/" + relative_path, std::ios::binary);
  std::ostringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

inline nlohmann::ordered_json ReadRepoJson(const std::string& relative_path) {
  return nlohmann::ordered_json::parse(ReadRepoFile(relative_path), nullptr, false);
}

}  // namespace qwen::gateway::testing
