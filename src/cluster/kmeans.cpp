// k-means: k-means++ seeding (seeded by `seed`) followed by faiss::Clustering's Lloyd
// iterations; `nredo` restarts keep the lowest objective. Cosine = spherical k-means on the
// L2-normalised rows. Each row is then assigned to its nearest final centroid.
#include <cstdint>  // faiss 1.7.3 headers use uint8_t without including it (GCC 13)
#include <faiss/Clustering.h>
#include <faiss/IndexFlat.h>
#include <faiss/impl/FaissException.h>

#include <algorithm>
#include <limits>
#include <map>
#include <random>
#include <string>

#include "sbert/cluster.h"
#include "sbert/error.h"

namespace sbert {

namespace {

// k-means++ (Arthur & Vassilvitskii 2007): the first centre uniformly, each next one with
// probability proportional to the squared distance to the nearest centre chosen so far.
std::vector<float> kmeans_plus_plus(const Matrix& x, size_t k, std::mt19937_64& rng) {
  const size_t n = x.rows, d = x.cols;
  std::vector<float> centres(k * d);
  std::vector<double> nearest(n, std::numeric_limits<double>::infinity());
  size_t pick = std::uniform_int_distribution<size_t>(0, n - 1)(rng);
  for (size_t c = 0; c < k; ++c) {
    std::copy(x.row(pick), x.row(pick) + d, centres.begin() + static_cast<std::ptrdiff_t>(c * d));
    double total = 0;
    for (size_t i = 0; i < n; ++i) {
      double s = 0;
      for (size_t j = 0; j < d; ++j) {
        const double diff = double(x.at(i, j)) - x.at(pick, j);
        s += diff * diff;
      }
      nearest[i] = std::min(nearest[i], s);
      total += nearest[i];
    }
    if (c + 1 == k) break;
    if (total <= 0) {  // fewer distinct points than k: any point will do
      pick = std::uniform_int_distribution<size_t>(0, n - 1)(rng);
      continue;
    }
    double r = std::uniform_real_distribution<double>(0.0, total)(rng);
    pick = n - 1;
    for (size_t i = 0; i < n; ++i) {
      r -= nearest[i];
      if (r < 0 && nearest[i] > 0) {
        pick = i;
        break;
      }
    }
  }
  return centres;
}

}  // namespace

ClusterResult kmeans(const Matrix& x, const KMeansOptions& options, Matrix* centroids) {
  validate_embeddings(x, 2);
  if (options.k < 1) throw Error("k-means: k must be at least 1");
  if (options.k > x.rows)
    throw Error("k-means: k = " + std::to_string(options.k) + " is larger than the number of rows (" +
                std::to_string(x.rows) + ")");
  if (options.iterations < 1) throw Error("k-means: iterations must be at least 1");
  if (options.nredo < 1) throw Error("k-means: nredo must be at least 1");

  const bool spherical = options.metric == ClusterMetric::Cosine;
  const Matrix pts = spherical ? normalized_rows(x) : x;
  const int d = static_cast<int>(x.cols);
  const int k = static_cast<int>(options.k);

  faiss::ClusteringParameters cp;
  cp.niter = options.iterations;
  cp.nredo = options.nredo;
  cp.seed = options.seed;
  cp.spherical = spherical;
  cp.verbose = false;
  cp.min_points_per_centroid = 1;  // no "please provide at least ..." warning on stderr
  cp.max_points_per_centroid = static_cast<int>(options.max_points_per_centroid);

  ClusterResult result;
  result.labels.assign(x.rows, 0);
  std::vector<float> cents;
  try {
    // Each restart: k-means++ seeding (ours, seeded), then FAISS's Lloyd iterations from it;
    // the run with the lowest final objective wins (first one on ties).
    cp.nredo = 1;
    std::mt19937_64 rng(static_cast<uint64_t>(options.seed));
    float best_obj = std::numeric_limits<float>::infinity();
    for (int redo = 0; redo < options.nredo; ++redo) {
      faiss::IndexFlatL2 index(d);
      faiss::Clustering clus(d, k, cp);
      clus.centroids = kmeans_plus_plus(pts, options.k, rng);
      clus.train(static_cast<faiss::Index::idx_t>(x.rows), pts.data.data(), index);
      const float obj = clus.iteration_stats.empty() ? 0.0f : clus.iteration_stats.back().obj;
      if (redo == 0 || obj < best_obj) {
        best_obj = obj;
        cents = clus.centroids;
      }
    }
    // Assign every row to its nearest centroid (the training may have been on a subsample).
    faiss::IndexFlatL2 assign(d);
    assign.add(k, cents.data());
    std::vector<float> dist(x.rows);
    std::vector<faiss::Index::idx_t> ids(x.rows);
    assign.search(static_cast<faiss::Index::idx_t>(x.rows), pts.data.data(), 1, dist.data(), ids.data());
    for (size_t i = 0; i < x.rows; ++i) result.labels[i] = static_cast<int>(ids[i]);
  } catch (const faiss::FaissException& e) {
    throw Error(std::string("k-means (faiss) failed: ") + e.what());
  }

  // Renumber by size; carry the centroids along. Empty centroids (possible in degenerate data,
  // e.g. duplicated rows) simply disappear from the labelling.
  std::vector<int> old = result.labels;
  result.num_clusters = renumber_labels_by_size(result.labels);
  if (centroids) {
    std::map<int, int> new_of_old;
    for (size_t i = 0; i < old.size(); ++i) new_of_old[old[i]] = result.labels[i];
    *centroids = Matrix(result.num_clusters, x.cols);
    for (auto& [o, nl] : new_of_old)
      std::copy(cents.begin() + static_cast<std::ptrdiff_t>(o) * d,
                cents.begin() + static_cast<std::ptrdiff_t>(o + 1) * d, centroids->row(nl));
  }
  return result;
}

}  // namespace sbert
