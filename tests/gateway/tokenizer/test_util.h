// Shared helpers for the tokenizer tests.
#pragma once

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace qwen::gateway::testing {

inline std::string SourcePath(const std::string& relative) {
  return std::string(QWEN_SOURCE_DIR) + "/" + relative;
}

inline std::string ReadFileOrDie(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::ostringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

inline nlohmann::json ReadJsonOrDie(const std::string& path) {
  nlohmann::json j = nlohmann::json::parse(ReadFileOrDie(path), nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << path << " is not valid JSON";
  return j;
}

// One entry of a cases.json / decode_cases.json file.
struct Case {
  std::string text;  // empty for decode-only cases
  std::vector<int32_t> ids;
  std::string decoded;
  std::string decoded_skip_special;
};

inline std::vector<Case> LoadCases(const std::string& path) {
  std::vector<Case> cases;
  for (const nlohmann::json& j : ReadJsonOrDie(path)) {
    Case c;
    if (j.contains("text")) c.text = j["text"].get<std::string>();
    c.ids = j["ids"].get<std::vector<int32_t>>();
    c.decoded = j["decoded"].get<std::string>();
    c.decoded_skip_special = j["decoded_skip_special"].get<std::string>();
    cases.push_back(std::move(c));
  }
  return cases;
}

// "[1, 2, 3]" for failure messages.
inline std::string IdsToString(const std::vector<int32_t>& ids) {
  std::string s = "[";
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? ", " : "") + std::to_string(ids[i]);
  return s + "]";
}

// Text with non-printable and non-ASCII characters escaped, for failure messages.
inline std::string Escaped(const std::string& text) {
  return nlohmann::json(text).dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
}

}  // namespace qwen::gateway::testing
