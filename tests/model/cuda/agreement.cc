#include "tests/model/cuda/agreement.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_format.h"

namespace qwen::testing {
namespace {

int64_t ArgMaxOf(const float* row, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i) {
    if (row[i] > row[best]) best = i;
  }
  return best;
}

}  // namespace

Bf16Tolerance MakeTolerance(float scale, float noise) {
  Bf16Tolerance t;
  t.scale = scale;
  t.noise = noise;
  t.tolerance = std::max(kMinTolerance, kNoiseFactor * noise) * scale;
  t.margin_threshold = kMarginFactor * t.tolerance;
  return t;
}

std::string Bf16Tolerance::Summary() const {
  return absl::StrFormat(
      "logit scale %.4g, bf16 noise %.2f%% -> tolerance %.4g (%.2f%%), "
      "clear margin > %.4g",
      scale, 100.0 * noise, tolerance, 100.0 * tolerance / scale, margin_threshold);
}

float TopTwoMargin(const float* row, int64_t n) {
  float a = -std::numeric_limits<float>::infinity(), b = a;
  for (int64_t i = 0; i < n; ++i) {
    if (row[i] > a) {
      b = a;
      a = row[i];
    } else if (row[i] > b) {
      b = row[i];
    }
  }
  return n < 2 ? std::numeric_limits<float>::infinity() : a - b;
}

LogitsAgreement CompareLogits(const float* got, const float* ref, int64_t rows, int64_t vocab,
                              const Bf16Tolerance& tol) {
  LogitsAgreement a;
  a.rows = rows;
  a.tol = tol;
  for (int64_t r = 0; r < rows; ++r) {
    const float* g = got + r * vocab;
    const float* e = ref + r * vocab;
    for (int64_t i = 0; i < vocab; ++i) {
      const float d = std::fabs(g[i] - e[i]);
      // A NaN must fail (a plain max would drop it).
      if (std::isnan(d)) {
        a.max_abs_diff = std::numeric_limits<float>::infinity();
      } else if (d > a.max_abs_diff) {
        a.max_abs_diff = d;
      }
    }
    if (ArgMaxOf(g, vocab) == ArgMaxOf(e, vocab)) {
      ++a.matches;
    } else if (TopTwoMargin(e, vocab) <= tol.margin_threshold) {
      ++a.ambiguous_mismatches;
    } else {
      ++a.clear_mismatches;
    }
  }
  return a;
}

std::string LogitsAgreement::Summary() const {
  return absl::StrFormat(
      "argmax %d/%d (%.2f%%; %.2f%% with %d near-tie mismatches; %d clear mismatches), "
      "max |diff| %.4g = %.2f%% of scale (tolerance %.2f%%)",
      matches, rows, 100.0 * raw_agreement(), 100.0 * agreement(), ambiguous_mismatches,
      clear_mismatches, max_abs_diff, 100.0 * max_abs_diff / tol.scale,
      100.0 * tol.tolerance / tol.scale);
}

GreedyAgreement CompareGreedy(const std::vector<int64_t>& got_ids, const float* got_step_logits,
                              const std::vector<int64_t>& ref_ids, const float* ref_step_logits,
                              int64_t vocab, const Bf16Tolerance& tol) {
  GreedyAgreement a;
  a.steps = static_cast<int64_t>(ref_ids.size());
  a.min_margin = std::numeric_limits<float>::infinity();
  int64_t compared = 0;
  for (int64_t i = 0; i < a.steps; ++i) {
    const float margin = TopTwoMargin(ref_step_logits + i * vocab, vocab);
    a.min_margin = std::min(a.min_margin, margin);
    if (i >= static_cast<int64_t>(got_ids.size())) {
      a.diverged = true;
      a.divergence_step = i;
      a.divergence_margin = std::numeric_limits<float>::infinity();  // missing: never accepted
      break;
    }
    ++compared;  // step i's logits were computed from an identical history
    if (got_ids[i] != ref_ids[i]) {
      a.diverged = true;
      a.divergence_step = i;
      a.divergence_margin = margin;
      break;
    }
    ++a.identical;
  }
  a.step_logits = CompareLogits(got_step_logits, ref_step_logits, compared, vocab, tol);
  return a;
}

std::string GreedyAgreement::Summary() const {
  std::string s = absl::StrFormat("greedy ids %d/%d identical", identical, steps);
  if (diverged) {
    s += absl::StrFormat(" (diverged at step %d where the reference margin is %.4g: %s)",
                         divergence_step, divergence_margin,
                         divergence_margin <= step_logits.tol.margin_threshold
                             ? "a near tie, accepted"
                             : "clear, FAIL");
  }
  s += absl::StrFormat(", min reference margin %.4g; step logits %s", min_margin,
                       step_logits.Summary());
  return s;
}

}  // namespace qwen::testing
