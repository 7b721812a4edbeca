// `sbert words` end to end against the KoBERT golden (per-token hidden states).
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include "test_support.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using sbert::testing::run_command;
using sbert::testing::temp_dir;
using sbert::testing::write_file;

std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

std::vector<json> run_words(const std::string& args) {
  std::string out, err;
  int rc = run_command(std::string(SBERT_BINARY) + " words " + args, &out, &err);
  EXPECT_EQ(rc, 0) << err;
  std::vector<json> rows;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) rows.push_back(json::parse(line));
  return rows;
}

double cosine(const std::vector<double>& a, const std::vector<double>& b) {
  double d = 0, na = 0, nb = 0;
  for (size_t i = 0; i < a.size(); ++i) d += a[i] * b[i], na += a[i] * a[i], nb += b[i] * b[i];
  return d / std::sqrt(na * nb);
}

struct Golden {
  std::string text;
  std::vector<std::string> pieces;
  std::vector<std::vector<double>> hidden;
  // Words by hand from the pieces (token 0 is [CLS]).
  std::vector<std::pair<size_t, size_t>> words{{1, 3},   {3, 4},   {4, 8},   {8, 10},  {10, 13}, {13, 15},
                                               {15, 18}, {18, 20}, {20, 23}, {23, 25}, {25, 28}};
  std::vector<double> mean(size_t w) const {
    std::vector<double> m(hidden[0].size(), 0.0);
    for (size_t t = words[w].first; t < words[w].second; ++t)
      for (size_t d = 0; d < m.size(); ++d) m[d] += hidden[t][d];
    for (double& x : m) x /= double(words[w].second - words[w].first);
    return m;
  }
};

Golden load_golden(const fs::path& shared) {
  auto g = sbert::testing::load_json(shared / "fixtures/golden/bert-kobert-spm.json")["word_vectors"];
  Golden out;
  out.text = g["text"];
  out.pieces = g["pieces"].get<std::vector<std::string>>();
  out.hidden = g["last_hidden_state"].get<std::vector<std::vector<double>>>();
  return out;
}

TEST(WordsCli, KoBertWordVectorsMatchGolden) {
  SBERT_REQUIRE_SHARED(shared);
  Golden g = load_golden(shared);
  auto dir = temp_dir("wordscli");
  write_file(dir / "s.txt", g.text + "\n");
  auto rows = run_words(q(dir / "s.txt") + " -m " + q(shared / "fixtures/models/bert-kobert-spm"));
  ASSERT_EQ(rows.size(), 1u);
  const json& words = rows[0]["words"];
  ASSERT_EQ(words.size(), g.words.size());
  std::vector<std::string> pieces;
  for (size_t w = 0; w < words.size(); ++w) {
    for (auto& t : words[w]["tokens"]) pieces.push_back(t);
    auto v = words[w]["vector"].get<std::vector<double>>();
    auto m = g.mean(w);
    ASSERT_EQ(v.size(), m.size());
    for (size_t d = 0; d < v.size(); ++d) EXPECT_NEAR(v[d], m[d], 1e-5) << "word " << w << " dim " << d;
  }
  EXPECT_EQ(pieces, g.pieces);
  EXPECT_EQ(words[2]["word"], "가다가");
  EXPECT_EQ(words[2]["start"], 6);
  EXPECT_EQ(words[2]["end"], 9);
}

TEST(WordsCli, SameWordCosinesForKoreanHomonyms) {
  SBERT_REQUIRE_SHARED(shared);
  Golden g = load_golden(shared);
  auto dir = temp_dir("wordscli");
  write_file(dir / "s.txt", g.text + "\n");
  auto rows = run_words(q(dir / "s.txt") + " -m " + q(shared / "fixtures/models/bert-kobert-spm") +
                        " --same-word --word 배 --word 눈");
  ASSERT_EQ(rows.size(), 1u);
  const json& pairs = rows[0]["pairs"];
  ASSERT_EQ(pairs.size(), 4u);  // 배를/배가/배를: 3 pairs; 눈이/눈을: 1
  for (const json& p : pairs) {
    size_t a = p["a"], b = p["b"];
    EXPECT_NEAR(p["cosine"].get<double>(), cosine(g.mean(a), g.mean(b)), 1e-5) << p.dump();
  }
  EXPECT_EQ(pairs[3]["a_text"], "눈이");
  EXPECT_EQ(pairs[3]["b_text"], "눈을");
}

TEST(WordsCli, EnglishBankAndMatrix) {
  SBERT_REQUIRE_SHARED(shared);
  auto dir = temp_dir("wordscli");
  const std::string text = "We sat on the bank of the river, then walked to the Bank to deposit money.";
  write_file(dir / "s.txt", text + "\n");
  const std::string model = " -m " + q(shared / "fixtures/models/bert-wordpiece-mean-norm");
  auto rows = run_words(q(dir / "s.txt") + model + " --same-word");
  ASSERT_EQ(rows.size(), 1u);
  bool bank = false;
  for (const json& p : rows[0]["pairs"]) {
    if (p["word"] != "bank") continue;
    bank = true;
    EXPECT_EQ(p["a_span"][0], text.find("bank"));
    EXPECT_EQ(p["b_span"][0], text.find("Bank"));
    EXPECT_LT(p["cosine"].get<double>(), 1.0);
  }
  EXPECT_TRUE(bank);
  auto m = run_words(q(dir / "s.txt") + model + " --matrix");
  ASSERT_EQ(m.size(), 1u);
  const size_t n = m[0]["words"].size();
  ASSERT_EQ(m[0]["matrix"].size(), n);
  for (size_t i = 0; i < n; ++i) EXPECT_NEAR(m[0]["matrix"][i][i].get<double>(), 1.0, 1e-5);
  // Another layer gives other vectors for the same words.
  auto l0 = run_words(q(dir / "s.txt") + model + " --layer 0");
  auto last = run_words(q(dir / "s.txt") + model);
  ASSERT_EQ(l0[0]["words"].size(), last[0]["words"].size());
  EXPECT_NE(l0[0]["words"][1]["vector"], last[0]["words"][1]["vector"]);
}

}  // namespace
