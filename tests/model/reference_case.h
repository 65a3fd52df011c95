// Loading Hugging Face reference cases (shared/REFERENCE_CASES.md) for the parity tests.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "core/safetensors.h"
#include "core/tensor.h"

namespace qwen::testing {

// tests/reference in the source tree.
std::filesystem::path ReferenceRoot();
// Case folders under ReferenceRoot() whose name starts with `prefix`, sorted.
std::vector<std::filesystem::path> FindCases(const std::string& prefix);

// Reads a named tensor of a case file (inputs.safetensors / expected.safetensors) as an owning
// copy; fails the calling test (ADD_FAILURE) and returns an empty tensor if it is missing.
core::Tensor ReadCaseTensor(const std::filesystem::path& file, const std::string& name);
std::vector<int64_t> ReadIds(const std::filesystem::path& file, const std::string& name);

// max |a - b| over all elements (same element count required).
float MaxAbsDiff(const float* a, const float* b, int64_t n);
float MaxAbs(const float* a, int64_t n);

}  // namespace qwen::testing
