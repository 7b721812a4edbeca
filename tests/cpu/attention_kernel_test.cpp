// packed_attention with grouped key/value heads and windows, rms_norm, rotate_half and
// gated_activation against plain double-precision loops written from their definitions.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "cpu/cpu_kernels.h"

namespace {

using sbert::cpu::AttentionLayout;

// softmax(scale q·k) v over the allowed keys, in double.
std::vector<double> naive_attention(const std::vector<float>& qkv, const std::vector<int64_t>& off,
                                    const AttentionLayout& L) {
  const int64_t d = L.head_dim, H = L.heads * d, KV = L.kv_heads * d, W = H + 2 * KV;
  const int64_t T = off.back();
  std::vector<double> ctx(static_cast<size_t>(T * H));
  for (size_t s = 0; s + 1 < off.size(); ++s)
    for (int64_t h = 0; h < L.heads; ++h) {
      const int64_t kvh = h / (L.heads / L.kv_heads);
      for (int64_t i = off[s]; i < off[s + 1]; ++i) {
        std::vector<double> w;
        double mx = -1e300;
        for (int64_t j = off[s]; j < off[s + 1]; ++j) {
          const int64_t qi = i - off[s], kj = j - off[s];
          const bool ok = (L.window_left < 0 || kj >= qi - L.window_left) && (L.window_right < 0 || kj <= qi + L.window_right);
          double dot = 0;
          for (int64_t t = 0; t < d; ++t) dot += double(qkv[i * W + h * d + t]) * qkv[j * W + H + kvh * d + t];
          w.push_back(ok ? dot * L.scale : -INFINITY);
          if (ok) mx = std::max(mx, w.back());
        }
        double sum = 0;
        for (double& v : w) sum += (v = std::exp(v - mx));
        for (int64_t t = 0; t < d; ++t) {
          double acc = 0;
          for (int64_t j = off[s]; j < off[s + 1]; ++j)
            acc += w[j - off[s]] / sum * qkv[j * W + H + KV + kvh * d + t];
          ctx[i * H + h * d + t] = acc;
        }
      }
    }
  return ctx;
}

TEST(AttentionKernel, GroupedHeadsAndWindowsMatchTheDefinition) {
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  struct Case {
    int64_t heads, kv, d, left, right;
  } cases[] = {{4, 2, 16, -1, 0}, {4, 1, 8, 3, 3}, {6, 3, 24, 5, 0}, {2, 2, 32, -1, -1}, {3, 1, 12, 0, 0}};
  const std::vector<int64_t> off = {0, 1, 7, 40, 340};  // one token, short, in place, gathered
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::Message() << c.heads << "/" << c.kv << " d" << c.d << " window " << c.left << "," << c.right);
    const AttentionLayout L{c.heads, c.kv, c.d, 1.0f / std::sqrt(float(c.d)), c.left, c.right};
    const int64_t W = (c.heads + 2 * c.kv) * c.d, T = off.back();
    std::vector<float> qkv(static_cast<size_t>(T * W)), ctx(static_cast<size_t>(T * c.heads * c.d), -7.0f);
    for (float& v : qkv) v = nd(rng);
    sbert::cpu::packed_attention(qkv.data(), ctx.data(), off.data(), L, 0, (int64_t(off.size()) - 1) * c.heads);
    const auto want = naive_attention(qkv, off, L);
    double worst = 0;
    for (size_t i = 0; i < ctx.size(); ++i) worst = std::max(worst, std::fabs(ctx[i] - want[i]));
    EXPECT_LT(worst, 2e-5);
  }
}

TEST(AttentionKernel, RmsNormRotationAndGating) {
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const int64_t rows = 5, cols = 40;
  std::vector<float> x(rows * cols), gain(cols), res(rows * cols), out(rows * cols);
  for (float& v : x) v = nd(rng);
  for (float& v : gain) v = 1.0f + 0.1f * nd(rng);
  for (float& v : res) v = nd(rng);
  sbert::cpu::rms_norm(x.data(), out.data(), cols, gain.data(), res.data(), cols, 1e-6f, 0, rows);
  for (int64_t r = 0; r < rows; ++r) {
    double ms = 0;
    for (int64_t c = 0; c < cols; ++c) ms += double(x[r * cols + c]) * x[r * cols + c];
    const double inv = 1.0 / std::sqrt(ms / cols + 1e-6);
    for (int64_t c = 0; c < cols; ++c)
      EXPECT_NEAR(out[r * cols + c], x[r * cols + c] * inv * gain[c] + res[r * cols + c], 1e-5);
  }
  // rotate_half by the angles of position 3, base 10000, d = 8.
  std::vector<float> cs, sn;
  sbert::cpu::rotary_table(10000.0, 8, 4, cs, sn);
  std::vector<float> v = {1, 2, 3, 4, 5, 6, 7, 8}, r = v;
  sbert::cpu::rotate_half(r.data(), 8, cs.data() + 3 * 4, sn.data() + 3 * 4);
  for (int i = 0; i < 4; ++i) {
    const double a = 3.0 * std::pow(10000.0, -2.0 * i / 8.0);
    EXPECT_NEAR(r[i], v[i] * std::cos(a) - v[i + 4] * std::sin(a), 1e-5);
    EXPECT_NEAR(r[i + 4], v[i + 4] * std::cos(a) + v[i] * std::sin(a), 1e-5);
  }
  // silu(gate) * up
  const std::vector<float> gu = {-2.0f, 0.5f, 3.0f, 4.0f, 1.0f, -1.0f};
  std::vector<float> o(3);
  sbert::cpu::gated_activation(gu.data(), 3, sbert::cpu::Activation::Silu, o.data(), 0, 1);
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(o[i], gu[i] / (1.0 + std::exp(-gu[i])) * gu[3 + i], 1e-6);
}

}  // namespace
