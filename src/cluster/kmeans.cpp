// k-means through faiss::Clustering (Lloyd iterations, k-means++-free random init seeded by
// `seed`, `nredo` restarts keeping the lowest objective). Cosine = spherical k-means on the
// L2-normalised rows. Each row is then assigned to its nearest final centroid.
#include <faiss/Clustering.h>
#include <faiss/IndexFlat.h>
#include <faiss/impl/FaissException.h>

#include <map>
#include <string>

#include "cluster/cluster_internal.h"
#include "sbert/cluster.h"
#include "sbert/error.h"

namespace sbert {

ClusterResult kmeans(const Matrix& x, const KMeansOptions& options, Matrix* centroids) {
  validate_embeddings(x, 2);
  if (options.k < 1) throw Error("k-means: k must be at least 1");
  if (options.k > x.rows)
    throw Error("k-means: k = " + std::to_string(options.k) + " is larger than the number of rows (" +
                std::to_string(x.rows) + ")");
  if (options.iterations < 1) throw Error("k-means: iterations must be at least 1");
  if (options.nredo < 1) throw Error("k-means: nredo must be at least 1");

  const bool spherical = options.metric == ClusterMetric::Cosine;
  const Matrix pts = spherical ? detail::normalized_rows(x) : x;
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

  faiss::IndexFlatL2 index(d);
  ClusterResult result;
  result.labels.assign(x.rows, 0);
  std::vector<float> cents;
  try {
    faiss::Clustering clus(d, k, cp);
    clus.train(static_cast<faiss::Index::idx_t>(x.rows), pts.data.data(), index);
    cents = clus.centroids;
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
