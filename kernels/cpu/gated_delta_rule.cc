// CPU fp32 references of the gated delta rule (kernels/gated_delta_rule.h, MODEL.md 2.7.2-2.7.4).
#include "kernels/gated_delta_rule.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/dot.h"

namespace qwen::kernels::cpu {
namespace {

// y[0..n) += a * x[0..n)
inline void Axpy(float a, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

}  // namespace

void GatedDeltaRuleRecurrent(const float* q, const float* k, const float* v, const float* g,
                             const float* beta, float* state, float* out,
                             const GatedDeltaRuleParams& p) {
  const int64_t dk = p.head_dim_k;
  const int64_t dv = p.head_dim_v;
  // TRAP: q/k heads are shared by Hv/Hk *consecutive* value heads (repeat_interleave, 2.7.2 6).
  const int64_t group = p.num_heads_v / p.num_heads_k;
  std::vector<float> kv(static_cast<size_t>(dv));
  std::vector<float> delta(static_cast<size_t>(dv));
  for (int64_t t = 0; t < p.num_tokens; ++t) {
    for (int64_t j = 0; j < p.num_heads_v; ++j) {
      const int64_t i = j / group;
      const float* qt = q + t * p.qk_stride + i * dk;
      const float* kt = k + t * p.qk_stride + i * dk;
      const float* vt = v + t * p.v_stride + j * dv;
      const float alpha = std::exp(g[t * p.num_heads_v + j]);
      const float b = beta[t * p.num_heads_v + j];
      float* s = state + j * dk * dv;  // S[a][c], a < Dk, c < Dv
      // TRAP (2.7.3): decay first, then the delta read kv = Sᵀk of the *decayed* state.
      std::fill(kv.begin(), kv.end(), 0.0f);
      for (int64_t a = 0; a < dk; ++a) {
        float* row = s + a * dv;
        for (int64_t c = 0; c < dv; ++c) row[c] *= alpha;
        Axpy(kt[a], row, kv.data(), dv);
      }
      for (int64_t c = 0; c < dv; ++c) delta[c] = b * (vt[c] - kv[c]);
      // Rank-1 update, then the output reads the *updated* state.
      float* o = out + (t * p.num_heads_v + j) * dv;
      std::fill(o, o + dv, 0.0f);
      for (int64_t a = 0; a < dk; ++a) {
        float* row = s + a * dv;
        Axpy(kt[a], delta.data(), row, dv);
        Axpy(qt[a], row, o, dv);
      }
    }
  }
}

void GatedDeltaRuleChunked(const float* q, const float* k, const float* v, const float* g,
                           const float* beta, float* state, float* out,
                           const GatedDeltaRuleParams& p, int64_t chunk_size) {
  const int64_t dk = p.head_dim_k;
  const int64_t dv = p.head_dim_v;
  const int64_t hv = p.num_heads_v;
  const int64_t group = p.num_heads_v / p.num_heads_k;
  const int64_t cs = std::max<int64_t>(1, std::min(chunk_size, p.num_tokens));
  auto buf = [](int64_t n) {
    return std::vector<float>(static_cast<size_t>(std::max<int64_t>(n, 1)));
  };
  std::vector<float> gamma = buf(cs);      // inclusive cumulative log-decay inside the chunk
  std::vector<float> exp_gamma = buf(cs);  // e^{γ_r}
  std::vector<float> to_end = buf(cs);     // e^{γ_{L-1} - γ_r}
  std::vector<float> tri = buf(cs * cs);   // A, then T = (I + A)^-1 in place (row-major)
  std::vector<float> qk = buf(cs * cs);    // tril_incl_diag(Q Kᵀ ⊙ Γ)
  std::vector<float> u = buf(cs * dv);     // U, then V' = U - W S in place
  std::vector<float> w = buf(cs * dk);     // W
  for (int64_t j = 0; j < hv; ++j) {
    const int64_t head_k = j / group;  // TRAP: repeat_interleave grouping, as in the recurrent form
    float* s = state + j * dk * dv;
    for (int64_t c0 = 0; c0 < p.num_tokens; c0 += cs) {
      // A last partial chunk of L < C rows is exactly the zero-padded chunk of 2.7.4: padded rows
      // have k = v = 0, beta = 0, g = 0, so they add nothing and leave gamma_{L-1} unchanged.
      const int64_t len = std::min(cs, p.num_tokens - c0);
      auto q_row = [&](int64_t r) { return q + (c0 + r) * p.qk_stride + head_k * dk; };
      auto k_row = [&](int64_t r) { return k + (c0 + r) * p.qk_stride + head_k * dk; };
      auto v_row = [&](int64_t r) { return v + (c0 + r) * p.v_stride + j * dv; };
      auto beta_of = [&](int64_t r) { return beta[(c0 + r) * hv + j]; };
      float acc = 0.0f;
      for (int64_t r = 0; r < len; ++r) {
        acc += g[(c0 + r) * hv + j];
        gamma[r] = acc;
      }
      for (int64_t r = 0; r < len; ++r) {
        exp_gamma[r] = std::exp(gamma[r]);
        to_end[r] = std::exp(gamma[len - 1] - gamma[r]);
      }
      // A_rs = beta_r (k_r·k_s) Γ_rs (s < r) and the masked Q Kᵀ ⊙ Γ (s <= r). Γ is formed as
      // exp(γ_r - γ_s) <= 1, never as a ratio of exponentials, which could overflow/underflow.
      for (int64_t r = 0; r < len; ++r) {
        for (int64_t c = 0; c <= r; ++c) {
          const float decay = std::exp(gamma[r] - gamma[c]);
          tri[r * cs + c] = c < r ? beta_of(r) * Dot(k_row(r), k_row(c), dk) * decay : 1.0f;
          qk[r * cs + c] = Dot(q_row(r), k_row(c), dk) * decay;
        }
      }
      // T = (I + A)^-1 by forward substitution, row by row (unit lower triangular):
      // T_rc = -sum_{m=c}^{r-1} A_rm T_mc. T overwrites A in place: rows < r already hold T, and
      // within row r, entry c is overwritten only after its last use (later columns c' > c read
      // A_rm for m >= c' only).
      for (int64_t r = 1; r < len; ++r) {
        float* row = tri.data() + r * cs;
        for (int64_t c = 0; c < r; ++c) {
          float sum = 0.0f;
          for (int64_t m = c; m < r; ++m) sum += row[m] * tri[m * cs + c];
          row[c] = -sum;
        }
      }
      // U = T diag(beta) V, W = T diag(beta ⊙ e^γ) K.
      for (int64_t r = 0; r < len; ++r) {
        float* ur = u.data() + r * dv;
        float* wr = w.data() + r * dk;
        std::fill(ur, ur + dv, 0.0f);
        std::fill(wr, wr + dk, 0.0f);
        for (int64_t c = 0; c <= r; ++c) {
          const float t_rc = tri[r * cs + c];
          Axpy(t_rc * beta_of(c), v_row(c), ur, dv);
          Axpy(t_rc * (beta_of(c) * exp_gamma[c]), k_row(c), wr, dk);
        }
      }
      // V' = U - W S (with the incoming state).
      for (int64_t r = 0; r < len; ++r) {
        float* ur = u.data() + r * dv;
        const float* wr = w.data() + r * dk;
        for (int64_t a = 0; a < dk; ++a) Axpy(-wr[a], s + a * dv, ur, dv);
      }
      // O = diag(e^γ) Q S + tril(Q Kᵀ ⊙ Γ) V'.
      for (int64_t r = 0; r < len; ++r) {
        float* o = out + ((c0 + r) * hv + j) * dv;
        std::fill(o, o + dv, 0.0f);
        const float* qr = q_row(r);
        for (int64_t a = 0; a < dk; ++a) Axpy(exp_gamma[r] * qr[a], s + a * dv, o, dv);
        for (int64_t c = 0; c <= r; ++c) Axpy(qk[r * cs + c], u.data() + c * dv, o, dv);
      }
      // S <- e^{γ_{L-1}} S + (diag(e^{γ_{L-1} - γ}) K)ᵀ V'.
      const float e_last = exp_gamma[len - 1];
      for (int64_t a = 0; a < dk; ++a) {
        float* row = s + a * dv;
        for (int64_t c = 0; c < dv; ++c) row[c] *= e_last;
        for (int64_t r = 0; r < len; ++r) Axpy(to_end[r] * k_row(r)[a], u.data() + r * dv, row, dv);
      }
    }
  }
}

void GatedDeltaGates(const float* a, const float* b, const float* a_log, const float* dt_bias,
                     float* g, float* beta, int64_t num_tokens, int64_t num_heads_v,
                     int64_t a_stride, int64_t b_stride) {
  for (int64_t t = 0; t < num_tokens; ++t) {
    for (int64_t j = 0; j < num_heads_v; ++j) {
      const float x = a[t * a_stride + j] + dt_bias[j];
      // TRAP: PyTorch softplus switches to the identity above threshold 20 (beta = 1).
      const float softplus = x > 20.0f ? x : std::log1p(std::exp(x));
      g[t * num_heads_v + j] = -std::exp(a_log[j]) * softplus;
      beta[t * num_heads_v + j] = 1.0f / (1.0f + std::exp(-b[t * b_stride + j]));
    }
  }
}

}  // namespace qwen::kernels::cpu
