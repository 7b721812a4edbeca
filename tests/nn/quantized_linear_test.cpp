// --quantize int8: QuantizedLinear against the float32 product, and a quantized encoder against
// the float32 one on a generated random-weight model (no ../shared needed).
#include <cmath>
#include <random>

#include "nn/embedding_model.h"
#include "nn/quantized_linear.h"
#include "nn_test_util.h"
#include "sbert/error.h"
#include "sbert/random_model.h"
#include "test_support.h"

namespace {

namespace fs = std::filesystem;

TEST(QuantizedLinear, CloseToTheFloatProduct) {
  if (sbert::nn::QuantizedLinear::engine().empty()) GTEST_SKIP() << "this libtorch has no int8 engine for this CPU";
  c10::InferenceMode guard;
  at::manual_seed(3);
  at::Tensor w = at::randn({96, 40}) * 0.1, x = at::randn({70, 40});
  w[5].mul_(20.0);  // one output channel much larger: per-channel scales keep the others precise
  sbert::nn::QuantizedLinear q(w);
  at::Tensor want = at::mm(x, w.t()), got = q.forward(x);
  ASSERT_EQ(got.sizes(), want.sizes());
  at::Tensor rel = (got - want).abs().amax(0) / want.abs().amax(0);  // per output channel
  EXPECT_LT(rel.max().item<double>(), 0.03);
  EXPECT_GT((got - want).abs().max().item<double>(), 0.0);
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
  if (sbert::nn::QuantizedLinear::engine().empty()) GTEST_SKIP() << "this libtorch has no int8 engine for this CPU";
  const fs::path dir = random_model();
  sbert::EncoderOptions f32;
  f32.threads = 2;
  auto ref = sbert::nn::EmbeddingModel::load(dir, f32);
  auto in = inputs(40, ref->encoder().config().vocab_size);
  std::vector<const sbert::Encoding*> p;
  for (auto& e : in) p.push_back(&e);
  sbert::Matrix want = ref->embed(p);
  sbert::EncoderOptions o = f32;
  o.quantize = "int8";
  sbert::Matrix got = sbert::nn::EmbeddingModel::load(dir, o)->embed(p);
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
  sbert::Matrix one = sbert::nn::EmbeddingModel::load(dir, o)->embed(p);
  EXPECT_EQ(one.data, got.data) << "int8 results must not depend on the thread count";
}

TEST(QuantizedEncoder, RefusedOffTheFloat32Cpu) {
  sbert::EncoderOptions o;
  o.quantize = "int8";
  o.dtype = "bfloat16";
  EXPECT_THROW(sbert::nn::EmbeddingModel::load(random_model(), o), sbert::Error);
  o.dtype = "float32";
  o.quantize = "int4";
  EXPECT_THROW(sbert::nn::EmbeddingModel::load(random_model(), o), sbert::Error);
}

}  // namespace
