// packed_attention's additive bias (AttentionLayout::bias, MPNet's relative position bias)
// against a naive double-precision softmax(scale * q·k + bias) · v, alone and with a window; and a
// zero bias gives the bits of no bias.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "cpu/cpu_kernels.h"

namespace {

using sbert::cpu::AttentionLayout;

struct Case {
  int64_t heads, d, left, right;
};

TEST(AttentionBias, MatchesNaiveSoftmaxWithBias) {
  const std::vector<int64_t> lengths = {1, 5, 17, 40};
  std::vector<int64_t> offsets = {0};
  for (int64_t n : lengths) offsets.push_back(offsets.back() + n);
  const int64_t T = offsets.back(), S = 40;  // the bias rows: the longest sequence
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (const Case c : {Case{2, 12, -1, -1}, Case{3, 16, -1, -1}, Case{2, 16, 3, 3}}) {
    SCOPED_TRACE(c.d);
    const int64_t H = c.heads * c.d, W = 3 * H;
    std::vector<float> qkv(static_cast<size_t>(T * W)), bias(static_cast<size_t>(c.heads * S * S));
    for (float& v : qkv) v = nd(rng);
    for (float& v : bias) v = 2.0f * nd(rng);
    AttentionLayout L{c.heads, c.heads, c.d, 1.0f / std::sqrt(float(c.d)), c.left, c.right};
    L.bias = bias.data();
    L.bias_stride = S;
    std::vector<float> ctx(static_cast<size_t>(T * H));
    sbert::cpu::packed_attention(qkv.data(), ctx.data(), offsets.data(), L, 0, int64_t(lengths.size()) * c.heads);
    double worst = 0;
    for (size_t s = 0; s < lengths.size(); ++s)
      for (int64_t h = 0; h < c.heads; ++h)
        for (int64_t i = 0; i < lengths[s]; ++i) {
          const int64_t n = lengths[s], t0 = offsets[s];
          std::vector<double> p(static_cast<size_t>(n), 0.0);
          double mx = -INFINITY, sum = 0;
          for (int64_t j = 0; j < n; ++j) {
            if ((c.left >= 0 && j < i - c.left) || (c.right >= 0 && j > i + c.right)) {
              p[j] = -INFINITY;
              continue;
            }
            double dot = 0;
            for (int64_t k = 0; k < c.d; ++k)
              dot += double(qkv[(t0 + i) * W + h * c.d + k]) * qkv[(t0 + j) * W + H + h * c.d + k];
            p[j] = dot * L.scale + bias[(h * S + i) * S + j];
            mx = std::max(mx, p[j]);
          }
          for (double& v : p) sum += v = std::exp(v - mx);
          for (int64_t k = 0; k < c.d; ++k) {
            double want = 0;
            for (int64_t j = 0; j < n; ++j) want += p[j] / sum * qkv[(t0 + j) * W + 2 * H + h * c.d + k];
            worst = std::max(worst, std::fabs(want - ctx[(t0 + i) * H + h * c.d + k]));
          }
        }
    EXPECT_LT(worst, 1e-5);
    // A zero bias adds +0 to every score: the bits of the kernel without one.
    std::vector<float> zeros(bias.size(), 0.0f), a(ctx.size()), b(ctx.size());
    L.bias = zeros.data();
    sbert::cpu::packed_attention(qkv.data(), a.data(), offsets.data(), L, 0, int64_t(lengths.size()) * c.heads);
    L.bias = nullptr;
    sbert::cpu::packed_attention(qkv.data(), b.data(), offsets.data(), L, 0, int64_t(lengths.size()) * c.heads);
    EXPECT_EQ(a, b);
    EXPECT_NE(a, ctx);  // and the random bias did change the result
  }
}

}  // namespace
