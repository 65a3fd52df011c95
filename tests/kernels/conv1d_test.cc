// CausalConv1dSilu (kernels/conv1d.h, MODEL.md 2.7.2 step 2 / 2.7.6) against a direct zero-padded
// convolution, and one call over a sequence against the same sequence split with the state carried.
#include "kernels/conv1d.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "tests/kernels/test_util.h"

namespace qwen::kernels::cpu {
namespace {

using ::qwen::kernels::testing::Normal;

// out[t][c] = silu(sum_j w[c][j] * u[t - (Kc-1) + j][c]) with u[<0] taken from the initial state
// (oldest first), in double.
std::vector<double> Reference(const std::vector<float>& u, const std::vector<float>& w,
                              const std::vector<float>& state0, int64_t tokens, int64_t channels,
                              int64_t kernel) {
  std::vector<double> out(static_cast<size_t>(tokens * channels));
  for (int64_t t = 0; t < tokens; ++t) {
    for (int64_t c = 0; c < channels; ++c) {
      double acc = 0.0;
      for (int64_t j = 0; j < kernel; ++j) {
        const int64_t src = t - (kernel - 1) + j;  // < 0: state row (kernel - 1) + src
        const double x =
            src >= 0 ? u[src * channels + c] : state0[(kernel - 1 + src) * channels + c];
        acc += w[c * kernel + j] * x;
      }
      out[t * channels + c] = acc / (1.0 + std::exp(-acc));
    }
  }
  return out;
}

TEST(CausalConv1dTest, MatchesDirectConvolution) {
  const int64_t channels = 37;
  for (const int64_t kernel : {1, 2, 4}) {
    for (const int64_t tokens : {1, 2, 3, 9}) {
      for (const bool zero_state : {true, false}) {
        const std::vector<float> u = Normal(tokens * channels, 1, 2.0f);
        const std::vector<float> w = Normal(channels * kernel, 2, 0.7f);
        std::vector<float> state0((kernel - 1) * channels, 0.0f);
        if (!zero_state) state0 = Normal((kernel - 1) * channels, 3, 2.0f);
        std::vector<float> state = state0;
        std::vector<float> out(tokens * channels, NAN);
        CausalConv1dSilu(
            u.data(), w.data(), state.data(), out.data(),
            {.num_tokens = tokens, .channels = channels, .kernel = kernel, .u_stride = channels});
        const std::vector<double> want = Reference(u, w, state0, tokens, channels, kernel);
        // Kc <= 4 products of values |x| < ~8 and one silu: a few fp32 roundings of O(10).
        for (size_t i = 0; i < want.size(); ++i) {
          ASSERT_NEAR(out[i], want[i], 1e-5 * (1.0 + std::abs(want[i])))
              << "Kc=" << kernel << " T=" << tokens << " element " << i;
        }
        // The new state is the last Kc-1 inputs of [state0 ; u], oldest first.
        for (int64_t s = 0; s < kernel - 1; ++s) {
          const int64_t src = tokens - (kernel - 1) + s;
          for (int64_t c = 0; c < channels; ++c) {
            const float expect =
                src >= 0 ? u[src * channels + c] : state0[(kernel - 1 + src) * channels + c];
            ASSERT_EQ(state[s * channels + c], expect) << "Kc=" << kernel << " T=" << tokens;
          }
        }
      }
    }
  }
}

TEST(CausalConv1dTest, HandComputedExample) {
  // One channel, Kc = 3, w = [1, 2, 3] (3 multiplies the current token), state = [10, 20],
  // u = [1]: conv = 1*10 + 2*20 + 3*1 = 53, silu(53) = 53 / (1 + e^-53) = 53 in fp32.
  // Then u = [-1]: window [20, 1, -1] -> 20 + 2 - 3 = 19.
  const float w[3] = {1, 2, 3};
  float state[2] = {10, 20};
  float u = 1, out = 0;
  const CausalConv1dParams p{.num_tokens = 1, .channels = 1, .kernel = 3, .u_stride = 1};
  CausalConv1dSilu(&u, w, state, &out, p);
  EXPECT_EQ(out, 53.0f);
  EXPECT_EQ(state[0], 20.0f);
  EXPECT_EQ(state[1], 1.0f);
  u = -1;
  CausalConv1dSilu(&u, w, state, &out, p);
  EXPECT_NEAR(out, 19.0 / (1.0 + std::exp(-19.0)), 2e-6);
  EXPECT_EQ(state[0], 1.0f);
  EXPECT_EQ(state[1], -1.0f);
}

// The conv of each token reads exactly the same Kc fp32 values in the same order whether they
// come from u or from the carried state, so splitting must give bit-identical outputs and state.
TEST(CausalConv1dTest, SplitCallsMatchOneCall) {
  const int64_t channels = 19, kernel = 4, tokens = 23, u_stride = 24;  // strided input rows
  const std::vector<float> u = Normal(tokens * u_stride, 4, 2.0f);
  const std::vector<float> w = Normal(channels * kernel, 5, 0.7f);
  const std::vector<float> state0 = Normal((kernel - 1) * channels, 6, 2.0f);

  std::vector<float> state_full = state0;
  std::vector<float> out_full(tokens * channels);
  CausalConv1dSilu(
      u.data(), w.data(), state_full.data(), out_full.data(),
      {.num_tokens = tokens, .channels = channels, .kernel = kernel, .u_stride = u_stride});

  // Pieces shorter than Kc-1 (the state partly shifts), single-token decode steps, and longer.
  const std::vector<std::vector<int64_t>> splits = {
      {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
      {2, 1, 5, 1, 1, 2, 11},
      {10, 1, 1, 1, 10},
      {3, 3, 3, 3, 3, 3, 3, 2}};
  for (const std::vector<int64_t>& pieces : splits) {
    std::vector<float> state = state0;
    std::vector<float> out(tokens * channels, NAN);
    int64_t t0 = 0;
    for (const int64_t n : pieces) {
      CausalConv1dSilu(
          u.data() + t0 * u_stride, w.data(), state.data(), out.data() + t0 * channels,
          {.num_tokens = n, .channels = channels, .kernel = kernel, .u_stride = u_stride});
      t0 += n;
    }
    ASSERT_EQ(t0, tokens);
    EXPECT_EQ(out, out_full);
    EXPECT_EQ(state, state_full);
  }
}

}  // namespace
}  // namespace qwen::kernels::cpu
