// --quantize int8: sbert::cpu::QuantizedLinear against the float32 product, and a quantized encoder against
// the float32 one on a generated random-weight model (no ../shared needed).
#include <cmath>
#include <random>

#include "cpu/cpu_kernels.h"
#include "nn/embedding_model.h"
#include "cpu/quantized_linear.h"
#include "nn_test_util.h"
#include "sbert/error.h"
#include "sbert/random_model.h"
#include "test_support.h"

namespace {

namespace fs = std::filesystem;

TEST(QuantizedLinear, CloseToTheFloatProduct) {
  if (sbert::cpu::QuantizedLinear::engine().empty()) GTEST_SKIP() << "this libtorch has no int8 engine for this CPU";
  c10::InferenceMode guard;
  at::manual_seed(3);
  at::Tensor w = at::randn({96, 40}) * 0.1, x = at::randn({70, 40});
  w[5].mul_(20.0);  // one output channel much larger: per-channel scales keep the others precise
  const auto q = sbert::nn::quantize_linear(w);
  at::Tensor want = at::mm(x, w.t()), got = sbert::nn::linear_int8(*q, x);
  ASSERT_EQ(got.sizes(), want.sizes());
  at::Tensor rel = (got - want).abs().amax(0) / want.abs().amax(0);  // per output channel
  EXPECT_LT(rel.max().item<double>(), 0.03);
  EXPECT_GT((got - want).abs().max().item<double>(), 0.0);
}

TEST(QuantizedLinear, ExtremeCodesDoNotSaturate) {
  // Every activation at its row's extreme and every weight at its channel's: the sums of adjacent
  // products are as large as they get, and a kernel that paired them in 16 bits would clip them.
  // These inputs quantize exactly, so the int8 product must equal the float one.
  c10::InferenceMode guard;
  const int64_t K = 256, N = 24;
  at::Tensor x = at::empty({3, K});
  x[0].fill_(3.0);
  x[1].fill_(-2.0);  // all below zero: codes 0, zero point at the top
  x[2].zero_();
  at::Tensor w = at::full({N, K}, 0.5);
  w.slice(0, 0, N / 2).mul_(-1.0);
  const auto q = sbert::nn::quantize_linear(w);
  at::Tensor want = at::mm(x, w.t()), got = sbert::nn::linear_int8(*q, x);
  EXPECT_LT((got - want).abs().max().item<double>(), 1e-5 * want.abs().max().item<double>())
      << "activation codes up to " << sbert::cpu::QuantizedLinear::activation_max() << ", engine "
      << sbert::cpu::QuantizedLinear::engine();
  EXPECT_TRUE(at::equal(got[2], at::zeros({N})));
}

TEST(QuantizedLinear, ARowsResultDependsOnThatRowOnly) {
  // Activations are quantized per row and rows go in fixed blocks: a row gives the same bits alone
  // as in a batch, whatever the other rows hold (one of them 100x larger here).
  c10::InferenceMode guard;
  at::manual_seed(4);
  at::Tensor w = at::randn({48, 40}) * 0.1, x = at::randn({150, 40});
  x[7].mul_(100.0);
  const auto q = sbert::nn::quantize_linear(w);
  at::Tensor all = sbert::nn::linear_int8(*q, x);
  for (int64_t i : {0, 6, 63, 64, 149}) {
    at::Tensor one = sbert::nn::linear_int8(*q, x.slice(0, i, i + 1));
    EXPECT_TRUE(at::equal(one[0], all[i])) << "row " << i;
  }
}

TEST(QuantizedLinear, OwnKernelGivesOneDnnsBits) {
  // sbert's kernel (AVX-512 VNNI with 8-bit activations, AVX2 with 7-bit ones) and oneDNN's matmul
  // take the same activation width and the same codes, so they must give the same exact int32
  // sums, hence the same floats, bit for bit. K = 389 is not a multiple of 4 (padded codes) and
  // N = 37 not one of 16 (a partial panel).
  if (sbert::cpu::QuantizedLinear::engine().empty()) GTEST_SKIP() << "no int8 engine for this CPU";
  if (sbert::cpu::QuantizedLinear::engine().rfind("oneDNN", 0) == 0)
    GTEST_SKIP() << "no sbert int8 kernel for this CPU's activation width (" << sbert::cpu::QuantizedLinear::engine()
                 << ")";
  c10::InferenceMode guard;
  at::manual_seed(5);
  for (int64_t K : {384, 389}) {
    at::Tensor w = at::randn({37, K}) * 0.1, x = at::randn({131, K});
    const auto own = sbert::nn::quantize_linear(w);
    sbert::cpu::QuantizedLinear::use_own_kernel(false);
    const auto onednn = sbert::nn::quantize_linear(w);
    sbert::cpu::QuantizedLinear::use_own_kernel(true);
    EXPECT_TRUE(at::equal(sbert::nn::linear_int8(*own, x), sbert::nn::linear_int8(*onednn, x))) << "K " << K << ", engine "
                                                              << sbert::cpu::QuantizedLinear::engine();
  }
}

TEST(QuantizeRows, CodesRoundTripWithinHalfAStepAndKeepZeroExact) {
  const int64_t cols = 37;
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> u(-3.0f, 5.0f);
  std::vector<float> x(3 * cols);
  for (auto& v : x) v = u(rng);
  for (int64_t c = 0; c < cols; ++c) x[cols + c] = std::abs(x[cols + c]);  // row 1 non-negative
  x[5] = 0.0f;
  for (int qmax : {127, 255}) {
    std::vector<uint8_t> q(x.size());
    float scale[3];
    int32_t zero[3];
    sbert::cpu::quantize_rows_u8(x.data(), 3, cols, qmax, q.data(), scale, zero);
    EXPECT_EQ(zero[1], 0);
    for (int64_t r = 0; r < 3; ++r)
      for (int64_t c = 0; c < cols; ++c) {
        const float back = scale[r] * static_cast<float>(static_cast<int32_t>(q[r * cols + c]) - zero[r]);
        EXPECT_LE(std::abs(back - x[r * cols + c]), 0.5f * scale[r] * 1.0001f) << r << "," << c;
        EXPECT_LE(q[r * cols + c], qmax);
      }
    EXPECT_EQ(static_cast<int32_t>(q[5]), zero[0]);  // 0.0 maps to the zero point exactly
  }
}

// The weight quantizer against the same steps on libtorch tensors (the formula it replaced):
// per output channel s = max(max|w| / 127, 1e-12), codes = clamp(round-half-even(w / s), ±127).
TEST(QuantizeWeightRows, SameCodesScalesAndSumsAsTheTensorFormula) {
  c10::InferenceMode guard;
  at::manual_seed(11);
  const int64_t rows = 9, cols = 45;  // 45: a tail past the 8-lane max
  at::Tensor w = at::randn({rows, cols}) * 0.2;
  w[1].zero_();                   // all zero: the 1e-12 floor
  w[2][44] = -7.0;                // the largest magnitude in the tail, negative
  w[3].mul_(1e4);                 // a large channel
  // Exact ties: max 127 gives s = 1, so w / s = k + 0.5 rounds to the even neighbour.
  for (int64_t c = 0; c < cols; ++c) w[4][c] = static_cast<double>(c % 7) - 3.5;
  w[4][0] = 127.0;
  std::vector<int8_t> codes(static_cast<size_t>(rows * cols));
  std::vector<float> scale(rows);
  std::vector<int32_t> sum(rows);
  // In two calls over uneven row ranges: a row's result depends on that row only.
  sbert::cpu::quantize_weight_rows_s8(w.data_ptr<float>(), cols, 0, 3, codes.data(), scale.data(), sum.data());
  sbert::cpu::quantize_weight_rows_s8(w.data_ptr<float>(), cols, 3, rows, codes.data(), scale.data(), sum.data());

  const at::Tensor want_scale = (std::get<0>(w.abs().max(1)) / 127.0).clamp_min(1e-12);
  const at::Tensor want_codes = (w / want_scale.unsqueeze(1)).round().clamp(-127, 127).to(at::kChar).contiguous();
  const at::Tensor want_sum = want_codes.to(at::kInt).sum(1, false, at::kInt);
  for (int64_t r = 0; r < rows; ++r) {
    EXPECT_EQ(scale[r], want_scale[r].item<float>()) << "row " << r;
    EXPECT_EQ(sum[r], want_sum[r].item<int32_t>()) << "row " << r;
    for (int64_t c = 0; c < cols; ++c)
      ASSERT_EQ(codes[r * cols + c], want_codes[r][c].item<int8_t>()) << "row " << r << ", column " << c;
  }
  EXPECT_EQ(codes[4 * cols + 1], -2);  // -2.5 -> -2 (half to even)
  EXPECT_EQ(codes[4 * cols + 2], -2);  // -1.5 -> -2
}

fs::path random_model() {
  fs::path dir = sbert::testing::temp_dir("int8-model");
  sbert::write_random_model(dir, sbert::nntest::small_model_spec(64, 0.1));
  return dir;
}

std::vector<sbert::Encoding> inputs(size_t n, size_t vocab) {
  std::mt19937_64 rng(5);
  std::vector<sbert::Encoding> out(n);
  for (auto& e : out) {
    e.ids.push_back(2);
    for (size_t k = 0, len = 2 + rng() % 40; k < len; ++k) e.ids.push_back(5 + static_cast<int64_t>(rng() % (vocab - 5)));
    e.ids.push_back(3);
    e.type_ids.assign(e.ids.size(), 0);
  }
  return out;
}

TEST(QuantizedEncoder, VectorsWithinCosine099OfFloat32AndIndependentOfThreads) {
  if (sbert::cpu::QuantizedLinear::engine().empty()) GTEST_SKIP() << "this libtorch has no int8 engine for this CPU";
  const fs::path dir = random_model();
  sbert::EncoderOptions f32;
  f32.threads = 2;
  auto ref = sbert::nntest::load_model(dir, f32);
  auto in = inputs(40, ref->info().vocab_size);
  std::vector<const sbert::Encoding*> p;
  for (auto& e : in) p.push_back(&e);
  sbert::Matrix want = ref->embed(p);
  sbert::EncoderOptions o = f32;
  o.quantize = "int8";
  sbert::Matrix got = sbert::nntest::load_model(dir, o)->embed(p);
  double lo = 1;
  for (size_t i = 0; i < got.rows; ++i) {
    double dot = 0, a = 0, b = 0;
    for (size_t j = 0; j < got.cols; ++j) {
      dot += double(got.at(i, j)) * want.at(i, j);
      a += double(got.at(i, j)) * got.at(i, j);
      b += double(want.at(i, j)) * want.at(i, j);
    }
    lo = std::min(lo, dot / std::sqrt(a * b));
  }
  std::printf("[int8] lowest cosine to float32: %.6f\n", lo);
  EXPECT_GE(lo, 0.99);
  EXPECT_LT(lo, 1.0 - 1e-9) << "int8 should differ from float32";
  o.threads = 1;
  sbert::Matrix one = sbert::nntest::load_model(dir, o)->embed(p);
  EXPECT_EQ(one.data, got.data) << "int8 results must not depend on the thread count";
}

TEST(QuantizedEncoder, RefusedOffTheFloat32Cpu) {
  sbert::EncoderOptions o;
  o.quantize = "int8";
  o.dtype = "bfloat16";
  EXPECT_THROW(sbert::nntest::load_model(random_model(), o), sbert::Error);
  o.dtype = "float32";
  o.quantize = "int4";
  EXPECT_THROW(sbert::nntest::load_model(random_model(), o), sbert::Error);
}

}  // namespace
