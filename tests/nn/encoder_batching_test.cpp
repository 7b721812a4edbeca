// Batching, options and dtype behaviour on a generated random-weight model (runs without
// ../shared).
#include <cmath>
#include <numeric>
#include <random>
#include <set>

#include "nn/embedding_model.h"
#include "cpu/length_sorted_batcher.h"
#include "nn_test_util.h"
#include "sbert/error.h"
#include "sbert/random_model.h"
#include "test_support.h"

namespace {

namespace fs = std::filesystem;

fs::path random_model(const std::string& name, const std::string& pooling = "mean") {
  static std::map<std::string, fs::path> made;
  auto key = name + pooling;
  if (made.count(key)) return made[key];
  fs::path dir = sbert::testing::temp_dir(name);
  sbert::RandomModelSpec s = sbert::nntest::small_model_spec();
  s.pooling = pooling;
  sbert::write_random_model(dir, s);
  return made[key] = dir;
}

std::vector<sbert::Encoding> random_inputs(size_t n, size_t vocab, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<sbert::Encoding> out;
  for (size_t i = 0; i < n; ++i) {
    size_t len = 3 + rng() % 110;
    sbert::Encoding e;
    e.ids.push_back(2);
    for (size_t k = 0; k < len; ++k) e.ids.push_back(5 + static_cast<int64_t>(rng() % (vocab - 5)));
    e.ids.push_back(3);
    e.type_ids.assign(e.ids.size(), 0);
    out.push_back(e);
  }
  return out;
}

std::vector<const sbert::Encoding*> ptrs(const std::vector<sbert::Encoding>& v) {
  std::vector<const sbert::Encoding*> p;
  for (const auto& e : v) p.push_back(&e);
  return p;
}

TEST(LengthSortedBatcher, CoversEveryInputOnceWithinBounds) {
  std::vector<size_t> lengths = {5, 100, 7, 7, 60, 1, 33, 100, 2, 80, 9, 12};
  using sbert::cpu::LengthSortedBatcher;
  sbert::cpu::LengthSortedBatcher b(lengths, 3, 208);
  std::set<size_t> seen;
  size_t prev_longest = SIZE_MAX;
  ASSERT_EQ(b.padded_lengths().size(), b.batches().size());
  for (size_t k = 0; k < b.batches().size(); ++k) {
    const auto& batch = b.batches()[k];
    ASSERT_FALSE(batch.empty());
    EXPECT_LE(batch.size(), 3u);
    size_t longest = 0;
    for (size_t i : batch) {
      EXPECT_TRUE(seen.insert(i).second) << "index " << i << " twice";
      longest = std::max(longest, lengths[i]);
      // Every member is padded to the length its own length gives, whatever the batch.
      EXPECT_EQ(sbert::cpu::LengthSortedBatcher::padded_length(lengths[i], 0), b.padded_lengths()[k]);
    }
    EXPECT_GE(b.padded_lengths()[k], longest);
    EXPECT_LT(b.padded_lengths()[k], longest + sbert::cpu::LengthSortedBatcher::kPadMultiple);
    EXPECT_LE(batch.size() * b.padded_lengths()[k], 208u);
    EXPECT_LE(longest, prev_longest) << "batches go from longest to shortest";
    prev_longest = longest;
  }
  EXPECT_EQ(seen.size(), lengths.size());
  // The two 100-token inputs (padded to 104) fit together (208 tokens), not three.
  EXPECT_EQ(b.batches()[0].size(), 2u);
  // 7 and 5 pad to 8; 9 and 12 to 16: never in one batch.
  EXPECT_EQ(sbert::cpu::LengthSortedBatcher::padded_length(5, 0), 8u);
  EXPECT_EQ(sbert::cpu::LengthSortedBatcher::padded_length(9, 0), 16u);
  EXPECT_EQ(sbert::cpu::LengthSortedBatcher::padded_length(126, 128), 128u);
  EXPECT_EQ(sbert::cpu::LengthSortedBatcher::padded_length(127, 127), 127u);  // capped at the model's maximum
  // A single input longer than the budget still gets a batch of its own.
  sbert::cpu::LengthSortedBatcher one({500, 10}, 8, 100);
  ASSERT_EQ(one.batches().size(), 2u);
  EXPECT_EQ(one.batches()[0], std::vector<size_t>{0});
}

TEST(EncoderBatching, TextAloneEqualsTextInMixedBatch) {
  fs::path dir = random_model("batch");
  sbert::EncoderOptions o;
  o.batch_size = 64;
  o.max_batch_tokens = 1 << 20;
  auto model = sbert::nntest::load_model(dir, o);
  auto inputs = random_inputs(64, model->info().vocab_size, 7);
  sbert::EncodeStats stats;
  sbert::Matrix together = model->embed(ptrs(inputs), &stats);
  size_t tokens = 0;
  for (const auto& e : inputs) tokens += e.ids.size();
  EXPECT_EQ(stats.tokens, tokens);
  // Small batches and a tight token budget: same vectors too.
  sbert::EncoderOptions small = o;
  small.batch_size = 5;
  small.max_batch_tokens = 300;
  sbert::Matrix batched = sbert::nntest::load_model(dir, small)->embed(ptrs(inputs));
  double worst = 0, worst_small = 0, spread = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    sbert::Matrix alone = model->embed({&inputs[i]});
    for (size_t j = 0; j < together.cols; ++j) {
      worst = std::max(worst, double(std::fabs(alone.at(0, j) - together.at(i, j))));
      worst_small = std::max(worst_small, double(std::fabs(batched.at(i, j) - together.at(i, j))));
      if (i > 0) spread = std::max(spread, double(std::fabs(together.at(i, j) - together.at(0, j))));
    }
  }
  // Padding depends on each input's own length only, so these are normally bit-identical.
  std::printf("[batch] alone vs batch of 64: %.3g; small batches: %.3g\n", worst, worst_small);
  EXPECT_LE(worst, 1e-5);
  EXPECT_LE(worst_small, 1e-5);
  EXPECT_GT(spread, 1e-2) << "inputs should give different vectors";
}

double norm(const float* v, size_t n) {
  double s = 0;
  for (size_t j = 0; j < n; ++j) s += double(v[j]) * v[j];
  return std::sqrt(s);
}

TEST(EncoderBatching, NormalizeOverrideAndTruncateDim) {
  fs::path dir = random_model("opts");
  auto inputs = random_inputs(6, 60, 11);
  auto full = sbert::nntest::load_model(dir, {})->embed(ptrs(inputs));
  sbert::EncoderOptions raw;
  raw.normalize = false;
  auto plain_model = sbert::nntest::load_model(dir, raw);
  EXPECT_FALSE(plain_model->normalizes());
  auto plain = plain_model->embed(ptrs(inputs));
  sbert::EncoderOptions cut;
  cut.truncate_dim = 8;
  auto cut_model = sbert::nntest::load_model(dir, cut);
  EXPECT_EQ(cut_model->dimension(), 8u);
  auto truncated = cut_model->embed(ptrs(inputs));
  for (size_t i = 0; i < inputs.size(); ++i) {
    EXPECT_NEAR(norm(full.row(i), full.cols), 1.0, 1e-5);
    EXPECT_GT(std::fabs(norm(plain.row(i), plain.cols) - 1.0), 1e-3);
    const double n = norm(plain.row(i), plain.cols), n8 = norm(plain.row(i), 8);
    for (size_t j = 0; j < full.cols; ++j) EXPECT_NEAR(full.at(i, j), plain.at(i, j) / n, 1e-5);
    // Matryoshka: the first 8 dimensions, re-normalised.
    for (size_t j = 0; j < 8; ++j) EXPECT_NEAR(truncated.at(i, j), plain.at(i, j) / n8, 1e-5);
  }
  sbert::EncoderOptions too_big;
  too_big.truncate_dim = 1000;
  EXPECT_THROW(sbert::nntest::load_model(dir, too_big), sbert::Error);
}

TEST(EncoderBatching, ReducedPrecisionStaysClose) {
  fs::path dir = random_model("dtype");
  auto inputs = random_inputs(8, 60, 13);
  auto ref = sbert::nntest::load_model(dir, {})->embed(ptrs(inputs));
  for (const char* dtype : {"bfloat16", "float16"}) {
    SCOPED_TRACE(dtype);
    sbert::EncoderOptions o;
    o.dtype = dtype;
    std::unique_ptr<sbert::cpu::TokenModel> m;
    try {
      m = sbert::nntest::load_model(dir, o);
    } catch (const sbert::Error& e) {
      // Acceptable only as a clear refusal (e.g. float16 matmul on a CPU-only libtorch).
      EXPECT_NE(std::string(e.what()).find(dtype), std::string::npos) << e.what();
      std::printf("[dtype] %s refused: %s\n", dtype, e.what());
      continue;
    }
    auto got = m->embed(ptrs(inputs));
    double worst_cos = 1;
    for (size_t i = 0; i < inputs.size(); ++i) {
      double dot = 0;
      for (size_t j = 0; j < ref.cols; ++j) dot += double(ref.at(i, j)) * got.at(i, j);
      worst_cos = std::min(worst_cos, dot / norm(got.row(i), got.cols));
    }
    std::printf("[dtype] %s: worst cosine to float32 %.5f\n", dtype, worst_cos);
    EXPECT_GT(worst_cos, 0.99);
  }
}

TEST(EncoderBatching, Float16CheckpointLoadsAndMatches) {
  fs::path a = random_model("f32src");
  fs::path b = sbert::testing::temp_dir("f16");
  sbert::RandomModelSpec s = sbert::nntest::small_model_spec();
  s.dtype = "F16";
  sbert::write_random_model(b, s);
  auto inputs = random_inputs(4, 60, 17);
  auto x = sbert::nntest::load_model(a, {})->embed(ptrs(inputs));
  auto y = sbert::nntest::load_model(b, {})->embed(ptrs(inputs));
  double worst = 0;
  for (size_t k = 0; k < x.data.size(); ++k) worst = std::max(worst, double(std::fabs(x.data[k] - y.data[k])));
  EXPECT_LT(worst, 2e-2);  // the same weights rounded to float16
  EXPECT_GT(worst, 0.0);
}

TEST(EncoderBatching, PoolingModesOnGeneratedModel) {
  // cls of a model equals its first-token hidden state, independently read via token_states.
  fs::path dir = random_model("cls", "cls");
  sbert::EncoderOptions o;
  o.normalize = false;
  auto m = sbert::nntest::load_model(dir, o);
  auto inputs = random_inputs(5, 60, 19);
  auto pooled = m->embed(ptrs(inputs));
  auto states = m->token_states(ptrs(inputs), -1);
  for (size_t i = 0; i < inputs.size(); ++i)
    for (size_t j = 0; j < pooled.cols; ++j) EXPECT_NEAR(pooled.at(i, j), states[i].at(0, j), 1e-6);
  // mean over tokens, computed here from the token states.
  o.pooling = "mean";
  auto mean = sbert::nntest::load_model(dir, o)->embed(ptrs(inputs));
  for (size_t i = 0; i < inputs.size(); ++i)
    for (size_t j = 0; j < mean.cols; ++j) {
      double s = 0;
      for (size_t r = 0; r < states[i].rows; ++r) s += states[i].at(r, j);
      EXPECT_NEAR(mean.at(i, j), s / states[i].rows, 1e-5);
    }
  // layer 0 = embeddings output; out of range is an error.
  EXPECT_EQ(m->token_states(ptrs(inputs), 0)[0].cols, 48u);
  EXPECT_THROW(m->token_states(ptrs(inputs), 5), sbert::Error);
}

}  // namespace
