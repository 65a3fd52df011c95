// Discovery of the vision / multimodal reference cases (tests/reference/vision_* and
// multimodal_*), filtered by the "kind" in their case.json.
#pragma once

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "tests/model/reference_case.h"

namespace qwen::testing {

inline nlohmann::json ReadCaseJson(const std::filesystem::path& dir) {
  std::ifstream in(dir / "case.json");
  if (!in) return nlohmann::json::object();
  return nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
}

// Folders named vision_* or multimodal_* whose case.json kind is in `kinds`, sorted.
inline std::vector<std::filesystem::path> FindMultimodalCases(const std::set<std::string>& kinds) {
  std::vector<std::filesystem::path> out;
  for (const char* prefix : {"multimodal_", "vision_"}) {
    for (const std::filesystem::path& dir : FindCases(prefix)) {
      const nlohmann::json j = ReadCaseJson(dir);
      if (j.is_object() && j.contains("kind") && j["kind"].is_string() &&
          kinds.count(j["kind"].get<std::string>()) != 0) {
        out.push_back(dir);
      }
    }
  }
  return out;
}

inline std::string CaseName(const ::testing::TestParamInfo<std::filesystem::path>& info) {
  return info.param.filename().string();
}

}  // namespace qwen::testing
