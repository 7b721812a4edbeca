#include <gtest/gtest.h>

#include <cmath>

#include "sbert/error.h"
#include "sbert/stats.h"

namespace sbert {
namespace {

TEST(Stats, PearsonHandExample) {
  // x = 1..5, y = 2 4 5 4 5: means 3 and 4; sxy = 6, sxx = 10, syy = 6 -> r = 6 / sqrt(60).
  EXPECT_NEAR(pearson({1, 2, 3, 4, 5}, {2, 4, 5, 4, 5}), 6.0 / std::sqrt(60.0), 1e-12);
  EXPECT_NEAR(pearson({1, 2, 3}, {3, 2, 1}), -1.0, 1e-12);
  EXPECT_TRUE(std::isnan(pearson({1, 1, 1}, {1, 2, 3})));
  EXPECT_THROW(pearson({1, 2}, {1, 2, 3}), Error);
  EXPECT_THROW(pearson({1}, {1}), Error);
}

TEST(Stats, AverageRanksWithTies) {
  // 10 -> rank 1; the three 20s share ranks 2, 3, 4 -> 3; 30 -> rank 5.
  auto r = average_ranks({10, 20, 20, 30, 20});
  std::vector<double> expected{1, 3, 3, 5, 3};
  EXPECT_EQ(r, expected);
  // Two ties: {5, 5} share ranks 3 and 4 -> 3.5; {1, 1} share 1 and 2 -> 1.5.
  EXPECT_EQ(average_ranks({5, 1, 5, 1, 9}), (std::vector<double>{3.5, 1.5, 3.5, 1.5, 5}));
}

TEST(Stats, SpearmanWithTiesByHand) {
  // x ranks: 1, 2.5, 2.5, 4; y ranks: 1, 3, 2, 4 (both mean 2.5).
  // dx = -1.5, 0, 0, 1.5; dy = -1.5, .5, -.5, 1.5: sxy = 4.5, sxx = 4.5, syy = 5.
  EXPECT_NEAR(spearman({1, 2, 2, 3}, {10, 30, 20, 40}), 4.5 / std::sqrt(4.5 * 5.0), 1e-12);
}

TEST(Stats, SpearmanWithoutTiesMatchesClassicFormula) {
  // rho = 1 - 6 sum d^2 / (n (n^2 - 1)) holds when there are no ties.
  std::vector<double> x{3.1, 0.2, 5.5, 4.4, 1.0, 9.9, 7.3};
  std::vector<double> y{2.0, 1.0, 6.0, 3.0, 0.5, 5.0, 7.0};
  // ranks x: 3 1 5 4 2 7 6 ; ranks y: 3 2 6 4 1 5 7 ; d: 0 -1 -1 0 1 2 -1 ; sum d^2 = 8
  const double n = 7;
  EXPECT_NEAR(spearman(x, y), 1 - 6 * 8 / (n * (n * n - 1)), 1e-12);
}

TEST(Stats, SummaryAndHistogram) {
  auto s = summarize({1, 2, 3, 4});
  EXPECT_EQ(s.count, 4u);
  EXPECT_DOUBLE_EQ(s.mean, 2.5);
  EXPECT_DOUBLE_EQ(s.stddev, std::sqrt(1.25));
  EXPECT_DOUBLE_EQ(s.min, 1);
  EXPECT_DOUBLE_EQ(s.max, 4);
  // [0, 4] in 4 bins of width 1: 0 and 0.5 -> bin 0; 1 -> bin 1; 3.9 and 4 -> bin 3.
  auto h = histogram({0, 0.5, 1, 3.9, 4}, 4);
  EXPECT_DOUBLE_EQ(h.low, 0);
  EXPECT_DOUBLE_EQ(h.high, 4);
  EXPECT_EQ(h.counts, (std::vector<size_t>{2, 1, 0, 2}));
  auto single = histogram({2, 2, 2}, 3);
  size_t total = 0;
  for (size_t c : single.counts) total += c;
  EXPECT_EQ(total, 3u);
}

}  // namespace
}  // namespace sbert
