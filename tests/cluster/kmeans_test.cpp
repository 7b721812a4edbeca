// k-means (FAISS) recovers planted clusters, is reproducible for a seed, and rejects bad input;
// plus the adjusted Rand index against values worked out by hand.
#include <cmath>
#include <limits>

#include "cluster_test_data.h"
#include "sbert/cluster.h"
#include "sbert/error.h"
#include "test_support.h"

using sbert::ClusterMetric;
using sbert::KMeansOptions;
using sbert::Matrix;

TEST(AdjustedRandIndex, HandComputedValues) {
  // Identical partitions under renaming.
  EXPECT_DOUBLE_EQ(sbert::adjusted_rand_index({0, 0, 1, 1}, {1, 1, 0, 0}), 1.0);
  // {0,1}{2,3} vs {0,1}{2}{3}: index 1, sums 2 and 1, expected 2/6 -> (1-1/3)/(1.5-1/3) = 4/7.
  EXPECT_NEAR(sbert::adjusted_rand_index({0, 0, 1, 1}, {0, 0, 1, 2}), 4.0 / 7.0, 1e-12);
  // {0,1}{2,3} vs {0,2}{1,3}: index 0, expected 2*2/6 -> (0-2/3)/(2-2/3) = -0.5.
  EXPECT_NEAR(sbert::adjusted_rand_index({0, 0, 1, 1}, {0, 1, 0, 1}), -0.5, 1e-12);
  EXPECT_THROW(sbert::adjusted_rand_index({0, 1}, {0}), sbert::Error);
}

TEST(RenumberLabels, BySizeThenFirstRow) {
  std::vector<int> l = {7, 3, 3, -1, 9, 9, 7, 3};
  EXPECT_EQ(sbert::renumber_labels_by_size(l), 3u);
  // sizes: 3 -> 3 rows, 7 -> 2 (first row 0), 9 -> 2 (first row 4)
  EXPECT_EQ(l, (std::vector<int>{1, 0, 0, -1, 2, 2, 1, 0}));
}

TEST(KMeans, RecoversGaussianBlobs) {
  std::vector<int> truth;
  const Matrix x = sbert::testing::make_blobs(5, 60, 16, 10.0, 0.5, 42, &truth);
  KMeansOptions o;
  o.k = 5;
  o.nredo = 5;
  o.seed = 7;
  Matrix centroids;
  const auto r = sbert::kmeans(x, o, &centroids);
  EXPECT_EQ(r.num_clusters, 5u);
  EXPECT_DOUBLE_EQ(sbert::adjusted_rand_index(r.labels, truth), 1.0);
  ASSERT_EQ(centroids.rows, 5u);
  // Each centroid is the mean of its members (Lloyd's fixed point).
  for (size_t c = 0; c < 5; ++c) {
    std::vector<double> mean(x.cols, 0.0);
    size_t n = 0;
    for (size_t i = 0; i < x.rows; ++i)
      if (r.labels[i] == static_cast<int>(c)) {
        ++n;
        for (size_t j = 0; j < x.cols; ++j) mean[j] += x.at(i, j);
      }
    for (size_t j = 0; j < x.cols; ++j) EXPECT_NEAR(centroids.at(c, j), mean[j] / n, 1e-3);
  }
}

TEST(KMeans, SphericalClustersDirections) {
  // Three directions at very different norms: Euclidean k-means would split by norm, spherical
  // k-means (cosine) must group by direction.
  std::vector<int> truth;
  Matrix dirs = sbert::testing::make_blobs(3, 40, 8, 1.0, 0.03, 5, &truth);
  for (size_t i = 0; i < dirs.rows; ++i) {
    const float scale = (i % 2) ? 100.0f : 0.5f;
    for (size_t j = 0; j < dirs.cols; ++j) dirs.at(i, j) *= scale;
  }
  KMeansOptions o;
  o.k = 3;
  o.nredo = 3;
  o.metric = ClusterMetric::Cosine;
  const auto r = sbert::kmeans(dirs, o);
  EXPECT_DOUBLE_EQ(sbert::adjusted_rand_index(r.labels, truth), 1.0);
}

TEST(KMeans, ReproducibleForSeed) {
  const Matrix x = sbert::testing::make_uniform(400, 12, 3);  // no structure: init matters
  KMeansOptions o;
  o.k = 9;
  o.seed = 11;
  const auto a = sbert::kmeans(x, o);
  const auto b = sbert::kmeans(x, o);
  EXPECT_EQ(a.labels, b.labels);
  o.seed = 12;
  const auto c = sbert::kmeans(x, o);
  EXPECT_LT(sbert::adjusted_rand_index(a.labels, c.labels), 0.999) << "seed has no effect";
}

TEST(KMeans, KEqualsRowsPutsEachRowAlone) {
  const Matrix x = sbert::testing::make_uniform(6, 3, 9);
  KMeansOptions o;
  o.k = 6;
  const auto r = sbert::kmeans(x, o);
  EXPECT_EQ(r.num_clusters, 6u);
  EXPECT_EQ(r.labels, (std::vector<int>{0, 1, 2, 3, 4, 5}));
}

TEST(KMeans, RejectsBadInput) {
  const Matrix x = sbert::testing::make_uniform(4, 3, 1);
  KMeansOptions o;
  o.k = 5;
  try {
    sbert::kmeans(x, o);
    FAIL() << "k > rows accepted";
  } catch (const sbert::Error& e) {
    EXPECT_NE(std::string(e.what()).find("larger than the number of rows"), std::string::npos) << e.what();
  }
  o.k = 0;
  EXPECT_THROW(sbert::kmeans(x, o), sbert::Error);
  o.k = 1;
  EXPECT_THROW(sbert::kmeans(Matrix(1, 3), o), sbert::Error);  // a single row
  EXPECT_THROW(sbert::kmeans(Matrix(0, 3), o), sbert::Error);
  Matrix bad = x;
  bad.at(2, 1) = std::numeric_limits<float>::infinity();
  EXPECT_THROW(sbert::kmeans(bad, o), sbert::Error);
}
