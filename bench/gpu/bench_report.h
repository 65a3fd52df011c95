// `qwen35 bench` results as JSON, in the schema bench/model/hf_baseline.py writes for Hugging Face
// (bench/model/README.md), so bench/model/compare.py can put the two side by side.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "bench/gpu/text_bench.h"
#include "bench/gpu/vision_bench.h"

namespace qwen::bench {

struct BenchReport {
  std::string device;      // DeviceContext::Describe()
  std::string checkpoint;  // the model directory
  std::optional<TextBenchResult> text;
  std::optional<VisionBenchResult> vision;
};

// The report as JSON text (pretty-printed).
std::string ReportJson(const BenchReport& report);

// Writes ReportJson(report) to `path`.
absl::Status WriteReport(const std::filesystem::path& path, const BenchReport& report);

}  // namespace qwen::bench
