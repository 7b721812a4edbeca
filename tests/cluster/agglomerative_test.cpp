// Agglomerative clustering against a naive O(N^3) implementation written from the linkage
// definitions (not the Lance-Williams updates the library uses), on planted blobs, and on
// bad input.
#include <algorithm>
#include <cmath>
#include <limits>

#include "cluster_test_data.h"
#include "sbert/cluster.h"
#include "sbert/error.h"
#include "test_support.h"

using sbert::AgglomerativeOptions;
using sbert::ClusterMetric;
using sbert::Linkage;
using sbert::Matrix;

namespace {

double point_distance(const Matrix& x, size_t a, size_t b, ClusterMetric metric) {
  double dot = 0, na = 0, nb = 0, sq = 0;
  for (size_t j = 0; j < x.cols; ++j) {
    dot += double(x.at(a, j)) * x.at(b, j);
    na += double(x.at(a, j)) * x.at(a, j);
    nb += double(x.at(b, j)) * x.at(b, j);
    sq += (double(x.at(a, j)) - x.at(b, j)) * (double(x.at(a, j)) - x.at(b, j));
  }
  if (metric == ClusterMetric::Cosine) return 1.0 - dot / std::sqrt(na * nb);
  return std::sqrt(sq);
}

// Linkage distance between clusters A and B straight from its definition.
double linkage_distance(const Matrix& x, const std::vector<size_t>& A, const std::vector<size_t>& B,
                        Linkage linkage, ClusterMetric metric) {
  if (linkage == Linkage::Ward) {
    // sqrt(2 * |A||B| / (|A|+|B|)) * ||mean(A) - mean(B)||: scipy's ward height.
    double sq = 0;
    for (size_t j = 0; j < x.cols; ++j) {
      double ma = 0, mb = 0;
      for (size_t a : A) ma += x.at(a, j);
      for (size_t b : B) mb += x.at(b, j);
      ma /= A.size();
      mb /= B.size();
      sq += (ma - mb) * (ma - mb);
    }
    const double na = A.size(), nb = B.size();
    return std::sqrt(2.0 * na * nb / (na + nb) * sq);
  }
  double best = linkage == Linkage::Single ? 1e300 : (linkage == Linkage::Complete ? -1e300 : 0.0);
  for (size_t a : A)
    for (size_t b : B) {
      const double d = point_distance(x, a, b, metric);
      if (linkage == Linkage::Single) best = std::min(best, d);
      else if (linkage == Linkage::Complete) best = std::max(best, d);
      else best += d;
    }
  if (linkage == Linkage::Average) best /= double(A.size() * B.size());
  return best;
}

// Greedy merging until `k` clusters remain (k > 0) or the closest pair is >= threshold.
std::vector<int> naive(const Matrix& x, Linkage linkage, ClusterMetric metric, size_t k, double threshold,
                       std::vector<double>* heights) {
  std::vector<std::vector<size_t>> clusters(x.rows);
  for (size_t i = 0; i < x.rows; ++i) clusters[i] = {i};
  while (clusters.size() > 1) {
    double best = std::numeric_limits<double>::infinity();
    size_t bi = 0, bj = 0;
    for (size_t i = 0; i < clusters.size(); ++i)
      for (size_t j = i + 1; j < clusters.size(); ++j) {
        const double d = linkage_distance(x, clusters[i], clusters[j], linkage, metric);
        if (d < best) { best = d; bi = i; bj = j; }
      }
    if (k > 0 && clusters.size() <= k) break;
    if (k == 0 && best >= threshold) break;
    if (heights) heights->push_back(best);
    clusters[bi].insert(clusters[bi].end(), clusters[bj].begin(), clusters[bj].end());
    clusters.erase(clusters.begin() + static_cast<std::ptrdiff_t>(bj));
  }
  std::vector<int> labels(x.rows);
  for (size_t c = 0; c < clusters.size(); ++c)
    for (size_t i : clusters[c]) labels[i] = static_cast<int>(c);
  sbert::renumber_labels_by_size(labels);
  return labels;
}

const Linkage kLinkages[] = {Linkage::Average, Linkage::Complete, Linkage::Single, Linkage::Ward};
const char* kNames[] = {"average", "complete", "single", "ward"};

}  // namespace

TEST(Agglomerative, MatchesNaiveDefinitionForAllLinkages) {
  const Matrix x = sbert::testing::make_uniform(36, 5, 17);
  for (ClusterMetric metric : {ClusterMetric::Euclidean, ClusterMetric::Cosine}) {
    for (int li = 0; li < 4; ++li) {
      const Linkage linkage = kLinkages[li];
      if (linkage == Linkage::Ward && metric == ClusterMetric::Cosine) continue;
      SCOPED_TRACE(std::string(kNames[li]) + (metric == ClusterMetric::Cosine ? " cosine" : " euclidean"));
      std::vector<double> want_heights;
      naive(x, linkage, metric, 1, 0, &want_heights);
      const auto merges = sbert::agglomerative_merges(x, linkage, metric);
      ASSERT_EQ(merges.size(), want_heights.size());
      std::sort(want_heights.begin(), want_heights.end());
      for (size_t i = 0; i < merges.size(); ++i) EXPECT_NEAR(merges[i].distance, want_heights[i], 2e-5);

      for (size_t k : {2, 3, 5, 9}) {
        AgglomerativeOptions o;
        o.k = k;
        o.linkage = linkage;
        o.metric = metric;
        const auto r = sbert::agglomerative(x, o);
        EXPECT_EQ(r.num_clusters, k);
        EXPECT_EQ(r.labels, naive(x, linkage, metric, k, 0, nullptr)) << "k=" << k;
      }
      // Threshold halfway between two consecutive merge heights: no float ambiguity.
      const double t = (want_heights[25] + want_heights[26]) / 2;
      AgglomerativeOptions o;
      o.distance_threshold = t;
      o.linkage = linkage;
      o.metric = metric;
      const auto r = sbert::agglomerative(x, o);
      EXPECT_EQ(r.labels, naive(x, linkage, metric, 0, t, nullptr));
      EXPECT_EQ(r.num_clusters, x.rows - 26);
    }
  }
}

TEST(Agglomerative, WardWithCosineUsesNormalisedRows) {
  const Matrix x = sbert::testing::make_uniform(30, 4, 23);
  Matrix normalised = x;
  for (size_t i = 0; i < x.rows; ++i) {
    double n = 0;
    for (size_t j = 0; j < x.cols; ++j) n += double(x.at(i, j)) * x.at(i, j);
    for (size_t j = 0; j < x.cols; ++j) normalised.at(i, j) = static_cast<float>(x.at(i, j) / std::sqrt(n));
  }
  AgglomerativeOptions o;
  o.k = 4;
  o.linkage = Linkage::Ward;
  o.metric = ClusterMetric::Cosine;
  EXPECT_EQ(sbert::agglomerative(x, o).labels, naive(normalised, Linkage::Ward, ClusterMetric::Euclidean, 4, 0, nullptr));
}

TEST(Agglomerative, RecoversGaussianBlobs) {
  std::vector<int> truth;
  const Matrix x = sbert::testing::make_blobs(6, 50, 24, 10.0, 0.5, 99, &truth);
  for (int li = 0; li < 4; ++li) {
    SCOPED_TRACE(kNames[li]);
    AgglomerativeOptions o;
    o.k = 6;
    o.linkage = kLinkages[li];
    o.metric = ClusterMetric::Euclidean;
    EXPECT_DOUBLE_EQ(sbert::adjusted_rand_index(sbert::agglomerative(x, o).labels, truth), 1.0);
  }
  // By threshold: within-blob distances are ~ sigma*sqrt(2*24) ~ 3.5, centres ~ 10*sqrt(24*2/3) apart.
  AgglomerativeOptions o;
  o.distance_threshold = 12.0;
  o.linkage = Linkage::Average;
  o.metric = ClusterMetric::Euclidean;
  const auto r = sbert::agglomerative(x, o);
  EXPECT_EQ(r.num_clusters, 6u);
  EXPECT_DOUBLE_EQ(sbert::adjusted_rand_index(r.labels, truth), 1.0);
}

TEST(Agglomerative, SingleLinkageScalesWithoutMatrix) {
  std::vector<int> truth;
  const Matrix x = sbert::testing::make_blobs(4, 500, 8, 10.0, 0.3, 5, &truth);
  AgglomerativeOptions o;
  o.k = 4;
  o.linkage = Linkage::Single;
  o.metric = ClusterMetric::Euclidean;
  o.max_matrix_bytes = 1024;  // far too small for a matrix: single linkage must not need one
  EXPECT_DOUBLE_EQ(sbert::adjusted_rand_index(sbert::agglomerative(x, o).labels, truth), 1.0);
  o.linkage = Linkage::Average;
  try {
    sbert::agglomerative(x, o);
    FAIL() << "memory limit ignored";
  } catch (const sbert::Error& e) {
    EXPECT_NE(std::string(e.what()).find("single linkage"), std::string::npos) << e.what();
  }
}

TEST(Agglomerative, RejectsBadInput) {
  const Matrix x = sbert::testing::make_uniform(5, 3, 2);
  AgglomerativeOptions o;
  o.k = 6;
  EXPECT_THROW(sbert::agglomerative(x, o), sbert::Error);  // k > rows
  o.k = 0;
  EXPECT_THROW(sbert::agglomerative(x, o), sbert::Error);  // neither k nor threshold
  o.k = 2;
  o.distance_threshold = 0.5;
  EXPECT_THROW(sbert::agglomerative(x, o), sbert::Error);  // both
  o.k = 0;
  o.distance_threshold = 2.5;
  o.metric = ClusterMetric::Cosine;
  EXPECT_THROW(sbert::agglomerative(x, o), sbert::Error);  // cosine distance is at most 2
  o.distance_threshold = 0.5;
  EXPECT_THROW(sbert::agglomerative(Matrix(1, 3), o), sbert::Error);  // a single row
  Matrix bad = x;
  bad.at(4, 0) = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW(sbert::agglomerative(bad, o), sbert::Error);
  EXPECT_THROW(sbert::parse_linkage("median"), sbert::Error);
}
