// Sequence-classification heads, zero-shot and cross-encoder scoring against the goldens
// (transformers / sentence-transformers numbers for the nli-bert, nli-xlmr and cross-encoder-bert
// fixtures), the DistilBERT head against an independent computation, and the load errors.
#include <cmath>

#include "nn/weight_store.h"
#include "sbert/classifier.h"
#include "sbert/error.h"
#include "sbert/safetensors_writer.h"
#include "test_support.h"

namespace {

namespace fs = std::filesystem;
using Pairs = std::vector<std::pair<std::string, std::string>>;

sbert::ClassifierOptions opts128(size_t batch = 32) {
  sbert::ClassifierOptions o;
  o.max_length = 128;  // what the reference used (goldens' notes)
  o.batch_size = batch;
  o.threads = 1;
  return o;
}

Pairs pairs_of(const nlohmann::json& j) {
  Pairs p;
  for (auto& x : j) p.emplace_back(x[0].get<std::string>(), x[1].get<std::string>());
  return p;
}

double max_diff(const sbert::Matrix& m, const nlohmann::json& want) {
  double worst = 0;
  EXPECT_EQ(m.rows, want.size());
  for (size_t i = 0; i < m.rows && i < want.size(); ++i) {
    if (want[i].is_array()) {
      EXPECT_EQ(m.cols, want[i].size());
      for (size_t j = 0; j < m.cols && j < want[i].size(); ++j)
        worst = std::max(worst, std::fabs(double(m.at(i, j)) - want[i][j].get<double>()));
    } else {
      worst = std::max(worst, std::fabs(double(m.at(i, 0)) - want[i].get<double>()));
    }
  }
  return worst;
}

// `without` names fixture files to leave out (the model is then loaded from a copy).
void check_nli(const std::string& name, const std::vector<std::string>& want_labels,
               const std::vector<std::string>& without = {}) {
  SBERT_REQUIRE_SHARED(shared);
  auto g = sbert::testing::load_json(shared / "fixtures/golden" / (name + ".json"));
  const fs::path dir = without.empty() ? shared / "fixtures/models" / name
                                       : sbert::testing::copy_folder(shared / "fixtures/models" / name, name, without);
  auto model = sbert::SequenceClassifier::load(dir, opts128(7));
  EXPECT_EQ(model->labels(), want_labels);
  EXPECT_EQ(model->max_length(), 128u);

  // Plain premise/hypothesis pairs.
  sbert::ClassifyStats stats;
  sbert::Matrix pl = model->logits(pairs_of(g["pairs"]), sbert::Truncation::OnlyFirst, &stats);
  EXPECT_LE(max_diff(pl, g["pairs_logits"]), 1e-5) << name << " pairs_logits";
  EXPECT_EQ(stats.pairs, g["pairs"].size());
  // Batches hold at most 7 pairs, of one padded length (so there may be more than n / 7).
  EXPECT_GE(stats.batches, (g["pairs"].size() + 6) / 7);
  EXPECT_LE(stats.batches, g["pairs"].size());

  // Zero-shot: pair logits per (text, label), single- and multi-label scores.
  std::vector<std::string> texts, labels;
  for (auto& t : g["texts"]) texts.push_back(t.get<std::string>());
  for (auto& l : g["labels"]) labels.push_back(l.get<std::string>());
  sbert::ZeroShotOptions zo;
  zo.hypothesis_template = g["hypothesis_template"].get<std::string>();
  sbert::ZeroShotClassifier single(*model, labels, zo);
  sbert::Matrix logits = single.pair_logits(texts);
  nlohmann::json flat = nlohmann::json::array();
  for (auto& per_text : g["pair_logits_per_label"])
    for (auto& row : per_text) flat.push_back(row);
  EXPECT_LE(max_diff(logits, flat), 1e-5) << name << " pair_logits_per_label";
  EXPECT_LE(max_diff(single.scores(texts), g["single_label_scores"]), 1e-5) << name << " single";
  zo.multi_label = true;
  sbert::ZeroShotClassifier multi(*model, labels, zo);
  EXPECT_LE(max_diff(multi.scores(texts), g["multi_label_scores"]), 1e-5) << name << " multi";
}

TEST(Classifier, NliBertGolden) { check_nli("nli-bert", {"contradiction", "entailment", "neutral"}); }
TEST(Classifier, NliXlmrGolden) { check_nli("nli-xlmr", {"ENTAILMENT", "neutral", "Contradiction"}); }
// Only sentencepiece.bpe.model: converted into the reference's fast tokenizer, same numbers.
TEST(Classifier, NliXlmrGoldenWithoutTokenizerJson) {
  check_nli("nli-xlmr", {"ENTAILMENT", "neutral", "Contradiction"}, {"tokenizer.json"});
}

TEST(Classifier, BatchingDoesNotChangeLogits) {
  SBERT_REQUIRE_SHARED(shared);
  auto g = sbert::testing::load_json(shared / "fixtures/golden/nli-xlmr.json");
  Pairs p = pairs_of(g["pairs"]);
  auto one = sbert::SequenceClassifier::load(shared / "fixtures/models/nli-xlmr", opts128(1));
  auto many = sbert::SequenceClassifier::load(shared / "fixtures/models/nli-xlmr", opts128(64));
  sbert::Matrix a = one->logits(p), b = many->logits(p);
  ASSERT_EQ(a.data.size(), b.data.size());
  for (size_t i = 0; i < a.data.size(); ++i) EXPECT_NEAR(a.data[i], b.data[i], 1e-5);
}

TEST(Classifier, CrossEncoderGolden) {
  SBERT_REQUIRE_SHARED(shared);
  auto g = sbert::testing::load_json(shared / "fixtures/golden/cross-encoder-bert.json");
  auto ce = sbert::CrossEncoder::load(shared / "fixtures/models/cross-encoder-bert", opts128(16));
  Pairs p = pairs_of(g["pairs"]);
  EXPECT_LE(max_diff(ce->model().logits(p, sbert::Truncation::LongestFirst), g["logits"]), 1e-5);
  std::vector<float> s = ce->score(p);
  sbert::Matrix sm(s.size(), 1);
  sm.data = s;
  EXPECT_LE(max_diff(sm, g["scores"]), 1e-5);

  std::vector<std::string> docs;
  for (auto& d : g["rank_docs"]) docs.push_back(d.get<std::string>());
  auto ranked = ce->rank(g["rank_query"].get<std::string>(), docs);
  ASSERT_EQ(ranked.size(), g["rank"].size());
  for (size_t i = 0; i < ranked.size(); ++i) {
    EXPECT_EQ(ranked[i].index, g["rank"][i]["corpus_id"].get<size_t>()) << "rank " << i;
    EXPECT_NEAR(ranked[i].score, g["rank"][i]["score"].get<double>(), 1e-5);
  }
  auto top3 = ce->rank(g["rank_query"].get<std::string>(), docs, 3);
  ASSERT_EQ(top3.size(), 3u);
  EXPECT_EQ(top3[2].index, g["rank"][2]["corpus_id"].get<size_t>());
}

// DistilBERT head: the distilbert fixture's encoder plus a random pre_classifier/classifier;
// expected logits computed here from the golden [CLS] hidden states (pooling.cls).
TEST(Classifier, DistilBertHeadMatchesIndependentComputation) {
  SBERT_REQUIRE_SHARED(shared);
  const fs::path src = shared / "fixtures/models/distilbert-krwordpiece-dense/0_Transformer";
  auto g = sbert::testing::load_json(shared / "fixtures/golden/distilbert-krwordpiece-dense.json");
  fs::path dir = sbert::testing::temp_dir("distilbert_cls");
  auto store = sbert::nn::open_model_weights(src);
  std::vector<sbert::NamedTensor> tensors;
  for (const auto& n : store->names()) {
    at::Tensor t = store->get(n).to(at::kFloat).contiguous();
    sbert::NamedTensor nt{"distilbert." + n, t.sizes().vec(), {}};
    nt.values.assign(t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
    tensors.push_back(std::move(nt));
  }
  const size_t H = 32, C = 2;
  std::vector<float> w1(H * H), b1(H), w2(C * H), b2(C);
  uint32_t state = 12345;
  auto rnd = [&]() {
    state = state * 1664525u + 1013904223u;
    return (static_cast<float>(state >> 8) / 16777216.0f - 0.5f) * 0.4f;
  };
  for (auto* v : {&w1, &b1, &w2, &b2})
    for (float& x : *v) x = rnd();
  tensors.push_back({"pre_classifier.weight", {int64_t(H), int64_t(H)}, w1});
  tensors.push_back({"pre_classifier.bias", {int64_t(H)}, b1});
  tensors.push_back({"classifier.weight", {int64_t(C), int64_t(H)}, w2});
  tensors.push_back({"classifier.bias", {int64_t(C)}, b2});
  sbert::write_safetensors(dir / "model.safetensors", tensors);
  auto cfg = sbert::testing::load_json(src / "config.json");
  cfg["architectures"] = {"DistilBertForSequenceClassification"};
  cfg["id2label"] = {{"0", "NEGATIVE"}, {"1", "POSITIVE"}};
  sbert::testing::write_file(dir / "config.json", cfg.dump());
  for (const char* f : {"vocab.txt", "tokenizer_config.json", "special_tokens_map.json"})
    fs::copy_file(src / f, dir / f);

  auto model = sbert::SequenceClassifier::load(dir, opts128(4));
  EXPECT_EQ(model->labels(), (std::vector<std::string>{"NEGATIVE", "POSITIVE"}));
  EXPECT_EQ(model->info().head, "pre_classifier+relu+linear");
  std::vector<std::string> texts;
  for (size_t i = 0; i < 12; ++i) texts.push_back(g["texts"][i].get<std::string>());
  sbert::Matrix got = model->logits(texts);
  for (size_t t = 0; t < texts.size(); ++t) {
    const auto& cls = g["pooling"]["cls"][t];
    std::vector<double> hidden(H);
    for (size_t i = 0; i < H; ++i) {
      double acc = b1[i];
      for (size_t k = 0; k < H; ++k) acc += double(w1[i * H + k]) * cls[k].get<double>();
      hidden[i] = std::max(0.0, acc);
    }
    for (size_t c = 0; c < C; ++c) {
      double acc = b2[c];
      for (size_t k = 0; k < H; ++k) acc += double(w2[c * H + k]) * hidden[k];
      EXPECT_NEAR(got.at(t, c), acc, 1e-5) << "text " << t << " label " << c;
    }
  }
}

TEST(Classifier, ModelWithoutHeadIsAClearError) {
  SBERT_REQUIRE_SHARED(shared);
  for (const char* name : {"bert-wordpiece-mean-norm", "xlmr-spm-mean-norm", "distilbert-krwordpiece-dense"}) {
    try {
      sbert::SequenceClassifier::load(shared / "fixtures/models" / name, opts128());
      ADD_FAILURE() << name << ": expected an error";
    } catch (const sbert::Error& e) {
      EXPECT_NE(std::string(e.what()).find("no sequence-classification head"), std::string::npos)
          << e.what();
    }
  }
  EXPECT_THROW(sbert::SequenceClassifier::load(shared / "fixtures/models/does-not-exist"), sbert::Error);
}

TEST(Classifier, TaskErrors) {
  SBERT_REQUIRE_SHARED(shared);
  // A three-label NLI model is not a cross-encoder.
  try {
    sbert::CrossEncoder::load(shared / "fixtures/models/nli-bert", opts128());
    ADD_FAILURE() << "expected an error";
  } catch (const sbert::Error& e) {
    EXPECT_NE(std::string(e.what()).find("one output"), std::string::npos) << e.what();
  }
  // A one-label cross-encoder has no entailment label.
  auto ce = sbert::SequenceClassifier::load(shared / "fixtures/models/cross-encoder-bert", opts128());
  EXPECT_THROW(sbert::ZeroShotClassifier(*ce, {"a", "b"}), sbert::Error);
  auto nli = sbert::SequenceClassifier::load(shared / "fixtures/models/nli-bert", opts128());
  EXPECT_THROW(sbert::ZeroShotClassifier(*nli, {}), sbert::Error);
  EXPECT_THROW(sbert::ZeroShotClassifier(*nli, {"a", "a"}), sbert::Error);
  sbert::ZeroShotOptions bad_template;
  bad_template.hypothesis_template = "This example is about sports.";
  EXPECT_THROW(sbert::ZeroShotClassifier(*nli, {"a"}, bad_template), sbert::Error);
  sbert::ZeroShotOptions bad_label;
  bad_label.entailment_label = "ENTAILS";
  EXPECT_THROW(sbert::ZeroShotClassifier(*nli, {"a"}, bad_label), sbert::Error);
  sbert::ZeroShotOptions renamed;
  renamed.entailment_label = "Neutral";  // any output can be named
  EXPECT_EQ(sbert::ZeroShotClassifier(*nli, {"a"}, renamed).indices().entailment, 2u);
  // max_length beyond the position table.
  sbert::ClassifierOptions o;
  o.max_length = 4096;
  EXPECT_THROW(sbert::SequenceClassifier::load(shared / "fixtures/models/nli-bert", o), sbert::Error);
}

TEST(Classifier, TruncationOnlyFirstKeepsTheHypothesis) {
  SBERT_REQUIRE_SHARED(shared);
  sbert::ClassifierOptions o = opts128();
  o.max_length = 16;
  auto nli = sbert::SequenceClassifier::load(shared / "fixtures/models/nli-bert", o);
  std::string longp;
  for (int i = 0; i < 40; ++i) longp += "word ";
  sbert::ClassifyStats stats;
  sbert::Matrix m = nli->logits(Pairs{{longp, "This example is sports."}, {"short.", "short."}},
                                sbert::Truncation::OnlyFirst, &stats);
  EXPECT_EQ(m.rows, 2u);
  EXPECT_EQ(stats.truncated, 1u);
  EXPECT_EQ(stats.tokens, 16u + 7u);  // [CLS] short . [SEP] short . [SEP]
}

}  // namespace
