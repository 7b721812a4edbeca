#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>

#include "sbert/error.h"
#include "sbert/similarity.h"
#include "test_support.h"

namespace sbert {
namespace {

Matrix make(size_t rows, size_t cols, std::vector<float> values) {
  Matrix m(rows, cols);
  m.data = std::move(values);
  return m;
}

Matrix random_matrix(size_t rows, size_t cols, unsigned seed, int levels = 0) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_int_distribution<int> level(-levels, levels);
  Matrix m(rows, cols);
  // With `levels`, values are small integers so that many scores tie exactly.
  for (float& v : m.data) v = levels ? static_cast<float>(level(rng)) : normal(rng);
  return m;
}

// Independent double-precision reference for one score.
double reference(const float* a, const float* b, size_t dim, SimilarityFunction f) {
  double dot = 0, na = 0, nb = 0, l2 = 0, l1 = 0;
  for (size_t d = 0; d < dim; ++d) {
    dot += double(a[d]) * b[d];
    na += double(a[d]) * a[d];
    nb += double(b[d]) * b[d];
    l2 += (double(a[d]) - b[d]) * (double(a[d]) - b[d]);
    l1 += std::fabs(double(a[d]) - b[d]);
  }
  switch (f) {
    case SimilarityFunction::Cosine: return dot / std::sqrt(na) / std::sqrt(nb);
    case SimilarityFunction::Dot: return dot;
    case SimilarityFunction::Euclidean: return -std::sqrt(l2);
    case SimilarityFunction::Manhattan: return -l1;
  }
  return 0;
}

const SimilarityFunction kAll[] = {SimilarityFunction::Cosine, SimilarityFunction::Dot,
                                   SimilarityFunction::Euclidean, SimilarityFunction::Manhattan};

TEST(SimilarityFunctions, ParsesNames) {
  EXPECT_EQ(parse_similarity_function("cosine"), SimilarityFunction::Cosine);
  EXPECT_EQ(parse_similarity_function("dot"), SimilarityFunction::Dot);
  EXPECT_EQ(parse_similarity_function("dot_product"), SimilarityFunction::Dot);
  EXPECT_EQ(parse_similarity_function("Euclidean"), SimilarityFunction::Euclidean);
  EXPECT_EQ(parse_similarity_function("manhattan"), SimilarityFunction::Manhattan);
  EXPECT_THROW(parse_similarity_function("jaccard"), Error);
  for (auto f : kAll) EXPECT_EQ(parse_similarity_function(similarity_function_name(f)), f);
}

TEST(SimilarityFunctions, HandComputedPair) {
  // a = (1, 2, 2), |a| = 3; b = (2, 0, 1), |b| = sqrt(5); a.b = 4; a-b = (-1, 2, 1).
  const float a[] = {1, 2, 2}, b[] = {2, 0, 1};
  EXPECT_NEAR(similarity(a, b, 3, SimilarityFunction::Cosine), 4.0 / (3.0 * std::sqrt(5.0)), 1e-7);
  EXPECT_FLOAT_EQ(similarity(a, b, 3, SimilarityFunction::Dot), 4.0f);
  EXPECT_NEAR(similarity(a, b, 3, SimilarityFunction::Euclidean), -std::sqrt(6.0), 1e-6);
  EXPECT_FLOAT_EQ(similarity(a, b, 3, SimilarityFunction::Manhattan), -4.0f);
  // A zero vector scores 0 under cosine (torch normalize clamps the norm), not NaN.
  const float z[] = {0, 0, 0};
  EXPECT_EQ(similarity(a, z, 3, SimilarityFunction::Cosine), 0.0f);
}

TEST(SimilarityFunctions, MatrixMatchesReferenceForEveryBlockSize) {
  Matrix a = random_matrix(37, 19, 1), b = random_matrix(23, 19, 2);
  for (auto f : kAll) {
    for (size_t block : {size_t(1), size_t(5), size_t(36), size_t(37), size_t(100), size_t(0)}) {
      std::vector<bool> seen(a.rows, false);
      size_t expected_first = 0;
      similarity_blocks(a, b, f, [&](size_t first, const Matrix& m) {
        EXPECT_EQ(first, expected_first);
        EXPECT_EQ(m.cols, b.rows);
        if (block) EXPECT_LE(m.rows, block);
        for (size_t i = 0; i < m.rows; ++i) {
          seen[first + i] = true;
          for (size_t j = 0; j < b.rows; ++j)
            ASSERT_NEAR(m.at(i, j), reference(a.row(first + i), b.row(j), a.cols, f), 2e-5)
                << similarity_function_name(f) << " " << first + i << "," << j;
        }
        expected_first += m.rows;
      }, block);
      EXPECT_EQ(expected_first, a.rows);
      EXPECT_TRUE(std::all_of(seen.begin(), seen.end(), [](bool s) { return s; }));
    }
  }
}

TEST(SimilarityFunctions, SelfDistancesAreExactlyZero) {
  Matrix a = random_matrix(6, 8, 3);
  for (auto f : {SimilarityFunction::Euclidean, SimilarityFunction::Manhattan}) {
    Matrix m = similarity_matrix(a, a, f);
    for (size_t i = 0; i < a.rows; ++i) EXPECT_EQ(m.at(i, i), 0.0f);
    for (size_t i = 0; i < a.rows; ++i)
      for (size_t j = 0; j < a.rows; ++j)
        if (i != j) EXPECT_LT(m.at(i, j), 0.0f);
  }
}

TEST(SimilarityFunctions, PairwiseUsesMatchingRows) {
  Matrix a = make(2, 2, {1, 0, 0, 1}), b = make(2, 2, {1, 0, 1, 1});
  auto s = pairwise_similarity(a, b, SimilarityFunction::Cosine);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_FLOAT_EQ(s[0], 1.0f);
  EXPECT_NEAR(s[1], 1.0 / std::sqrt(2.0), 1e-7);
  EXPECT_THROW(pairwise_similarity(a, make(1, 2, {1, 1}), SimilarityFunction::Dot), Error);
}

TEST(SimilarityFunctions, MismatchedDimensionsAreAnError) {
  Matrix a = random_matrix(3, 4, 1), b = random_matrix(3, 5, 2);
  try {
    similarity_matrix(a, b, SimilarityFunction::Cosine);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("4"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("5"), std::string::npos) << e.what();
  }
  EXPECT_THROW(top_k(a, b, SimilarityFunction::Dot, TopKOptions{}), Error);
  EXPECT_THROW(pairwise_similarity(a, b, SimilarityFunction::Dot), Error);
}

// Brute force: score everything in double, sort by (score desc, index asc), take k.
std::vector<std::vector<Match>> brute_top_k(const Matrix& q, const Matrix& c, SimilarityFunction f,
                                            size_t k, bool exclude_self) {
  std::vector<std::vector<Match>> out(q.rows);
  for (size_t i = 0; i < q.rows; ++i) {
    std::vector<std::pair<double, size_t>> all;
    for (size_t j = 0; j < c.rows; ++j)
      if (!(exclude_self && i == j)) all.push_back({reference(q.row(i), c.row(j), q.cols, f), j});
    std::sort(all.begin(), all.end(), [](auto& x, auto& y) {
      return x.first != y.first ? x.first > y.first : x.second < y.second;
    });
    for (size_t r = 0; r < std::min(k, all.size()); ++r)
      out[i].push_back({all[r].second, static_cast<float>(all[r].first)});
  }
  return out;
}

TEST(TopK, EqualsBruteForceWithTiesGoingToLowerIndex) {
  // Integer-valued vectors: dot products are exact in float and ties are everywhere.
  Matrix q = random_matrix(41, 6, 7, 2), c = random_matrix(97, 6, 8, 2);
  for (auto f : {SimilarityFunction::Dot, SimilarityFunction::Manhattan}) {
    auto expected = brute_top_k(q, c, f, 7, false);
    for (size_t qb : {1, 8, 64}) {
      for (size_t cb : {1, 10, 97, 1000}) {
        TopKOptions o;
        o.k = 7;
        o.query_block = qb;
        o.corpus_block = cb;
        auto got = top_k(q, c, f, o);
        ASSERT_EQ(got.size(), q.rows);
        for (size_t i = 0; i < q.rows; ++i) {
          ASSERT_EQ(got[i].size(), 7u);
          for (size_t r = 0; r < 7; ++r) {
            EXPECT_EQ(got[i][r].index, expected[i][r].index) << "query " << i << " rank " << r;
            EXPECT_EQ(got[i][r].score, expected[i][r].score);
          }
        }
      }
    }
  }
}

TEST(TopK, ExcludesSelfAndMatchesBruteForceOnRealValuedVectors) {
  Matrix a = random_matrix(150, 16, 11);
  for (auto f : kAll) {
    auto expected = brute_top_k(a, a, f, 5, true);
    TopKOptions o;
    o.k = 5;
    o.exclude_self = true;
    o.query_block = 16;
    o.corpus_block = 33;
    size_t calls = 0;
    top_k(a, a, f, o, [&](size_t qi, const std::vector<Match>& m) {
      EXPECT_EQ(qi, calls++);
      ASSERT_EQ(m.size(), 5u);
      for (size_t r = 0; r < 5; ++r) {
        EXPECT_NE(m[r].index, qi);
        EXPECT_EQ(m[r].index, expected[qi][r].index) << similarity_function_name(f);
        EXPECT_NEAR(m[r].score, expected[qi][r].score, 2e-5);
      }
    });
    EXPECT_EQ(calls, a.rows);
  }
}

TEST(TopK, ScoresAreIdenticalAcrossModesAndDuplicatesTie) {
  // Real-valued vectors with exact duplicate rows: every mode must report the very same float
  // for a pair, and duplicates must tie exactly (lower index first).
  Matrix a = random_matrix(300, 40, 17);
  for (size_t i = 0; i + 5 < a.rows; i += 9)
    std::copy(a.row(i), a.row(i) + a.cols, a.row(i + 5));
  for (auto f : kAll) {
    Matrix full = similarity_matrix(a, a, f);
    TopKOptions o;
    o.k = 12;
    o.query_block = 7;
    o.corpus_block = 50;
    auto tops = top_k(a, a, f, o);
    for (size_t q = 0; q < a.rows; ++q) {
      for (size_t r = 0; r < tops[q].size(); ++r) {
        const Match& m = tops[q][r];
        ASSERT_EQ(m.score, full.at(q, m.index)) << similarity_function_name(f);
        ASSERT_EQ(m.score, similarity(a.row(q), a.row(m.index), a.cols, f));
        if (r) ASSERT_TRUE(match_before(tops[q][r - 1], m));
      }
      // Brute force over the matrix: same ranking, ties to the lower index.
      std::vector<Match> all;
      for (size_t j = 0; j < a.rows; ++j) all.push_back({j, full.at(q, j)});
      std::sort(all.begin(), all.end(), match_before);
      for (size_t r = 0; r < 12; ++r) ASSERT_EQ(tops[q][r].index, all[r].index) << q << " " << r;
    }
    for (size_t i = 0; i + 5 < a.rows; i += 9)
      for (size_t q = 0; q < a.rows; ++q) ASSERT_EQ(full.at(q, i), full.at(q, i + 5));
    // Symmetric functions give the same float both ways.
    for (size_t i = 0; i < a.rows; i += 13)
      for (size_t j = 0; j < a.rows; j += 11) ASSERT_EQ(full.at(i, j), full.at(j, i));
  }
}

TEST(TopK, KLargerThanCorpusReturnsEverything) {
  Matrix q = random_matrix(2, 3, 1), c = random_matrix(4, 3, 2);
  TopKOptions o;
  o.k = 1000000000;  // must not reserve k entries
  auto got = top_k(q, c, SimilarityFunction::Cosine, o);
  ASSERT_EQ(got[0].size(), 4u);
  for (size_t r = 1; r < 4; ++r) EXPECT_GE(got[0][r - 1].score, got[0][r].score);
}

// Independent reference for paraphrase mining: each row's top-k partners (brute force), the
// union as unordered pairs, thresholded, sorted by score desc then (i, j), cut to max_pairs.
std::vector<ParaphrasePair> brute_mining(const Matrix& e, SimilarityFunction f, size_t k,
                                         size_t max_pairs, std::optional<float> threshold) {
  auto tops = brute_top_k(e, e, f, k, true);
  std::set<std::pair<size_t, size_t>> seen;
  std::vector<ParaphrasePair> out;
  for (size_t i = 0; i < e.rows; ++i)
    for (const Match& m : tops[i]) {
      size_t a = std::min(i, m.index), b = std::max(i, m.index);
      if (!seen.insert({a, b}).second) continue;
      double s = reference(e.row(a), e.row(b), e.cols, f);
      if (threshold && !(s >= *threshold)) continue;
      out.push_back({static_cast<float>(s), a, b});
    }
  std::sort(out.begin(), out.end(), [](auto& x, auto& y) {
    if (x.score != y.score) return x.score > y.score;
    return x.i != y.i ? x.i < y.i : x.j < y.j;
  });
  if (out.size() > max_pairs) out.resize(max_pairs);
  return out;
}

TEST(ParaphraseMining, EqualsBruteForceWithTopKMaxPairsAndThreshold) {
  Matrix e = random_matrix(120, 6, 21, 3);  // integer vectors: exact, tie-heavy dot products
  struct Case { size_t k, max_pairs; std::optional<float> threshold; };
  for (const Case& c : {Case{3, 1000000, std::nullopt}, Case{3, 17, std::nullopt},
                        Case{10, 50, 4.0f}, Case{200, 1000000, 10.0f}}) {
    MiningOptions o;
    o.top_k = c.k;
    o.max_pairs = c.max_pairs;
    o.threshold = c.threshold;
    o.query_block = 7;
    o.corpus_block = 19;
    auto got = paraphrase_mining(e, SimilarityFunction::Dot, o);
    auto expected = brute_mining(e, SimilarityFunction::Dot, c.k, c.max_pairs, c.threshold);
    ASSERT_EQ(got.size(), expected.size()) << "k=" << c.k << " max_pairs=" << c.max_pairs;
    for (size_t r = 0; r < got.size(); ++r) {
      EXPECT_EQ(got[r].i, expected[r].i) << r;
      EXPECT_EQ(got[r].j, expected[r].j) << r;
      EXPECT_EQ(got[r].score, expected[r].score) << r;
      EXPECT_LT(got[r].i, got[r].j);
    }
  }
}

TEST(ParaphraseMining, AllPairsWhenTopKCoversEverything) {
  // With top_k >= N every unordered pair appears exactly once, best first.
  Matrix e = random_matrix(30, 8, 5);
  MiningOptions o;
  o.top_k = 100;
  auto got = paraphrase_mining(e, SimilarityFunction::Cosine, o);
  ASSERT_EQ(got.size(), 30u * 29u / 2u);
  std::set<std::pair<size_t, size_t>> seen;
  for (size_t r = 0; r < got.size(); ++r) {
    EXPECT_TRUE(seen.insert({got[r].i, got[r].j}).second);
    EXPECT_NEAR(got[r].score, reference(e.row(got[r].i), e.row(got[r].j), 8, SimilarityFunction::Cosine), 1e-5);
    if (r) EXPECT_GE(got[r - 1].score, got[r].score);
  }
}

TEST(ParaphraseMining, FindsPlantedDuplicates) {
  Matrix e = random_matrix(200, 12, 9);
  // Rows 150..154 are near copies of rows 3, 40, 77, 99, 120.
  const size_t src[] = {3, 40, 77, 99, 120};
  for (size_t t = 0; t < 5; ++t)
    for (size_t d = 0; d < 12; ++d) e.at(150 + t, d) = e.at(src[t], d) + 0.001f * float(d);
  MiningOptions o;
  o.top_k = 5;
  o.threshold = 0.99f;
  auto got = paraphrase_mining(e, SimilarityFunction::Cosine, o);
  ASSERT_EQ(got.size(), 5u);
  std::set<std::pair<size_t, size_t>> found;
  for (auto& p : got) found.insert({p.i, p.j});
  for (size_t t = 0; t < 5; ++t) EXPECT_TRUE(found.count({src[t], 150 + t}));
}

}  // namespace
}  // namespace sbert
