#include "tests/model/reference_case.h"

#include <algorithm>
#include <cmath>

#include "gtest/gtest.h"

namespace qwen::testing {

std::filesystem::path ReferenceRoot() {
  return std::filesystem::path(QWEN_SOURCE_DIR) / "tests" / "reference";
}

std::vector<std::filesystem::path> FindCases(const std::string& prefix) {
  std::vector<std::filesystem::path> out;
  for (const auto& entry : std::filesystem::directory_iterator(ReferenceRoot())) {
    if (entry.is_directory() && entry.path().filename().string().rfind(prefix, 0) == 0) {
      out.push_back(entry.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

core::Tensor ReadCaseTensor(const std::filesystem::path& file, const std::string& name) {
  auto f = core::SafetensorsFile::Open(file);
  if (!f.ok()) {
    ADD_FAILURE() << f.status();
    return {};
  }
  auto t = (*f)->Get(name);
  if (!t.ok()) {
    ADD_FAILURE() << t.status();
    return {};
  }
  return t->Clone();
}

std::vector<int64_t> ReadIds(const std::filesystem::path& file, const std::string& name) {
  core::Tensor t = ReadCaseTensor(file, name);
  if (t.empty()) return {};
  auto i64 = t.To(core::DType::kI64);
  if (!i64.ok()) {
    ADD_FAILURE() << i64.status();
    return {};
  }
  return std::vector<int64_t>(i64->data<int64_t>(), i64->data<int64_t>() + i64->numel());
}

float MaxAbsDiff(const float* a, const float* b, int64_t n) {
  float m = 0.0f;
  for (int64_t i = 0; i < n; ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

float MaxAbs(const float* a, int64_t n) {
  float m = 0.0f;
  for (int64_t i = 0; i < n; ++i) m = std::max(m, std::fabs(a[i]));
  return m;
}

}  // namespace qwen::testing
