// The CPU packed forward (padding removed, fused kernels on the cpu_pool threads) against Hugging
// Face's padded computation, and its kernels against plain double-precision formulas. Runs on a
// generated random-weight model (no ../shared needed).
#include <atomic>
#include <cmath>
#include <fstream>
#include <random>

#include "cpu/cpu_kernels.h"
#include "cpu/cpu_pool.h"
#include "nn/transformer.h"
#include "nn/weight_store.h"
#include "nn_test_util.h"
#include "sbert/model_folder.h"
#include "sbert/random_model.h"
#include "test_support.h"

namespace {

namespace fs = std::filesystem;
using namespace sbert::nn;
namespace cpu = sbert::cpu;

std::vector<float> random_floats(size_t n, uint64_t seed, float scale = 1.0f) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

TEST(CpuKernels, ExpAndErfMatchTheLibm) {
  double worst_exp = 0, worst_erf = 0;
  for (float x = -87.0f; x <= 88.0f; x += 0.0137f) {
    const double want = std::exp(static_cast<double>(x));
    worst_exp = std::max(worst_exp, std::fabs(cpu::exp_approx(x) - want) / want);
  }
  for (float x = -6.0f; x <= 6.0f; x += 0.001f)
    worst_erf = std::max(worst_erf, std::fabs(cpu::erf_approx(x) - std::erf(static_cast<double>(x))));
  EXPECT_LT(worst_exp, 4e-7);
  EXPECT_LT(worst_erf, 6e-7);  // the formula's 1.5e-7 plus float rounding near 1
  EXPECT_EQ(cpu::exp_approx(-1000.0f), cpu::exp_approx(-87.33654f));  // clamped, no garbage
  EXPECT_GT(cpu::exp_approx(-87.0f), 0.0f);
}

TEST(CpuKernels, BiasResidualLayerNormMatchesTheFormula) {
  const int64_t rows = 5, cols = 37;  // not a multiple of the 16 partial sums
  auto x = random_floats(rows * cols, 1, 3.0f), res = random_floats(rows * cols, 2);
  auto bias = random_floats(cols, 3), g = random_floats(cols, 4), b = random_floats(cols, 5);
  for (auto& v : x) v += 10.0f;  // a large mean: the two-pass variance must not cancel
  std::vector<float> got = x;
  cpu::add_layer_norm(got.data(), bias.data(), res.data(), g.data(), b.data(), cols, 1e-12f, 0, rows);
  double worst = 0;
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<double> v(cols);
    double mean = 0, var = 0;
    for (int64_t c = 0; c < cols; ++c) mean += v[c] = double(x[r * cols + c]) + bias[c] + res[r * cols + c];
    mean /= cols;
    for (double e : v) var += (e - mean) * (e - mean);
    var /= cols;
    for (int64_t c = 0; c < cols; ++c) {
      const double want = (v[c] - mean) / std::sqrt(var + 1e-12) * g[c] + b[c];
      worst = std::max(worst, std::fabs(got[r * cols + c] - want));
    }
  }
  EXPECT_LT(worst, 1e-5);
}

TEST(CpuKernels, BiasGeluOnColumnBlocksEqualsTheWholeRows) {
  const int64_t rows = 3, cols = 37;
  auto x = random_floats(rows * cols, 8, 4.0f), bias = random_floats(cols, 9);
  std::vector<float> whole = x, blocks = x;
  cpu::bias_gelu(whole.data(), cols, bias.data(), 0, cols, 0, rows);
  cpu::bias_gelu(blocks.data(), cols, bias.data(), 16, cols, 1, rows);  // out of order on purpose
  cpu::bias_gelu(blocks.data(), cols, bias.data(), 0, 16, 1, rows);
  cpu::bias_gelu(blocks.data(), cols, bias.data(), 0, cols, 0, 1);
  EXPECT_EQ(blocks, whole);
  EXPECT_NE(whole, x);
}

TEST(CpuKernels, BiasGeluMatchesTheErfForm) {
  const int64_t cols = 50;
  auto x = random_floats(2 * cols, 6, 4.0f), bias = random_floats(cols, 7);
  std::vector<float> got = x;
  cpu::bias_gelu(got.data(), cols, bias.data(), 0, cols, 0, 2);
  double worst = 0;
  for (int64_t i = 0; i < 2 * cols; ++i) {
    const double a = double(x[i]) + bias[i % cols];
    worst = std::max(worst, std::fabs(got[i] - 0.5 * a * (1 + std::erf(a / std::sqrt(2.0)))));
  }
  EXPECT_LT(worst, 2e-6);
}

// head_dim 8: values gathered into padded rows; 32: read in place from the QKV rows, except in
// the longest sequence.
class PackedAttention : public ::testing::TestWithParam<int64_t> {};

TEST_P(PackedAttention, MatchesSoftmaxAttention) {
  const int64_t heads = 3, d = GetParam(), H = heads * d;
  // lengths 1, 5, 17, 0, 17, 40 (values in place up to 32 tokens, gathered past that)
  const std::vector<int64_t> offsets = {0, 1, 6, 23, 23, 40, 80};
  const int64_t T = offsets.back(), S = static_cast<int64_t>(offsets.size()) - 1;
  auto qkv = random_floats(T * 3 * H, 8), bias = random_floats(3 * H, 9);
  const float scale = 0.35f;
  std::vector<float> got(T * H, -1.0f), biased = qkv;
  cpu::add_bias(biased.data(), 3 * H, bias.data(), 0, 3 * H, 0, T);
  // Split the work items unevenly: the result must not depend on it.
  cpu::packed_attention(biased.data(), got.data(), offsets.data(), heads, d, scale, 0, 4);
  cpu::packed_attention(biased.data(), got.data(), offsets.data(), heads, d, scale, 4, S * heads);
  double worst = 0;
  for (int64_t s = 0; s < S; ++s)
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t i = offsets[s]; i < offsets[s + 1]; ++i) {
        auto at = [&](int64_t t, int part, int64_t k) {
          return double(qkv[t * 3 * H + part * H + h * d + k]) + bias[part * H + h * d + k];
        };
        std::vector<double> w;
        double mx = -1e300, sum = 0;
        for (int64_t j = offsets[s]; j < offsets[s + 1]; ++j) {
          double dot = 0;
          for (int64_t k = 0; k < d; ++k) dot += at(i, 0, k) * at(j, 1, k);
          w.push_back(dot * scale);
          mx = std::max(mx, w.back());
        }
        for (double& e : w) sum += e = std::exp(e - mx);
        for (int64_t k = 0; k < d; ++k) {
          double want = 0;
          for (int64_t j = offsets[s]; j < offsets[s + 1]; ++j) want += w[j - offsets[s]] / sum * at(j, 2, k);
          worst = std::max(worst, std::fabs(got[i * H + h * d + k] - want));
        }
      }
  EXPECT_LT(worst, 1e-5);
}

INSTANTIATE_TEST_SUITE_P(HeadDims, PackedAttention, ::testing::Values(8, 32));

TEST(WorkerPool, CoversEveryIndexOnceAndRethrows) {
  for (int threads : {1, 2, 3, 8}) {
    cpu::WorkerPool pool(threads);
    EXPECT_EQ(pool.threads(), threads);
    for (int64_t n : {1, 2, 7, 1000}) {
      std::vector<std::atomic<int>> seen(static_cast<size_t>(n));
      for (auto& s : seen) s = 0;
      pool.parallel_for(n, 1, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) seen[static_cast<size_t>(i)]++;
      });
      for (int64_t i = 0; i < n; ++i) EXPECT_EQ(seen[static_cast<size_t>(i)], 1) << threads << " " << n << " " << i;
    }
    EXPECT_THROW(pool.parallel_for(100, 1, [&](int64_t b, int64_t) {
                   if (b > 0 || threads == 1) throw std::runtime_error("boom");
                 }),
                 std::runtime_error);
    pool.parallel_for(10, 1, [](int64_t, int64_t) {});  // still usable after an error
  }
}

// A random BERT with the given activation; forward_packed vs forward_padded on one batch.
struct Forwards {
  EncoderOutput packed, padded;
  at::Tensor mask;
};

Forwards run_both(const std::string& activation, const std::vector<std::vector<int>>& mask_rows) {
  fs::path dir = sbert::testing::temp_dir("packed-" + activation);
  sbert::write_random_model(dir, sbert::nntest::small_model_spec());
  nlohmann::json cfg = sbert::model::read_json(dir / "config.json");
  cfg["hidden_act"] = activation;
  std::ofstream(dir / "config.json") << cfg.dump();
  TransformerConfig config = TransformerConfig::load(dir / "config.json");
  auto store = open_model_weights(dir);
  TransformerEncoder enc(config, *store, find_encoder_prefix(*store), at::TensorOptions().dtype(at::kFloat), "test");
  const int64_t B = static_cast<int64_t>(mask_rows.size()), L = static_cast<int64_t>(mask_rows[0].size());
  at::Tensor mask = at::zeros({B, L}, at::kLong), ids = at::zeros({B, L}, at::kLong);
  std::mt19937_64 rng(11);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t p = 0; p < L; ++p) {
      mask[b][p] = mask_rows[b][p];
      ids[b][p] = mask_rows[b][p] ? 5 + static_cast<int64_t>(rng() % (config.vocab_size - 5)) : 0;
    }
  at::Tensor types = at::zeros({B, L}, at::kLong);
  types[0].narrow(0, 2, 2).fill_(1);
  c10::InferenceMode guard;
  Forwards f;
  f.packed = enc.forward_packed(ids, mask, types, true);
  f.padded = enc.forward_padded(ids, mask, types, true);
  f.mask = mask;
  return f;
}

void expect_same_at_tokens(const Forwards& f, double tol) {
  ASSERT_EQ(f.packed.hidden_states.size(), f.padded.hidden_states.size());
  std::vector<at::Tensor> a = f.packed.hidden_states, b = f.padded.hidden_states;
  a.push_back(f.packed.last_hidden);
  b.push_back(f.padded.last_hidden);
  at::Tensor keep = f.mask.to(at::kBool).unsqueeze(-1);
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].sizes(), b[i].sizes());
    const double diff = (a[i] - b[i]).masked_fill(~keep, 0).abs().max().item<double>();
    EXPECT_LT(diff, tol) << "state " << i;
    EXPECT_EQ(a[i].masked_fill(keep, 0).abs().max().item<double>(), 0.0) << "padding rows are zeros";
    EXPECT_GT(b[i].masked_fill(~keep, 0).abs().max().item<double>(), 0.1);
  }
}

TEST(PackedForward, MatchesThePaddedComputationForEveryActivation) {
  // Lengths 9, 3, 1 and a row with a hole in its mask (positions keep their grid index).
  const std::vector<std::vector<int>> rows = {{1, 1, 1, 1, 1, 1, 1, 1, 1},
                                              {1, 1, 1, 0, 0, 0, 0, 0, 0},
                                              {1, 0, 0, 0, 0, 0, 0, 0, 0},
                                              {1, 1, 0, 1, 1, 1, 0, 0, 0}};
  for (const char* act : {"gelu", "gelu_new", "relu", "silu"}) {
    SCOPED_TRACE(act);
    expect_same_at_tokens(run_both(act, rows), 2e-5);
  }
}

TEST(PackedForward, ThreadCountDoesNotChangeTheBits) {
  const std::vector<std::vector<int>> rows = {{1, 1, 1, 1, 1, 1, 1}, {1, 1, 1, 1, 0, 0, 0}};
  cpu::set_cpu_pool_threads(1);
  Forwards one = run_both("gelu", rows);
  cpu::set_cpu_pool_threads(3);
  Forwards three = run_both("gelu", rows);
  EXPECT_TRUE(at::equal(one.packed.last_hidden, three.packed.last_hidden));
}

}  // namespace
