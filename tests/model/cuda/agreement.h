// The bf16 GPU acceptance criteria of shared/REFERENCE_CASES.md, computed once for the GPU tests
// and the `text_case_compare` tool of scripts/gpu/build_and_test.sh:
//
//   * logits within a bf16 tolerance scaled to the logits' magnitude:
//       max |got - ref| <= tolerance = max(kMinTolerance, kNoiseFactor * noise) * scale,
//     scale = max |ref prefill logits|, noise = the case's own bf16 sensitivity (bf16_oracle.h:
//     the max error, relative to scale, of a CPU run that rounds exactly where the CUDA model
//     rounds). kMinTolerance = 2e-2 is STYLE.md 6.2.2's "bf16 about 2e-2"; kNoiseFactor = 2
//     because the GPU is another realisation of the same rounding noise (its fp32 sums run in
//     other orders, so other elements round the other way) and the max of such noise varies
//     between realisations.
//   * same argmax at >= 99% of the prefill positions, and never where the margin is clear;
//   * identical greedy ids wherever the reference's top-2 margin is clear.
//
// "Clear" follows from the tolerance: if every logit is within e = tolerance of the reference,
// the difference of two logits is within 2e, so an argmax can only change where the reference's
// top-1/top-2 margin is <= 2e (kMarginFactor = 2). Such a position is a coin flip for any bf16
// implementation (HF's own bf16 run included), so an argmax mismatch there counts as agreement
// ("near tie"), and a greedy divergence there is accepted; the comparison of greedy ids and step
// logits stops at the first divergence (later steps are conditioned on different tokens). Every
// mismatch at a clear margin is a failure.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace qwen::testing {

inline constexpr float kMinTolerance = 2e-2f;
inline constexpr float kNoiseFactor = 2.0f;
inline constexpr float kMarginFactor = 2.0f;
inline constexpr double kMinArgmaxAgreement = 0.99;

struct Bf16Tolerance {
  float scale = 0.0f;             // max |reference logits|
  float noise = 0.0f;             // the case's bf16 sensitivity, relative to scale
  float tolerance = 0.0f;         // absolute
  float margin_threshold = 0.0f;  // absolute: kMarginFactor * tolerance
  std::string Summary() const;
};

Bf16Tolerance MakeTolerance(float scale, float noise);

// Top-1 minus top-2 of one row.
float TopTwoMargin(const float* row, int64_t n);

struct LogitsAgreement {
  int64_t rows = 0;
  int64_t matches = 0;               // same argmax
  int64_t ambiguous_mismatches = 0;  // different argmax where ref margin <= threshold
  int64_t clear_mismatches = 0;      // different argmax where ref margin > threshold
  float max_abs_diff = 0.0f;
  Bf16Tolerance tol;
  double raw_agreement() const { return rows == 0 ? 1.0 : double(matches) / double(rows); }
  // Matches plus near-tie mismatches, over all rows.
  double agreement() const {
    return rows == 0 ? 1.0 : double(matches + ambiguous_mismatches) / double(rows);
  }
  bool ok() const {
    return agreement() >= kMinArgmaxAgreement && clear_mismatches == 0 &&
           max_abs_diff <= tol.tolerance;
  }
  std::string Summary() const;
};

// Compares `rows` rows of `vocab` logits against the reference.
LogitsAgreement CompareLogits(const float* got, const float* ref, int64_t rows, int64_t vocab,
                              const Bf16Tolerance& tol);

struct GreedyAgreement {
  int64_t steps = 0;      // reference greedy steps
  int64_t identical = 0;  // leading steps with identical ids
  bool diverged = false;
  int64_t divergence_step = -1;
  float divergence_margin = 0.0f;  // reference margin at the divergence step
  float min_margin = 0.0f;         // smallest reference margin over the compared steps
  // Step logits of the steps whose history is identical (up to and including the divergence).
  LogitsAgreement step_logits;
  bool ok() const {
    return (!diverged || divergence_margin <= step_logits.tol.margin_threshold) &&
           step_logits.max_abs_diff <= step_logits.tol.tolerance;
  }
  std::string Summary() const;
};

// Greedy ids and step logits against the reference's; got_ids shorter than ref_ids is a
// divergence that is never accepted.
GreedyAgreement CompareGreedy(const std::vector<int64_t>& got_ids, const float* got_step_logits,
                              const std::vector<int64_t>& ref_ids, const float* ref_step_logits,
                              int64_t vocab, const Bf16Tolerance& tol);

}  // namespace qwen::testing
