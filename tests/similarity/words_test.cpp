#include <gtest/gtest.h>

#include <cmath>

#include "sbert/error.h"
#include "sbert/words.h"
#include "test_support.h"

namespace sbert {
namespace {

const std::string kMarker = "\xE2\x96\x81";

// Builds an Encoding from pieces the way a tokenizer would: [CLS] pieces [SEP], byte offsets
// found by walking the text (a bare marker gets an empty span).
Encoding encode_pieces(const std::string& text, const std::vector<std::string>& pieces) {
  Encoding e;
  auto add = [&](const std::string& tok, size_t b, size_t en, bool special) {
    e.ids.push_back(static_cast<int64_t>(e.ids.size()));
    e.tokens.push_back(tok);
    e.offsets.push_back({b, en});
    e.special_mask.push_back(special);
  };
  add("[CLS]", 0, 0, true);
  // Uncased WordPiece pieces are lower case: search in a lower-cased copy (ASCII only).
  std::string lower = text;
  for (char& c : lower)
    if (static_cast<unsigned char>(c) < 0x80) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  size_t pos = 0;
  for (const std::string& p : pieces) {
    std::string surface = p;
    if (surface.rfind(kMarker, 0) == 0) surface = surface.substr(kMarker.size());
    if (surface.rfind("##", 0) == 0) surface = surface.substr(2);
    while (pos < text.size() && text[pos] == ' ') ++pos;
    if (surface.empty()) {
      add(p, pos, pos, false);
      continue;
    }
    size_t at = lower.find(surface, pos);
    EXPECT_EQ(at, pos) << p;
    add(p, at, at + surface.size(), false);
    pos = at + surface.size();
  }
  add("[SEP]", 0, 0, true);
  return e;
}

TEST(Words, WordPieceContinuationsAndPunctuation) {
  const std::string text = "The bank of the river, unbelievable";
  Encoding e = encode_pieces(text, {"the", "bank", "of", "the", "river", ",", "un", "##believ", "##able"});
  auto words = group_words(text, e);
  ASSERT_EQ(words.size(), 7u);
  EXPECT_EQ(words[0].text, "The");
  EXPECT_EQ(words[5].text, ",");
  EXPECT_EQ(words[6].text, "unbelievable");
  EXPECT_EQ(words[6].token_begin, 7u);
  EXPECT_EQ(words[6].token_end, 10u);
  EXPECT_EQ(words[6].char_begin, 23u);
  EXPECT_EQ(words[6].char_end, 35u);
  Matrix tokens(11, 2);
  for (size_t t = 0; t < 11; ++t) tokens.at(t, 0) = float(t), tokens.at(t, 1) = 1.0f;
  Matrix v = word_vectors(words, tokens);
  EXPECT_FLOAT_EQ(v.at(6, 0), (7 + 8 + 9) / 3.0f);
  auto pairs = same_word_pairs(words, v);
  ASSERT_EQ(pairs.size(), 1u);  // The / the
  EXPECT_EQ(pairs[0].a, 0u);
  EXPECT_EQ(pairs[0].b, 3u);
  EXPECT_EQ(pairs[0].key, "the");
}

TEST(Words, KoBertGoldenHiddenStatesGroupIntoWords) {
  SBERT_REQUIRE_SHARED(shared);
  auto g = testing::load_json(shared / "fixtures/golden/bert-kobert-spm.json")["word_vectors"];
  const std::string text = g["text"];
  std::vector<std::string> pieces = g["pieces"];
  Encoding e = encode_pieces(text, pieces);
  Matrix hidden(g["last_hidden_state"].size(), g["last_hidden_state"][0].size());
  for (size_t t = 0; t < hidden.rows; ++t)
    for (size_t d = 0; d < hidden.cols; ++d) hidden.at(t, d) = g["last_hidden_state"][t][d].get<float>();
  ASSERT_EQ(hidden.rows, e.size());

  auto words = group_words(text, e);
  // By hand from the pieces: ▁배 를 | ▁타고 | ▁ 가 다 가 | ▁배 가 | ▁고 파 서 | ▁배 를 | ▁먹 었다 . |
  // ▁눈 이 | ▁ 와 서 | ▁눈 을 | ▁감 았다 .   (token 0 is [CLS])
  const std::vector<std::string> expected_text{"배를", "타고", "가다가", "배가", "고파서", "배를",
                                               "먹었다.", "눈이", "와서", "눈을", "감았다."};
  const std::vector<std::pair<size_t, size_t>> expected_tokens{
      {1, 3}, {3, 4}, {4, 8}, {8, 10}, {10, 13}, {13, 15}, {15, 18}, {18, 20}, {20, 23}, {23, 25}, {25, 28}};
  ASSERT_EQ(words.size(), expected_text.size());
  for (size_t w = 0; w < words.size(); ++w) {
    EXPECT_EQ(words[w].text, expected_text[w]) << w;
    EXPECT_EQ(words[w].token_begin, expected_tokens[w].first) << w;
    EXPECT_EQ(words[w].token_end, expected_tokens[w].second) << w;
    EXPECT_EQ(text.substr(words[w].byte_begin, words[w].byte_end - words[w].byte_begin), words[w].text);
  }
  EXPECT_EQ(words[2].char_begin, 6u);  // "배를 타고 " is 6 characters
  EXPECT_EQ(words[2].char_end, 9u);

  Matrix v = word_vectors(words, hidden);
  for (size_t w = 0; w < words.size(); ++w)
    for (size_t d = 0; d < hidden.cols; ++d) {
      double mean = 0;
      for (size_t t = expected_tokens[w].first; t < expected_tokens[w].second; ++t) mean += hidden.at(t, d);
      mean /= double(expected_tokens[w].second - expected_tokens[w].first);
      ASSERT_NEAR(v.at(w, d), mean, 1e-6);
    }

  auto same = same_word_pairs(words, v);
  ASSERT_EQ(same.size(), 1u);  // 배를 ... 배를
  EXPECT_EQ(same[0].a, 0u);
  EXPECT_EQ(same[0].b, 5u);

  auto targeted = same_word_pairs(words, v, {"배", "눈"});
  ASSERT_EQ(targeted.size(), 4u);  // 배: (0,3) (0,5) (3,5); 눈: (7,9)
  EXPECT_EQ(targeted[3].key, "눈");
  EXPECT_EQ(targeted[3].a, 7u);
  EXPECT_EQ(targeted[3].b, 9u);
  double dot = 0, na = 0, nb = 0;
  for (size_t d = 0; d < v.cols; ++d)
    dot += double(v.at(7, d)) * v.at(9, d), na += double(v.at(7, d)) * v.at(7, d), nb += double(v.at(9, d)) * v.at(9, d);
  EXPECT_NEAR(targeted[3].cosine, dot / std::sqrt(na * nb), 1e-6);
}

TEST(Words, KeyTrimsPunctuationAndCase) {
  EXPECT_EQ(word_key("Bank,"), "bank");
  EXPECT_EQ(word_key("\"Hello!\""), "hello");
  EXPECT_EQ(word_key("..."), "...");
  EXPECT_EQ(word_key("먹었다."), "먹었다");
}

}  // namespace
}  // namespace sbert
