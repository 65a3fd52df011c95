// text_case_compare CASE_DIR GOT: applies the bf16 GPU criteria (agreement.h) to the output of
// `qwen35 forward --device cuda` (GOT) against a `text` reference case
// (CASE_DIR/expected.safetensors, with the tolerance derived from the case's bf16 noise,
// bf16_oracle.h), prints the agreement numbers and exits 0 when every criterion holds, 1 when one
// fails, 2 on bad input. Used by scripts/gpu/build_and_test.sh.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "core/safetensors.h"
#include "core/status.h"
#include "core/tensor.h"
#include "tests/model/cuda/agreement.h"
#include "tests/model/cuda/bf16_oracle.h"

namespace qwen::testing {
namespace {

absl::StatusOr<core::Tensor> ReadF32(const core::SafetensorsFile& f, const std::string& name) {
  QWEN_ASSIGN_OR_RETURN(core::Tensor t, f.Get(name));
  if (t.dtype() != core::DType::kF32 || t.rank() != 2) {
    return absl::InvalidArgumentError(absl::StrCat(f.path().string(), ": ", name,
                                                   " must be f32 [rows, V], got ",
                                                   core::ShapeToString(t.shape())));
  }
  return t.Clone();
}

absl::StatusOr<std::vector<int64_t>> ReadIds(const core::SafetensorsFile& f,
                                             const std::string& name) {
  QWEN_ASSIGN_OR_RETURN(core::Tensor t, f.Get(name));
  QWEN_ASSIGN_OR_RETURN(core::Tensor i64, t.To(core::DType::kI64));
  return std::vector<int64_t>(i64.data<int64_t>(), i64.data<int64_t>() + i64.numel());
}

absl::StatusOr<bool> Compare(const std::filesystem::path& case_dir, const std::string& got_path) {
  QWEN_ASSIGN_OR_RETURN(auto expected,
                        core::SafetensorsFile::Open(case_dir / "expected.safetensors"));
  QWEN_ASSIGN_OR_RETURN(auto got, core::SafetensorsFile::Open(got_path));
  QWEN_ASSIGN_OR_RETURN(core::Tensor ref_logits, ReadF32(*expected, "logits"));
  QWEN_ASSIGN_OR_RETURN(core::Tensor got_logits, ReadF32(*got, "logits"));
  if (ref_logits.shape() != got_logits.shape()) {
    return absl::InvalidArgumentError(
        absl::StrCat("logits shapes differ: expected ", core::ShapeToString(ref_logits.shape()),
                     ", got ", core::ShapeToString(got_logits.shape())));
  }
  const int64_t rows = ref_logits.dim(0), vocab = ref_logits.dim(1);
  QWEN_ASSIGN_OR_RETURN(const CaseNoise noise, MeasureCaseNoise(case_dir));
  const Bf16Tolerance tol = MakeTolerance(noise.scale, noise.noise);
  std::printf("  %s\n", tol.Summary().c_str());
  const LogitsAgreement prefill =
      CompareLogits(got_logits.data<float>(), ref_logits.data<float>(), rows, vocab, tol);
  std::printf("  prefill (%lld positions): %s -> %s\n", static_cast<long long>(rows),
              prefill.Summary().c_str(), prefill.ok() ? "ok" : "FAIL");
  bool ok = prefill.ok();
  if (expected->Has("greedy_ids")) {
    QWEN_ASSIGN_OR_RETURN(std::vector<int64_t> ref_ids, ReadIds(*expected, "greedy_ids"));
    QWEN_ASSIGN_OR_RETURN(core::Tensor ref_steps, ReadF32(*expected, "step_logits"));
    std::vector<int64_t> got_ids;
    core::Tensor got_steps = core::Tensor::Zeros({0, vocab}, core::DType::kF32);
    if (got->Has("greedy_ids")) {
      QWEN_ASSIGN_OR_RETURN(got_ids, ReadIds(*got, "greedy_ids"));
      QWEN_ASSIGN_OR_RETURN(got_steps, ReadF32(*got, "step_logits"));
    }
    if (got_steps.dim(0) != static_cast<int64_t>(got_ids.size()) || got_steps.dim(1) != vocab) {
      return absl::InvalidArgumentError("step_logits does not match greedy_ids");
    }
    const GreedyAgreement greedy = CompareGreedy(got_ids, got_steps.data<float>(), ref_ids,
                                                 ref_steps.data<float>(), vocab, tol);
    std::printf("  decode: %s -> %s\n", greedy.Summary().c_str(), greedy.ok() ? "ok" : "FAIL");
    ok = ok && greedy.ok();
  }
  return ok;
}

}  // namespace
}  // namespace qwen::testing

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: text_case_compare CASE_DIR GOT.safetensors\n");
    return 2;
  }
  auto ok = qwen::testing::Compare(argv[1], argv[2]);
  if (!ok.ok()) {
    std::fprintf(stderr, "text_case_compare: %s\n", std::string(ok.status().message()).c_str());
    return 2;
  }
  return *ok ? 0 : 1;
}
