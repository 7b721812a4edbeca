// Token ids against the reference goldens (/work/shared/fixtures/golden).
#include <string>
#include <vector>

#include "sbert/error.h"
#include "sbert/tokenizer.h"
#include "test_support.h"

namespace {

using sbert::Encoding;
using sbert::load_tokenizer;
using sbert::TokenizerOptions;
using sbert::testing::load_json;

// Compares every text's ids; reports the first few mismatches and returns their count.
size_t compare_ids(const sbert::Tokenizer& tok, const nlohmann::json& texts, const nlohmann::json& ids,
                   size_t max_length = 0) {
  EXPECT_EQ(texts.size(), ids.size());
  size_t bad = 0;
  for (size_t i = 0; i < texts.size() && i < ids.size(); ++i) {
    const Encoding e = tok.encode(texts[i].get<std::string>(), true, max_length);
    const auto want = ids[i].get<std::vector<int64_t>>();
    if (e.ids != want) {
      if (++bad <= 5) {
        std::string got, exp;
        for (auto v : e.ids) got += std::to_string(v) + " ";
        for (auto v : want) exp += std::to_string(v) + " ";
        ADD_FAILURE() << "text " << i << ": " << texts[i].get<std::string>().substr(0, 120)
                      << "\n  got      " << got.substr(0, 400) << "\n  expected " << exp.substr(0, 400);
      }
    }
  }
  return bad;
}

const nlohmann::json& tokenize_golden(const std::filesystem::path& shared) {
  static nlohmann::json g = load_json(shared / "fixtures/golden/tokenize.json");
  return g;
}

TEST(TokenizeGolden, MiniLmVocabTxtOnly) {
  SBERT_REQUIRE_SHARED(shared);
  const auto& g = tokenize_golden(shared);
  TokenizerOptions o;
  o.tokenizer_file = (shared / "tokenizers/all-MiniLM-L6-v2/vocab.txt").string();
  auto tok = load_tokenizer(shared / "tokenizers/all-MiniLM-L6-v2", o);
  EXPECT_EQ(compare_ids(*tok, g["texts"], g["tokenizers"]["all-MiniLM-L6-v2-vocab-only"]["ids"]), 0u);
}

TEST(TokenizeGolden, MiniLmTokenizerJson) {
  SBERT_REQUIRE_SHARED(shared);
  const auto& g = tokenize_golden(shared);
  auto tok = load_tokenizer(shared / "tokenizers/all-MiniLM-L6-v2");
  EXPECT_NE(tok->describe().find("tokenizer.json"), std::string::npos) << tok->describe();
  EXPECT_EQ(compare_ids(*tok, g["texts"], g["tokenizers"]["all-MiniLM-L6-v2"]["ids"]), 0u);
}

TEST(TokenizeGolden, KrSbertCasedWordPiece) {
  SBERT_REQUIRE_SHARED(shared);
  const auto& g = tokenize_golden(shared);
  auto tok = load_tokenizer(shared / "tokenizers/kr-sbert-v40k");
  EXPECT_EQ(compare_ids(*tok, g["texts"], g["tokenizers"]["kr-sbert-v40k"]["ids"]), 0u);
}

void check_pairs(const sbert::Tokenizer& tok, const nlohmann::json& g, const std::string& key) {
  const auto& a = g["tokenizers"]["pairs-texts"]["a"];
  const auto& b = g["tokenizers"]["pairs-texts"]["b"];
  const auto& ref = g["tokenizers"][key];
  const size_t max_length = ref["max_length"];
  size_t bad = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const Encoding e = tok.encode_pair(a[i].get<std::string>(), b[i].get<std::string>(), max_length,
                                       sbert::Truncation::LongestFirst);
    const auto want_ids = ref["ids"][i].get<std::vector<int64_t>>();
    const auto want_types = ref["token_type_ids"][i].get<std::vector<int64_t>>();
    if (e.ids != want_ids || e.type_ids != want_types) {
      if (++bad <= 3) ADD_FAILURE() << key << " pair " << i << " differs";
    }
  }
  EXPECT_EQ(bad, 0u);
}

TEST(TokenizeGolden, PairsLongestFirst16And32) {
  SBERT_REQUIRE_SHARED(shared);
  const auto& g = tokenize_golden(shared);
  for (const char* file : {"vocab.txt", "tokenizer.json"}) {
    TokenizerOptions o;
    o.tokenizer_file = (shared / "tokenizers/all-MiniLM-L6-v2" / file).string();
    auto tok = load_tokenizer(shared / "tokenizers/all-MiniLM-L6-v2", o);
    SCOPED_TRACE(file);
    check_pairs(*tok, g, "pairs-longest_first-16");
    check_pairs(*tok, g, "pairs-longest_first-32");
  }
}

// input_ids of each model golden, truncated at its max_seq_length.
void check_model_golden(const std::filesystem::path& shared, const std::string& name,
                        size_t allowed_mismatches = 0) {
  const auto g = load_json(shared / "fixtures/golden" / (name + ".json"));
  auto tok = load_tokenizer(shared / "fixtures/models" / name);
  const size_t max_len = g.value("max_seq_length", 128);
  EXPECT_LE(compare_ids(*tok, g["texts"], g["input_ids"], max_len), allowed_mismatches) << tok->describe();
}

TEST(ModelGolden, BertWordPiece) {
  SBERT_REQUIRE_SHARED(shared);
  check_model_golden(shared, "bert-wordpiece-mean-norm");
}

TEST(ModelGolden, DistilBertKoreanWordPieceSubfolder) {
  SBERT_REQUIRE_SHARED(shared);
  check_model_golden(shared, "distilbert-krwordpiece-dense");
}

}  // namespace

namespace {

TEST(ModelGolden, XlmrTokenizerJsonUnigram) {
  SBERT_REQUIRE_SHARED(shared);
  check_model_golden(shared, "xlmr-spm-mean-norm");
}

}  // namespace

namespace {

TEST(ModelGolden, KoBertSentencePieceWithVocab) {
  SBERT_REQUIRE_SHARED(shared);
  check_model_golden(shared, "bert-kobert-spm");
  // The pieces themselves match too.
  const auto g = load_json(shared / "fixtures/golden/bert-kobert-spm.json");
  auto tok = load_tokenizer(shared / "fixtures/models/bert-kobert-spm");
  EXPECT_NE(tok->describe().find("sentencepiece"), std::string::npos);
  for (size_t i = 0; i < 20; ++i) {
    const auto e = tok->encode_plain(g["texts"][i].get<std::string>());
    EXPECT_EQ(e.tokens, g["pieces"][i].get<std::vector<std::string>>()) << i;
  }
}

TEST(ModelGolden, XlmrSentencePieceFairseqOffset) {
  SBERT_REQUIRE_SHARED(shared);
  // libsentencepiece on sentencepiece.bpe.model (backend sentencepiece): the golden (fast
  // tokenizer) ids except the one decomposed-jamo text where the two libraries disagree.
  const auto g = load_json(shared / "fixtures/golden/xlmr-spm-mean-norm.json");
  TokenizerOptions o;
  o.tokenizer_file = (shared / "fixtures/models/xlmr-spm-mean-norm/sentencepiece.bpe.model").string();
  o.backend = sbert::TokenizerBackend::SentencePiece;
  auto tok = load_tokenizer(shared / "fixtures/models/xlmr-spm-mean-norm", o);
  size_t bad = 0;
  for (size_t i = 0; i < g["texts"].size(); ++i)
    bad += tok->encode(g["texts"][i].get<std::string>(), true, 128).ids !=
           g["input_ids"][i].get<std::vector<int64_t>>();
  EXPECT_EQ(bad, g["spm_plus_offset_mismatches"].get<size_t>());
}

}  // namespace

namespace {

TEST(ModelGolden, BinAndFp16FoldersShareTheBertGolden) {
  SBERT_REQUIRE_SHARED(shared);
  const auto g = load_json(shared / "fixtures/golden/bert-wordpiece-mean-norm.json");
  for (const char* m : {"bert-wordpiece-mean-norm-bin", "bert-wordpiece-mean-norm-fp16", "cross-encoder-bert", "nli-bert"}) {
    SCOPED_TRACE(m);
    auto tok = load_tokenizer(shared / "fixtures/models" / m);
    EXPECT_EQ(compare_ids(*tok, g["texts"], g["input_ids"], 128), 0u);
  }
}

TEST(ModelGolden, NliPairsOnlyFirstTruncation) {
  SBERT_REQUIRE_SHARED(shared);
  for (const char* m : {"nli-bert", "nli-xlmr"}) {
    SCOPED_TRACE(m);
    const auto g = load_json(shared / "fixtures/golden" / (std::string(m) + ".json"));
    auto tok = load_tokenizer(shared / "fixtures/models" / m);
    const std::string tpl = g["hypothesis_template"];
    const std::string label = g["labels"][0];
    std::string hyp = tpl;
    hyp.replace(hyp.find("{}"), 2, label);
    const auto hyp_only = tok->encode_plain(hyp);
    for (const auto& t : g["texts"]) {
      const auto e = tok->encode_pair(t.get<std::string>(), hyp, 128, sbert::Truncation::OnlyFirst);
      EXPECT_LE(e.size(), 128u);
      // The hypothesis is never cut and ends the pair, followed by the final separator.
      ASSERT_GE(e.size(), hyp_only.size() + 1);
      EXPECT_TRUE(std::equal(hyp_only.ids.begin(), hyp_only.ids.end(), e.ids.end() - 1 - hyp_only.size()));
    }
  }
}

}  // namespace
