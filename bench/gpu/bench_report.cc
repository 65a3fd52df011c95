#include "bench/gpu/bench_report.h"

#include <algorithm>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace qwen::bench {

std::string ReportJson(const BenchReport& report) {
  nlohmann::json j;
  j["tool"] = "qwen35";
  j["device"] = report.device;
  j["checkpoint"] = report.checkpoint;
  double peak = 0.0;
  if (report.text.has_value()) {
    const TextBenchResult& t = *report.text;
    j["load_s"] = t.load_s;
    j["memory_plan"] = t.memory_plan;
    j["decode_graphs"] = t.decode_graphs;
    j["prefill"] = nlohmann::json::array();
    for (const PrefillTiming& p : t.prefill) {
      j["prefill"].push_back({{"tokens", p.tokens}, {"ms", p.ms}});
    }
    j["decode"] = nlohmann::json::array();
    for (const DecodeTiming& d : t.decode) {
      j["decode"].push_back({{"batch", d.batch},
                             {"prompt_tokens", d.prompt_tokens},
                             {"new_tokens", d.new_tokens},
                             {"prefill_ms", d.prefill_ms},
                             {"first_step_ms", d.first_step_ms},
                             {"decode_ms", d.decode_ms},
                             {"tok_s_total", d.tok_s_total},
                             {"tok_s_per_seq", d.tok_s_per_seq}});
    }
    j["text_peak_memory_gib"] = t.peak_memory_gib;
    peak = std::max(peak, t.peak_memory_gib);
  }
  if (report.vision.has_value()) {
    j["vision"] = nlohmann::json::array();
    for (const VisionTiming& v : report.vision->images) {
      j["vision"].push_back({{"side", v.side},
                             {"patches", v.patches},
                             {"merged_tokens", v.merged_tokens},
                             {"ms", v.ms},
                             {"upload_ms", v.upload_ms}});
    }
    j["vision_peak_memory_gib"] = report.vision->peak_memory_gib;
    peak = std::max(peak, report.vision->peak_memory_gib);
  }
  // The text model and the encoder run one after the other (each freed before the next loads).
  j["peak_memory_gib"] = peak;
  return j.dump(2);
}

absl::Status WriteReport(const std::filesystem::path& path, const BenchReport& report) {
  std::ofstream out(path);
  out << ReportJson(report) << "\n";
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path.string()));
  return absl::OkStatus();
}

}  // namespace qwen::bench
