// libtorch's padded executor of the rotary decoders (what CUDA and float16/bfloat16 run) against
// the Qwen3-Embedding and EmbeddingGemma goldens, on the CPU: float32 within 1e-5, bfloat16
// close, a padded batch equal to batches of one to float rounding.
#include <cmath>

#include "nn/embedding_model.h"
#include "nn_test_util.h"
#include "test_support.h"

namespace {

using nlohmann::json;
using sbert::nntest::encoding_of;

std::vector<const sbert::Encoding*> ptrs(const std::vector<sbert::Encoding>& v) {
  std::vector<const sbert::Encoding*> p;
  for (const auto& e : v) p.push_back(&e);
  return p;
}

const char* const kFixtures[] = {"qwen3-embedding-lasttoken", "embeddinggemma-mean-dense"};

TEST(RotaryDecoderPadded, Float32MatchesTheGoldenAndBatchesOfOne) {
  SBERT_REQUIRE_SHARED(shared);
  for (const char* name : kFixtures) {
    SCOPED_TRACE(name);
    const json g = sbert::testing::load_json(shared / "fixtures/golden" / (std::string(name) + ".json"));
    std::vector<sbert::Encoding> encs;
    for (const auto& ids : g["input_ids"]) encs.push_back(encoding_of(ids));
    sbert::EncoderOptions many, one;
    many.batch_size = 16;
    one.batch_size = 1;
    const auto dir = shared / "fixtures/models" / name;
    const sbert::Matrix m = sbert::nn::EmbeddingModel::load(dir, many)->embed(ptrs(encs));
    const sbert::Matrix s = sbert::nn::EmbeddingModel::load(dir, one)->embed(ptrs(encs));
    ASSERT_EQ(m.rows, encs.size());
    double golden = 0, batch = 0;
    for (size_t i = 0; i < m.rows; ++i)
      for (size_t j = 0; j < m.cols; ++j) {
        golden = std::max(golden, std::fabs(double(m.at(i, j)) - g["st_encode"][i * m.cols + j].get<double>()));
        batch = std::max(batch, std::fabs(double(m.at(i, j)) - s.at(i, j)));
      }
    std::printf("[libtorch padded] %s st_encode max abs diff %.3g, batch 16 vs 1 %.3g\n", name, golden, batch);
    EXPECT_LE(golden, 1e-5);
    EXPECT_LE(batch, 1e-5);
  }
}

TEST(RotaryDecoderPadded, Bfloat16StaysCloseAndInt8IsRefusedHere) {
  SBERT_REQUIRE_SHARED(shared);
  for (const char* name : kFixtures) {
    SCOPED_TRACE(name);
    const json g = sbert::testing::load_json(shared / "fixtures/golden" / (std::string(name) + ".json"));
    std::vector<sbert::Encoding> encs;
    for (size_t i = 0; i < 24; ++i) encs.push_back(encoding_of(g["input_ids"][i]));
    sbert::EncoderOptions o;
    o.dtype = "bfloat16";
    const sbert::Matrix m = sbert::nn::EmbeddingModel::load(shared / "fixtures/models" / name, o)->embed(ptrs(encs));
    double worst = 1;
    for (size_t i = 0; i < m.rows; ++i) {
      double ab = 0, aa = 0, bb = 0;
      for (size_t j = 0; j < m.cols; ++j) {
        const double a = m.at(i, j), b = g["st_encode"][i * m.cols + j].get<double>();
        ab += a * b, aa += a * a, bb += b * b;
      }
      worst = std::min(worst, ab / std::sqrt(aa * bb));
    }
    std::printf("[libtorch padded] %s bfloat16 worst cosine to the float32 golden %.5f\n", name, worst);
    EXPECT_GT(worst, 0.99);
    sbert::EncoderOptions q;
    q.quantize = "int8";
    const std::string e = sbert::testing::error_of(
        [&] { sbert::nn::EmbeddingModel::load(shared / "fixtures/models" / name, q); });
    EXPECT_NE(e.find("CPU runtime"), std::string::npos) << e;
  }
}

}  // namespace
