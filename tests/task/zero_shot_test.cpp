// Zero-shot label logic against the NLI goldens' logits (transformers pipeline numbers), and the
// input errors: labels, templates, entailment label lookup.
#include <cmath>
#include <map>

#include "sbert/error.h"
#include "sbert/zero_shot.h"
#include "test_support.h"

namespace {

using sbert::Matrix;
using sbert::NliLabelIndices;

std::vector<std::string> id2label_of(const nlohmann::json& g) {
  std::vector<std::string> labels(g["id2label"].size());
  for (auto& [k, v] : g["id2label"].items()) labels.at(std::stoul(k)) = v.get<std::string>();
  return labels;
}

Matrix pair_logits_of(const nlohmann::json& g) {
  const auto& pl = g["pair_logits_per_label"];
  const size_t T = pl.size(), N = pl[0].size(), C = pl[0][0].size();
  Matrix m(T * N, C);
  for (size_t t = 0; t < T; ++t)
    for (size_t j = 0; j < N; ++j)
      for (size_t c = 0; c < C; ++c) m.at(t * N + j, c) = pl[t][j][c].get<float>();
  return m;
}

void check_golden(const std::string& name, size_t want_entail, size_t want_contra) {
  SBERT_REQUIRE_SHARED(shared);
  auto g = sbert::testing::load_json(shared / "fixtures/golden" / (name + ".json"));
  auto id2label = id2label_of(g);
  NliLabelIndices idx = sbert::find_nli_labels(id2label);
  EXPECT_EQ(idx.entailment, want_entail);
  ASSERT_TRUE(idx.contradiction.has_value());
  EXPECT_EQ(*idx.contradiction, want_contra);

  std::vector<std::string> labels;
  for (auto& l : g["labels"]) labels.push_back(l.get<std::string>());
  Matrix logits = pair_logits_of(g);
  for (bool multi : {false, true}) {
    Matrix s = sbert::zero_shot_scores(logits, labels.size(), idx, multi);
    const auto& want = g[multi ? "multi_label_scores" : "single_label_scores"];
    ASSERT_EQ(s.rows, want.size());
    ASSERT_EQ(s.cols, labels.size());
    double worst = 0;
    for (size_t t = 0; t < s.rows; ++t)
      for (size_t j = 0; j < s.cols; ++j)
        worst = std::max(worst, std::fabs(double(s.at(t, j)) - want[t][j].get<double>()));
    EXPECT_LE(worst, 1e-5) << name << (multi ? " multi" : " single");

    // The pipeline's label -> score maps, in its order (highest first).
    const auto& hf = g[multi ? "hf_pipeline_multi" : "hf_pipeline_single"];
    for (size_t t = 0; t < hf.size(); ++t) {
      std::vector<size_t> order = sbert::rank_scores(s.row(t), s.cols);
      std::vector<std::pair<std::string, double>> want_sorted;
      for (auto& [k, v] : hf[t].items()) want_sorted.push_back({k, v.get<double>()});
      std::sort(want_sorted.begin(), want_sorted.end(),
                [](auto& a, auto& b) { return a.second > b.second; });
      ASSERT_EQ(order.size(), want_sorted.size());
      for (size_t r = 0; r < order.size(); ++r) {
        EXPECT_EQ(labels[order[r]], want_sorted[r].first) << name << " text " << t << " rank " << r;
        EXPECT_NEAR(s.at(t, order[r]), want_sorted[r].second, 1e-5);
      }
    }
  }
}

TEST(ZeroShot, NliBertGolden) { check_golden("nli-bert", 1, 0); }
// ENTAILMENT at 0, Contradiction at 2: case-insensitive and order-independent lookup.
TEST(ZeroShot, NliXlmrGolden) { check_golden("nli-xlmr", 0, 2); }

TEST(ZeroShot, SingleLabelSumsToOneMultiLabelIndependent) {
  Matrix logits(3, 3);  // one text, three candidates; outputs: contradiction, entailment, neutral
  float v[9] = {0, 1, 0, 2, 0, 5, 0, 3, -1};
  std::copy(v, v + 9, logits.data.begin());
  NliLabelIndices idx{1, 0};
  Matrix s = sbert::zero_shot_scores(logits, 3, idx, false);
  // Independent computation: softmax over entailment logits {1, 0, 3}.
  double z = std::exp(1.0) + std::exp(0.0) + std::exp(3.0);
  EXPECT_NEAR(s.at(0, 0), std::exp(1.0) / z, 1e-7);
  EXPECT_NEAR(s.at(0, 2), std::exp(3.0) / z, 1e-7);
  Matrix m = sbert::zero_shot_scores(logits, 3, idx, true);
  EXPECT_NEAR(m.at(0, 0), 1 / (1 + std::exp(0.0 - 1.0)), 1e-7);
  EXPECT_NEAR(m.at(0, 1), 1 / (1 + std::exp(2.0 - 0.0)), 1e-7);
  // One candidate: the pipeline scores it the multi-label way (not a trivial 1.0).
  Matrix single(1, 3);
  std::copy(v, v + 3, single.data.begin());
  Matrix s1 = sbert::zero_shot_scores(single, 1, idx, false);
  EXPECT_NEAR(s1.at(0, 0), 1 / (1 + std::exp(-1.0)), 1e-7);
}

TEST(ZeroShot, LabelLookup) {
  EXPECT_EQ(sbert::find_nli_labels({"Contradiction", "Entailment", "Neutral"}).entailment, 1u);
  EXPECT_EQ(sbert::find_nli_labels({"neutral", "contradiction", "ENTAILMENT"}).entailment, 2u);
  EXPECT_EQ(*sbert::find_nli_labels({"neutral", "contradiction", "ENTAILMENT"}).contradiction, 1u);
  // Two-label RTE-style model: the other output is the contradiction.
  auto two = sbert::find_nli_labels({"entailment", "not_entailment"});
  EXPECT_EQ(two.entailment, 0u);
  EXPECT_EQ(*two.contradiction, 1u);
  // Override by name, case-insensitive.
  auto o = sbert::find_nli_labels({"LABEL_0", "LABEL_1", "LABEL_2"}, "label_2", "LABEL_0");
  EXPECT_EQ(o.entailment, 2u);
  EXPECT_EQ(*o.contradiction, 0u);
  // No contradiction among three labels: single-label works, multi-label is an error.
  auto nc = sbert::find_nli_labels({"entailment", "neutral", "other"});
  EXPECT_FALSE(nc.contradiction.has_value());
  Matrix l(2, 3);
  EXPECT_NO_THROW(sbert::zero_shot_scores(l, 2, nc, false));
  EXPECT_THROW(sbert::zero_shot_scores(l, 2, nc, true), sbert::Error);
}

TEST(ZeroShot, LabelLookupErrors) {
  try {
    sbert::find_nli_labels({"LABEL_0", "LABEL_1", "LABEL_2"});
    FAIL() << "expected an error";
  } catch (const sbert::Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("no entailment label"), std::string::npos) << m;
    EXPECT_NE(m.find("LABEL_1"), std::string::npos) << m;
  }
  try {
    sbert::find_nli_labels({"contradiction", "entailment", "neutral"}, "entails");
    FAIL() << "expected an error";
  } catch (const sbert::Error& e) {
    EXPECT_NE(std::string(e.what()).find("'entails' is not one of the model's labels"),
              std::string::npos) << e.what();
  }
  EXPECT_THROW(sbert::find_nli_labels({"contradiction", "entailment"}, "", "nope"), sbert::Error);
  EXPECT_THROW(sbert::find_nli_labels({"contradiction", "entailment"}, "entailment", "ENTAILMENT"),
               sbert::Error);
  EXPECT_THROW(sbert::find_nli_labels({}), sbert::Error);
}

TEST(ZeroShot, CandidateLabels) {
  EXPECT_EQ(sbert::parse_candidate_labels(" sports, politics ,weather"),
            (std::vector<std::string>{"sports", "politics", "weather"}));
  EXPECT_EQ(sbert::parse_candidate_labels("스포츠,정치"), (std::vector<std::string>{"스포츠", "정치"}));
  EXPECT_THROW(sbert::parse_candidate_labels(""), sbert::Error);
  EXPECT_THROW(sbert::parse_candidate_labels("  "), sbert::Error);
  EXPECT_THROW(sbert::parse_candidate_labels("a,,b"), sbert::Error);
  EXPECT_THROW(sbert::parse_candidate_labels("a,b,"), sbert::Error);
  try {
    sbert::parse_candidate_labels("sports,politics,sports");
    FAIL() << "expected an error";
  } catch (const sbert::Error& e) {
    EXPECT_NE(std::string(e.what()).find("'sports' is given more than once"), std::string::npos);
  }
  EXPECT_THROW(sbert::validate_candidate_labels({}), sbert::Error);
  EXPECT_THROW(sbert::validate_candidate_labels({"a", "a"}), sbert::Error);
}

TEST(ZeroShot, HypothesisTemplate) {
  EXPECT_EQ(sbert::format_hypothesis("This example is {}.", "sports"), "This example is sports.");
  EXPECT_EQ(sbert::format_hypothesis("이 문장은 {}에 관한 것이다.", "날씨"), "이 문장은 날씨에 관한 것이다.");
  EXPECT_EQ(sbert::format_hypothesis("{0} / {}", "x"), "x / x");
  EXPECT_EQ(sbert::format_hypothesis("{{literal}} {}", "x"), "{literal} x");
  EXPECT_THROW(sbert::validate_hypothesis_template("This example is about sports."), sbert::Error);
  EXPECT_THROW(sbert::validate_hypothesis_template("{{}}"), sbert::Error);
  EXPECT_THROW(sbert::validate_hypothesis_template("This is {label}."), sbert::Error);
  EXPECT_THROW(sbert::validate_hypothesis_template("This is {"), sbert::Error);
  EXPECT_THROW(sbert::validate_hypothesis_template("This is } {}"), sbert::Error);
  try {
    sbert::validate_hypothesis_template("no placeholder");
    FAIL();
  } catch (const sbert::Error& e) {
    EXPECT_NE(std::string(e.what()).find("no {} placeholder"), std::string::npos);
  }
}

TEST(ZeroShot, RankScores) {
  float s[5] = {0.1f, 0.7f, 0.7f, NAN, 0.3f};
  EXPECT_EQ(sbert::rank_scores(s, 5), (std::vector<size_t>{1, 2, 4, 0, 3}));
}

}  // namespace
