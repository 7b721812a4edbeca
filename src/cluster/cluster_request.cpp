// One entry point over the three clustering methods, with option validation.
#include "sbert/cluster.h"
#include "sbert/error.h"
#include "sbert/text_format.h"

namespace sbert {

ClusterMethod parse_cluster_method(const std::string& name) {
  if (name == "kmeans") return ClusterMethod::KMeans;
  if (name == "agglomerative") return ClusterMethod::Agglomerative;
  if (name == "community") return ClusterMethod::Community;
  throw Error("--method must be kmeans, agglomerative or community, got '" + name + "'");
}

void validate_cluster_request(const ClusterRequest& r) {
  switch (r.method) {
    case ClusterMethod::KMeans:
      if (r.k == 0) throw Error("k-means needs --k N (N >= 1)");
      if (r.distance_threshold) throw Error("--distance-threshold is for --method agglomerative");
      break;
    case ClusterMethod::Agglomerative:
      if ((r.k > 0) == r.distance_threshold.has_value())
        throw Error("agglomerative clustering needs exactly one of --k N or --distance-threshold T");
      break;
    case ClusterMethod::Community:
      if (r.k > 0 || r.distance_threshold) throw Error("community detection takes --threshold and --min-size, not --k");
      if (!(r.threshold >= -1.0f && r.threshold <= 1.0f))
        throw Error("--threshold " + format_float(r.threshold) + " is outside [-1, 1] (a cosine similarity)");
      if (r.min_size < 1) throw Error("--min-size must be at least 1");
      if (r.metric && *r.metric != ClusterMetric::Cosine) throw Error("community detection is defined on cosine similarity");
      break;
  }
  if (r.distance_threshold && !(*r.distance_threshold >= 0))
    throw Error("--distance-threshold must be >= 0, got " + std::to_string(*r.distance_threshold));
}

ClusterMetric choose_cluster_metric(const ClusterRequest& r, const std::string& model_similarity) {
  if (r.metric) return *r.metric;
  return (model_similarity == "euclidean" || model_similarity == "manhattan") ? ClusterMetric::Euclidean
                                                                              : ClusterMetric::Cosine;
}

namespace {
const char* linkage_name(Linkage l) {
  switch (l) {
    case Linkage::Average: return "average";
    case Linkage::Complete: return "complete";
    case Linkage::Single: return "single";
    case Linkage::Ward: return "ward";
  }
  return "average";
}
}  // namespace

Clustering cluster(const Matrix& x, const ClusterRequest& r, const std::string& model_similarity) {
  validate_cluster_request(r);
  Clustering c;
  c.metric = choose_cluster_metric(r, model_similarity);
  const std::string metric_name = c.metric == ClusterMetric::Cosine ? "cosine" : "euclidean";
  switch (r.method) {
    case ClusterMethod::KMeans: {
      KMeansOptions o;
      o.k = r.k;
      o.seed = r.seed;
      o.nredo = r.nredo;
      o.iterations = r.iterations;
      o.metric = c.metric;
      c.result = kmeans(x, o);
      c.description = "k-means (k=" + std::to_string(r.k) + ", " + metric_name + ", seed " + std::to_string(r.seed) + ")";
      break;
    }
    case ClusterMethod::Agglomerative: {
      AgglomerativeOptions o;
      o.k = r.k;
      o.distance_threshold = r.distance_threshold.value_or(-1.0);
      o.linkage = r.linkage;
      o.metric = c.metric;
      c.result = agglomerative(x, o);
      c.description = std::string("agglomerative (") + linkage_name(r.linkage) + " linkage, " + metric_name + ", " +
                      (r.k ? "k=" + std::to_string(r.k)
                           : "distance threshold " + format_float(static_cast<float>(*r.distance_threshold))) +
                      ")";
      break;
    }
    case ClusterMethod::Community: {
      validate_embeddings(x, 2);
      CommunityOptions o;
      o.threshold = r.threshold;
      o.min_community_size = r.min_size;
      c.result = community_labels(community_detection(x, o), x.rows);
      c.description = "community detection (threshold " + format_float(r.threshold) + ", min size " +
                      std::to_string(r.min_size) + ")";
      break;
    }
  }
  return c;
}

}  // namespace sbert
