// PCA against a closed-form case and t-SNE on planted clusters.
#include <chrono>
#include <cmath>

#include "cluster_test_data.h"
#include "sbert/cluster.h"
#include "sbert/error.h"
#include "sbert/projection.h"
#include "test_support.h"

using sbert::Matrix;

TEST(Pca, RecoversKnownAxesWithSignConvention) {
  // Points t*u + s*v + c with orthonormal u, v in 4-D, var(t) >> var(s): the projection must be
  // (t - mean t, s - mean s) up to the documented sign rule.
  const double u[4] = {0.5, 0.5, 0.5, 0.5}, v[4] = {0.5, -0.5, 0.5, -0.5};
  const double t[8] = {-7, -3, -1, 0, 2, 4, 5, 8}, s[8] = {1, -1, -1, 0, 2, -1, -1, 1};
  Matrix x(8, 4);
  for (size_t i = 0; i < 8; ++i)
    for (size_t j = 0; j < 4; ++j) x.at(i, j) = static_cast<float>(t[i] * u[j] + s[i] * v[j] + 3.0);
  double mt = 0, ms = 0;
  for (int i = 0; i < 8; ++i) { mt += t[i] / 8; ms += s[i] / 8; }
  // t and s are centred-uncorrelated (sum (t-1)*s = 0), so the axes are exactly u and v.
  // Largest |t - mean t| is row 0 (-8): negative, so the first axis is flipped.
  // Largest |s| is row 4 (+2): positive, the second axis keeps its sign.
  const Matrix p = sbert::project_pca(x, 2);
  ASSERT_EQ(p.rows, 8u);
  ASSERT_EQ(p.cols, 2u);
  for (size_t i = 0; i < 8; ++i) {
    EXPECT_NEAR(p.at(i, 0), -(t[i] - mt), 1e-4) << i;
    EXPECT_NEAR(p.at(i, 1), s[i] - ms, 1e-4) << i;
  }
  // More dimensions than rows takes the Gram path: same answer.
  Matrix wide(8, 20);
  for (size_t i = 0; i < 8; ++i)
    for (size_t j = 0; j < 4; ++j) wide.at(i, j) = x.at(i, j);
  const Matrix pw = sbert::project_pca(wide, 2);
  for (size_t i = 0; i < 8; ++i) {
    EXPECT_NEAR(pw.at(i, 0), p.at(i, 0), 1e-3);
    EXPECT_NEAR(pw.at(i, 1), p.at(i, 1), 1e-3);
  }
}

TEST(Pca, RankOneDataGivesZeroSecondAxis) {
  Matrix x(5, 3);
  for (size_t i = 0; i < 5; ++i)
    for (size_t j = 0; j < 3; ++j) x.at(i, j) = static_cast<float>(i) * (j + 1.0f);
  const Matrix p = sbert::project_pca(x, 2);
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(p.at(i, 1), 0.0f);
}

TEST(Tsne, SeparatesPlantedClustersDeterministically) {
  std::vector<int> truth;
  const Matrix x = sbert::testing::make_blobs(4, 100, 64, 3.0, 1.0, 8, &truth);
  sbert::TsneOptions o;
  o.seed = 3;
  const auto t0 = std::chrono::steady_clock::now();
  const Matrix y = sbert::project_tsne(x, o);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("t-SNE 400 x 64: %.2f s\n", secs);
  ASSERT_EQ(y.rows, 400u);
  ASSERT_EQ(y.cols, 2u);
  // In the 2-D layout every point's nearest neighbour belongs to its own blob.
  size_t agree = 0;
  for (size_t i = 0; i < y.rows; ++i) {
    size_t best = i;
    double bd = 1e300;
    for (size_t j = 0; j < y.rows; ++j) {
      if (j == i) continue;
      const double dx = y.at(i, 0) - y.at(j, 0), dy = y.at(i, 1) - y.at(j, 1);
      if (dx * dx + dy * dy < bd) { bd = dx * dx + dy * dy; best = j; }
    }
    agree += truth[i] == truth[best];
  }
  EXPECT_GE(agree, 396u);
  // And k-means on the layout finds the blobs.
  sbert::KMeansOptions ko;
  ko.k = 4;
  ko.nredo = 5;
  EXPECT_GT(sbert::adjusted_rand_index(sbert::kmeans(y, ko).labels, truth), 0.98);
  EXPECT_EQ(sbert::project_tsne(x, o).data, y.data);
}

TEST(Tsne, TinyInputsAndErrors) {
  const Matrix x = sbert::testing::make_uniform(3, 4, 1);
  const Matrix y = sbert::project_tsne(x);
  for (float v : y.data) EXPECT_TRUE(std::isfinite(v));
  EXPECT_THROW(sbert::project_tsne(Matrix(1, 4)), sbert::Error);
  EXPECT_THROW(sbert::parse_projection_method("umap"), sbert::Error);
}
