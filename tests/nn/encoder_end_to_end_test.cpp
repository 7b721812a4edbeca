// SentenceEncoder::load + encode(texts) with the real tokenizers against the goldens.
#include <cmath>

#include "nn_test_util.h"
#include "sbert/encoder.h"
#include "sbert/error.h"
#include "test_support.h"

namespace {

namespace fs = std::filesystem;
using sbert::nntest::max_abs_diff;

TEST(EncoderEndToEnd, TextsToStEncode) {
  SBERT_REQUIRE_SHARED(shared);
  const std::pair<const char*, const char*> cases[] = {
      {"bert-wordpiece-mean-norm", "bert-wordpiece-mean-norm"},
      {"bert-wordpiece-mean-norm-bin", "bert-wordpiece-mean-norm"},
      {"bert-wordpiece-mean-norm-fp16", "bert-wordpiece-mean-norm-fp16"},
      {"xlmr-spm-mean-norm", "xlmr-spm-mean-norm"},
      {"distilbert-krwordpiece-dense", "distilbert-krwordpiece-dense"},
  };
  auto ids_golden = sbert::testing::load_json(shared / "fixtures/golden/bert-wordpiece-mean-norm.json");
  for (const auto& [model, golden] : cases) {
    SCOPED_TRACE(model);
    auto g = sbert::testing::load_json(shared / "fixtures/golden" / (std::string(golden) + ".json"));
    const auto& input_ids = g.contains("input_ids") ? g["input_ids"] : ids_golden["input_ids"];
    std::vector<std::string> texts = g["texts"].get<std::vector<std::string>>();
    sbert::EncoderOptions o;
    o.batch_size = 16;
    auto enc = sbert::SentenceEncoder::load(shared / "fixtures/models" / model, o);
    EXPECT_EQ(enc->max_length(), 128u);
    sbert::EncodeStats stats;
    sbert::Matrix m = enc->encode(texts, &stats);
    const size_t cols = g["st_encode_shape"][1];
    ASSERT_EQ(m.rows, texts.size());
    ASSERT_EQ(m.cols, cols);
    EXPECT_EQ(enc->dimension(), cols);
    EXPECT_EQ(stats.texts, texts.size());
    double worst = 0;
    size_t skipped = 0, expected_tokens = 0;
    for (size_t i = 0; i < texts.size(); ++i) {
      expected_tokens += input_ids[i].size();
      if (enc->tokenizer().encode(texts[i], true, 128).ids !=
          input_ids[i].get<std::vector<int64_t>>()) {
        ++skipped;
        continue;
      }
      worst = std::max(worst, max_abs_diff(m.row(i), std::vector<double>(
          g["st_encode"].begin() + i * cols, g["st_encode"].begin() + (i + 1) * cols), cols));
    }
    EXPECT_EQ(skipped, 0u);
    EXPECT_EQ(stats.tokens, expected_tokens) << "(tokens fed to the model, specials included)";
    std::printf("[e2e] %s st_encode max abs diff %.3g (%zu text(s) with differing ids)\n", model,
                worst, skipped);
    EXPECT_LE(worst, 1e-4);
  }
}

// A folder with only sentencepiece.bpe.model (no tokenizer.json): converted into the fast
// tokenizer, every text (the decomposed-jamo one included) embeds to the golden.
TEST(EncoderEndToEnd, XlmrWithoutTokenizerJsonEveryTextToStEncode) {
  SBERT_REQUIRE_SHARED(shared);
  auto g = sbert::testing::load_json(shared / "fixtures/golden/xlmr-spm-mean-norm.json");
  const fs::path dir = sbert::testing::copy_folder(shared / "fixtures/models/xlmr-spm-mean-norm",
                                                   "e2e-xlmr-bare", {"tokenizer.json"});
  ASSERT_FALSE(fs::exists(dir / "tokenizer.json"));
  std::vector<std::string> texts = g["texts"].get<std::vector<std::string>>();
  sbert::EncoderOptions o;
  o.batch_size = 16;
  auto enc = sbert::SentenceEncoder::load(dir, o);
  EXPECT_NE(enc->tokenizer().describe().find("converted"), std::string::npos) << enc->tokenizer().describe();
  sbert::EncodeStats stats;
  sbert::Matrix m = enc->encode(texts, &stats);
  const size_t cols = g["st_encode_shape"][1];
  ASSERT_EQ(m.rows, texts.size());
  ASSERT_EQ(m.cols, cols);
  size_t expected_tokens = 0;
  for (const auto& ids : g["input_ids"]) expected_tokens += ids.size();
  EXPECT_EQ(stats.tokens, expected_tokens);
  double worst = 0;
  for (size_t i = 0; i < texts.size(); ++i)
    worst = std::max(worst, max_abs_diff(m.row(i), std::vector<double>(
        g["st_encode"].begin() + i * cols, g["st_encode"].begin() + (i + 1) * cols), cols));
  std::printf("[e2e] xlmr without tokenizer.json st_encode max abs diff %.3g (all %zu texts)\n", worst,
              texts.size());
  EXPECT_LE(worst, 1e-4);
}

TEST(EncoderEndToEnd, XlmrLongDocumentsChunked) {
  SBERT_REQUIRE_SHARED(shared);
  auto g = sbert::testing::load_json(shared / "fixtures/golden/xlmr-spm-mean-norm.json");
  auto tok = sbert::testing::load_json(shared / "fixtures/golden/tokenize.json");
  std::vector<std::string> texts;
  for (const auto& l : g["long"])
    for (const auto& t : tok["texts"])
      if (t.get<std::string>().size() >= 1000 &&
          sbert::nntest::utf8_chars(t.get<std::string>()) == l["text_chars"].get<size_t>()) {
        texts.push_back(t);
        break;
      }
  ASSERT_EQ(texts.size(), g["long"].size());
  sbert::EncoderOptions o;
  o.chunk = true;
  auto enc = sbert::SentenceEncoder::load(shared / "fixtures/models/xlmr-spm-mean-norm", o);
  auto chunks = enc->encode_chunks(texts);
  sbert::Matrix mean = enc->encode(texts);
  size_t pos = 0;
  double worst = 0;
  for (size_t t = 0; t < texts.size(); ++t) {
    const auto& l = g["long"][t];
    for (size_t w = 0; w < l["chunks"].size(); ++w, ++pos) {
      ASSERT_LT(pos, chunks.size());
      EXPECT_EQ(chunks[pos].token_end - chunks[pos].token_begin, l["chunks"][w].get<size_t>());
      worst = std::max(worst, max_abs_diff(chunks[pos].vector.data(), l["chunk_embeddings"][w],
                                           enc->dimension()));
    }
    worst = std::max(worst, max_abs_diff(mean.row(t), l["embedding"], enc->dimension()));
  }
  EXPECT_EQ(pos, chunks.size());
  std::printf("[e2e] xlmr long max abs diff %.3g\n", worst);
  EXPECT_LE(worst, 1e-4);
}

TEST(EncoderEndToEnd, TokenOutputsCarryTheEncoding) {
  SBERT_REQUIRE_SHARED(shared);
  auto g = sbert::testing::load_json(shared / "fixtures/golden/bert-kobert-spm.json");
  auto enc = sbert::SentenceEncoder::load(shared / "fixtures/models/bert-kobert-spm");
  const auto& wv = g["word_vectors"];
  auto out = enc->encode_tokens({wv["text"].get<std::string>()});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].encoding.ids, wv["input_ids"].get<std::vector<int64_t>>());
  ASSERT_EQ(out[0].vectors.rows, wv["last_hidden_state"].size());
  double worst = 0;
  for (size_t r = 0; r < out[0].vectors.rows; ++r)
    worst = std::max(worst, max_abs_diff(out[0].vectors.row(r), wv["last_hidden_state"][r],
                                         out[0].vectors.cols));
  EXPECT_LE(worst, 1e-4);
  // Plain HF folder: mean pooling, no normalisation, cosine.
  EXPECT_FALSE(enc->normalizes());
  EXPECT_EQ(enc->info().pooling, "mean");
  EXPECT_EQ(enc->similarity_function(), "cosine");
}

}  // namespace
