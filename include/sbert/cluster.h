// Clustering of embeddings: k-means (FAISS), agglomerative (NN-chain / MST), and the
// sentence-transformers `util.community_detection`; plus per-cluster summaries and the adjusted
// Rand index used to check them.
//
// Every function validates its input (at least 2 rows, no NaN/Inf, k <= rows, thresholds in
// range) and throws sbert::Error with a one-line message naming the field at fault.
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "sbert/matrix.h"

namespace sbert {

enum class ClusterMetric { Cosine, Euclidean };
// "cosine" | "euclidean"; throws sbert::Error on anything else.
ClusterMetric parse_cluster_metric(const std::string& name);

// Labels 0..num_clusters-1 per row, -1 for rows left unassigned (community detection only).
struct ClusterResult {
  std::vector<int> labels;
  size_t num_clusters = 0;
};

// ---- k-means (k-means++ seeding, then faiss::Clustering's Lloyd iterations) ----
struct KMeansOptions {
  size_t k = 8;
  int seed = 1234;       // same seed + same input = same labels
  int iterations = 25;
  int nredo = 3;         // restarts; the run with the lowest objective is kept
  // Cosine clusters L2-normalised rows with spherical (normalised) centroids; Euclidean runs
  // plain k-means on the raw rows.
  ClusterMetric metric = ClusterMetric::Euclidean;
  size_t max_points_per_centroid = 256;  // FAISS subsamples (seeded) above k * this
};
// Labels are renumbered by cluster size (largest first; ties by first row), so they do not
// depend on FAISS's centroid order. `centroids` (optional) receives them in the same numbering.
ClusterResult kmeans(const Matrix& x, const KMeansOptions& options, Matrix* centroids = nullptr);

// ---- agglomerative (hierarchical) clustering ----
enum class Linkage { Average, Complete, Single, Ward };
// "average" | "complete" | "single" | "ward"
Linkage parse_linkage(const std::string& name);

struct AgglomerativeOptions {
  // Exactly one of: k > 0 (cut into k clusters), or distance_threshold >= 0 (merges at a
  // linkage distance >= threshold are not made; sklearn's `distance_threshold`).
  size_t k = 0;
  double distance_threshold = -1.0;
  Linkage linkage = Linkage::Average;
  // Cosine distance is 1 - cos (in [0, 2]). Ward is defined on Euclidean distances: with
  // Cosine it runs on the L2-normalised rows (whose Euclidean distance is sqrt(2 - 2 cos)).
  ClusterMetric metric = ClusterMetric::Cosine;
  // Average/complete/ward keep a condensed float32 distance matrix (2*N*(N-1) bytes: N=10k
  // -> 200 MB, N=20k -> 800 MB); inputs needing more than this are refused with an error that
  // suggests k-means or single linkage. Single linkage uses Prim's MST in O(N) memory at any N
  // (O(N^2 * dim) time).
  size_t max_matrix_bytes = size_t(1) << 30;
};
// Labels renumbered by cluster size (largest first; ties by first row).
ClusterResult agglomerative(const Matrix& x, const AgglomerativeOptions& options);

// One merge of the dendrogram: the clusters represented by rows `a` and `b` (a < b; each
// cluster is named by one of its rows) joined at linkage distance `distance`. Sorted by
// distance (stable), as scipy's linkage would list them.
struct Merge {
  size_t a = 0;
  size_t b = 0;
  double distance = 0.0;
};
std::vector<Merge> agglomerative_merges(const Matrix& x, Linkage linkage, ClusterMetric metric,
                                        size_t max_matrix_bytes = size_t(1) << 30);

// ---- sentence-transformers util.community_detection ----
struct CommunityOptions {
  float threshold = 0.75f;        // cosine similarity, compared as `>= threshold` in float32
  size_t min_community_size = 10;
  size_t batch_size = 1024;       // rows of the similarity matrix held at a time
};
// Communities as ST returns them: each a list of row indices (the seed row's neighbours in
// decreasing similarity), largest community first, no row in two communities.
std::vector<std::vector<size_t>> community_detection(const Matrix& x, const CommunityOptions& options);
// Labels from the communities above: label = position in that list, -1 = unassigned.
ClusterResult community_labels(const std::vector<std::vector<size_t>>& communities, size_t rows);

// ---- summaries and evaluation ----
struct ClusterSummary {
  int label = 0;
  size_t size = 0;
  size_t medoid = 0;                    // the member closest to the cluster centre
  std::vector<size_t> representatives;  // members by closeness to the centre, medoid first
};
// One summary per cluster (label >= 0), largest first (ties by label). Closeness is cosine to
// the mean of the normalised members for Cosine, Euclidean distance to the mean otherwise.
std::vector<ClusterSummary> summarize_clusters(const Matrix& x, const std::vector<int>& labels,
                                               ClusterMetric metric, size_t representatives = 5);

// Adjusted Rand index (Hubert & Arabie) of two labelings of the same rows; 1.0 = identical
// partitions (up to renaming). Label -1 is treated as an ordinary label.
double adjusted_rand_index(const std::vector<int>& a, const std::vector<int>& b);

// Renumbers labels >= 0 by cluster size, largest first, ties by first row; -1 stays -1.
// Returns the number of clusters.
size_t renumber_labels_by_size(std::vector<int>& labels);

// Throws sbert::Error unless x has >= min_rows rows, >= 1 column and only finite values.
void validate_embeddings(const Matrix& x, size_t min_rows = 2);

// ---- one request for any method (what `sbert cluster` runs) ----
enum class ClusterMethod { KMeans, Agglomerative, Community };
// "kmeans" | "agglomerative" | "community"; throws sbert::Error otherwise.
ClusterMethod parse_cluster_method(const std::string& name);

struct ClusterRequest {
  ClusterMethod method = ClusterMethod::KMeans;
  size_t k = 0;                               // kmeans; agglomerative unless a threshold
  std::optional<double> distance_threshold;   // agglomerative
  Linkage linkage = Linkage::Average;
  std::optional<ClusterMetric> metric;        // empty: chosen from the model's similarity
  float threshold = 0.75f;                    // community: cosine threshold
  size_t min_size = 10;                       // community: smallest community kept
  int seed = 1234, nredo = 3, iterations = 25;
};

// Throws sbert::Error with a one-line message when the options do not fit the method (run
// before any slow embedding).
void validate_cluster_request(const ClusterRequest& request);
// The request's metric, else euclidean for a model whose similarity is euclidean or
// manhattan, else cosine.
ClusterMetric choose_cluster_metric(const ClusterRequest& request, const std::string& model_similarity);

struct Clustering {
  ClusterResult result;
  ClusterMetric metric = ClusterMetric::Cosine;
  std::string description;  // e.g. "k-means (k=5, cosine, seed 1234)"
};
Clustering cluster(const Matrix& x, const ClusterRequest& request, const std::string& model_similarity = "");

}  // namespace sbert
