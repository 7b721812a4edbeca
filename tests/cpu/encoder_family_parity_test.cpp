// Parity of the CPU runtime with the goldens of the rotary and relative-position encoders
// (ModernBERT, NomicBERT, GTE "new", MPNet; the eager PyTorch ports in ../shared/reference), from
// the goldens' token ids so that the model code is tested apart from the tokenizers.
#include <cmath>

#include "cpu/embedding_model.h"
#include "cpu/relative_position.h"
#include "sbert/error.h"
#include "golden_util.h"
#include "test_support.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using sbert::cputest::encodings;
using sbert::cputest::load;
using sbert::cputest::ptrs;
using sbert::testing::max_abs_diff;

constexpr double kTol = 1e-5;

struct Fixture {
  const char* name;
  const char* model_type;
  const char* prompt_ids;  // the golden's prompted token ids (nullptr: no prompt golden)
};
const Fixture kFixtures[] = {
    {"modernbert-cls-norm", "modernbert", "st_encode_prompt_input_ids"},
    {"nomic-bert-mean", "nomic_bert", "prompt_input_ids"},
    {"gte-new-cls", "new", nullptr},
    {"mpnet-mean-norm", "mpnet", nullptr},
};

double worst_rows(const std::vector<float>& got, const json& rows) {
  double w = 0;
  size_t k = 0;
  for (const auto& r : rows)
    for (const auto& v : r) w = std::max(w, std::fabs(got.at(k++) - v.get<double>()));
  EXPECT_EQ(k, got.size());
  return w;
}

json golden(const fs::path& shared, const Fixture& f) {
  return sbert::testing::load_json(shared / "fixtures/golden" / (std::string(f.name) + ".json"));
}

TEST(EncoderFamilyParity, StEncodeAndPrompts) {
  SBERT_REQUIRE_SHARED(shared);
  for (const Fixture& f : kFixtures) {
    SCOPED_TRACE(f.name);
    const json g = golden(shared, f);
    sbert::EncoderOptions o;
    o.batch_size = 16;
    auto model = load(shared / "fixtures/models" / f.name, o);
    EXPECT_EQ(model->info().model_type, f.model_type);
    const sbert::Matrix m = model->embed(ptrs(encodings(g["input_ids"])));
    ASSERT_EQ(m.rows, g["st_encode_shape"][0].get<size_t>());
    ASSERT_EQ(m.cols, g["st_encode_shape"][1].get<size_t>());
    const double d = max_abs_diff(m, g["st_encode"]);
    std::printf("[parity] %s st_encode max abs diff %.3g\n", f.name, d);
    EXPECT_LE(d, kTol);
    if (!f.prompt_ids) continue;
    const auto p = encodings(g[f.prompt_ids]);
    const double dp = max_abs_diff(model->embed(ptrs(p)), g["st_encode_prompt"]);
    std::printf("[parity] %s st_encode_prompt max abs diff %.3g\n", f.name, dp);
    EXPECT_LE(dp, kTol);
  }
}

// ModernBERT's golden also holds modernbert-embed-base's pipeline (mean + Normalize).
TEST(EncoderFamilyParity, ModernBertMeanNormalizePipeline) {
  SBERT_REQUIRE_SHARED(shared);
  const json g = golden(shared, kFixtures[0]);
  sbert::EncoderOptions o;
  o.pooling = "mean";
  o.normalize = true;
  auto model = load(shared / "fixtures/models" / kFixtures[0].name, o);
  const double d = max_abs_diff(model->embed(ptrs(encodings(g["input_ids"]))), g["st_encode_mean_norm"]);
  const double dp =
      max_abs_diff(model->embed(ptrs(encodings(g["st_encode_prompt_input_ids"]))), g["st_encode_mean_norm_prompt"]);
  std::printf("[parity] modernbert mean+normalize max abs diff %.3g, prompted %.3g\n", d, dp);
  EXPECT_LE(d, kTol);
  EXPECT_LE(dp, kTol);
}

TEST(EncoderFamilyParity, EveryPoolingModeAndHiddenStates) {
  SBERT_REQUIRE_SHARED(shared);
  for (const Fixture& f : kFixtures) {
    SCOPED_TRACE(f.name);
    const json g = golden(shared, f);
    const fs::path dir = shared / "fixtures/models" / f.name;
    const auto encs = encodings(g["input_ids"]);
    for (const auto& [mode, want] : g["pooling"].items()) {
      SCOPED_TRACE(mode);
      sbert::EncoderOptions o;
      o.pooling = mode;
      o.normalize = false;
      o.batch_size = 1;  // the goldens: batches of one
      const double d = max_abs_diff(load(dir, o)->embed(ptrs(encs)), want);
      std::printf("[parity] %s pooling %s max abs diff %.3g\n", f.name, mode.c_str(), d);
      EXPECT_LE(d, kTol);
    }
    auto model = load(dir);
    double worst = 0;
    for (size_t i = 0; i < g["last_hidden_state"].size(); ++i) {
      sbert::cpu::TokenBatch b;
      b.ids = encs[i].ids;
      b.offsets = {0, b.tokens()};
      worst = std::max(worst, worst_rows(model->encoder().forward(b), g["last_hidden_state"][i]));
    }
    std::printf("[parity] %s last_hidden_state max abs diff %.3g\n", f.name, worst);
    EXPECT_LE(worst, kTol);
  }
}

TEST(EncoderFamilyParity, MpnetPoolerAndBuckets) {
  SBERT_REQUIRE_SHARED(shared);
  const json g = golden(shared, kFixtures[3]);
  auto model = load(shared / "fixtures/models" / kFixtures[3].name);
  ASSERT_TRUE(model->encoder().has_pooler());
  const auto encs = encodings(g["input_ids"]);
  double worst = 0;
  ASSERT_GT(g["pooler_output"].size(), 0u);
  for (size_t i = 0; i < g["pooler_output"].size(); ++i) {  // the first texts'
    sbert::cpu::TokenBatch b;
    b.ids = encs[i].ids;
    b.offsets = {0, b.tokens()};
    const std::vector<float> h = model->encoder().forward(b);
    const std::vector<float> p = model->encoder().pooler(h.data(), 1);
    for (size_t k = 0; k < p.size(); ++k) worst = std::max(worst, std::fabs(p[k] - g["pooler_output"][i][k].get<double>()));
  }
  std::printf("[parity] mpnet pooler max abs diff %.3g\n", worst);
  EXPECT_LE(worst, kTol);
  // transformers' buckets of offsets -400 .. 400 (32 buckets, max distance 128), as the port printed them.
  const json& want = g["meta"]["relative_position_buckets_-400_400"];
  ASSERT_EQ(want.size(), 801u);
  for (int64_t o = -400; o <= 400; ++o)
    EXPECT_EQ(sbert::cpu::relative_position_bucket(o, 32, 128), want[o + 400].get<int64_t>()) << "offset " << o;
}

// Many texts of different lengths in one batch give the bits of batches of one.
TEST(EncoderFamilyParity, PaddedBatchEqualsBatchesOfOne) {
  SBERT_REQUIRE_SHARED(shared);
  for (const Fixture& f : kFixtures) {
    SCOPED_TRACE(f.name);
    const json g = golden(shared, f);
    const fs::path dir = shared / "fixtures/models" / f.name;
    const auto encs = encodings(g["input_ids"]);
    sbert::EncoderOptions one, many;
    one.batch_size = 1;
    many.batch_size = encs.size();
    const sbert::Matrix a = load(dir, one)->embed(ptrs(encs)), b = load(dir, many)->embed(ptrs(encs));
    ASSERT_EQ(a.rows, b.rows);
    for (size_t i = 0; i < a.rows; ++i)
      for (size_t j = 0; j < a.cols; ++j) ASSERT_EQ(a.at(i, j), b.at(i, j)) << "row " << i;
  }
}

double cosine(const float* a, const float* b, size_t n) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < n; ++i) ab += double(a[i]) * b[i], aa += double(a[i]) * a[i], bb += double(b[i]) * b[i];
  return ab / std::sqrt(aa * bb);
}

TEST(EncoderFamilyInt8, QuantizedModelsStayCloseToFloat) {
  SBERT_REQUIRE_SHARED(shared);
  for (const Fixture& f : kFixtures) {
    SCOPED_TRACE(f.name);
    const json g = golden(shared, f);
    const fs::path dir = shared / "fixtures/models" / f.name;
    const auto encs = encodings(g["input_ids"]);
    sbert::EncoderOptions fo, qo;
    qo.quantize = "int8";
    const sbert::Matrix a = load(dir, fo)->embed(ptrs(encs)), b = load(dir, qo)->embed(ptrs(encs));
    ASSERT_EQ(a.rows, b.rows);
    double worst = 1, exact = 0;
    for (size_t i = 0; i < a.rows; ++i) {
      worst = std::min(worst, cosine(a.row(i), b.row(i), a.cols));
      for (size_t j = 0; j < a.cols; ++j) exact = std::max(exact, std::fabs(double(a.at(i, j)) - b.at(i, j)));
    }
    std::printf("[int8] %s worst cosine to float32 %.5f (max abs diff %.3g)\n", f.name, worst, exact);
    EXPECT_GT(worst, 0.99);
    EXPECT_GT(exact, 0.0) << "int8 gave float32's exact vectors: was it quantized at all?";
  }
}

}  // namespace
