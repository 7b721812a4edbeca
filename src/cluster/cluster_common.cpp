// Shared pieces of the cluster component: option parsing, input validation, label renumbering,
// the adjusted Rand index and per-cluster summaries.
#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <string>

#include "sbert/cluster.h"
#include "sbert/error.h"

namespace sbert {

ClusterMetric parse_cluster_metric(const std::string& name) {
  if (name == "cosine") return ClusterMetric::Cosine;
  if (name == "euclidean") return ClusterMetric::Euclidean;
  throw Error("unknown cluster metric '" + name + "' (expected cosine or euclidean)");
}

Linkage parse_linkage(const std::string& name) {
  if (name == "average") return Linkage::Average;
  if (name == "complete") return Linkage::Complete;
  if (name == "single") return Linkage::Single;
  if (name == "ward") return Linkage::Ward;
  throw Error("unknown linkage '" + name + "' (expected average, complete, single or ward)");
}

void validate_embeddings(const Matrix& x, size_t min_rows) {
  if (x.cols == 0) throw Error("embeddings have no columns");
  if (x.data.size() != x.rows * x.cols)
    throw Error("embeddings: data size " + std::to_string(x.data.size()) + " does not match " +
                std::to_string(x.rows) + " x " + std::to_string(x.cols));
  if (x.rows < min_rows)
    throw Error("need at least " + std::to_string(min_rows) + " rows to cluster, got " +
                std::to_string(x.rows));
  for (size_t i = 0; i < x.rows; ++i) {
    const float* r = x.row(i);
    for (size_t j = 0; j < x.cols; ++j) {
      if (!std::isfinite(r[j]))
        throw Error("embeddings row " + std::to_string(i) + " column " + std::to_string(j) +
                    ": value is " + (std::isnan(r[j]) ? "NaN" : "infinite"));
    }
  }
}

size_t renumber_labels_by_size(std::vector<int>& labels) {
  std::map<int, std::pair<size_t, size_t>> info;  // label -> (size, first row)
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0) continue;
    auto it = info.find(labels[i]);
    if (it == info.end()) info.emplace(labels[i], std::make_pair(size_t(1), i));
    else ++it->second.first;
  }
  std::vector<std::pair<int, std::pair<size_t, size_t>>> order(info.begin(), info.end());
  std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    if (a.second.first != b.second.first) return a.second.first > b.second.first;
    return a.second.second < b.second.second;
  });
  std::map<int, int> remap;
  for (size_t i = 0; i < order.size(); ++i) remap[order[i].first] = static_cast<int>(i);
  for (int& l : labels)
    if (l >= 0) l = remap[l];
  return order.size();
}

double adjusted_rand_index(const std::vector<int>& a, const std::vector<int>& b) {
  if (a.size() != b.size())
    throw Error("adjusted_rand_index: labelings differ in length (" + std::to_string(a.size()) +
                " vs " + std::to_string(b.size()) + ")");
  const double n = static_cast<double>(a.size());
  if (a.size() < 2) return 1.0;
  std::map<std::pair<int, int>, double> joint;
  std::map<int, double> ca, cb;
  for (size_t i = 0; i < a.size(); ++i) {
    joint[{a[i], b[i]}] += 1;
    ca[a[i]] += 1;
    cb[b[i]] += 1;
  }
  auto c2 = [](double v) { return v * (v - 1) / 2; };
  double index = 0, sa = 0, sb = 0;
  for (auto& [k, v] : joint) index += c2(v);
  for (auto& [k, v] : ca) sa += c2(v);
  for (auto& [k, v] : cb) sb += c2(v);
  const double expected = sa * sb / c2(n);
  const double max_index = (sa + sb) / 2;
  // Both labelings put everything in one cluster, or everything apart: identical partitions.
  if (max_index == expected) return 1.0;
  return (index - expected) / (max_index - expected);
}


std::vector<ClusterSummary> summarize_clusters(const Matrix& x, const std::vector<int>& labels,
                                               ClusterMetric metric, size_t representatives) {
  if (labels.size() != x.rows)
    throw Error("summarize_clusters: " + std::to_string(labels.size()) + " labels for " +
                std::to_string(x.rows) + " rows");
  const Matrix pts = metric == ClusterMetric::Cosine ? normalized_rows(x) : x;
  std::map<int, std::vector<size_t>> members;
  for (size_t i = 0; i < labels.size(); ++i)
    if (labels[i] >= 0) members[labels[i]].push_back(i);

  std::vector<ClusterSummary> out;
  for (auto& [label, rows] : members) {
    std::vector<double> centre(x.cols, 0.0);
    for (size_t r : rows)
      for (size_t j = 0; j < x.cols; ++j) centre[j] += pts.at(r, j);
    for (double& c : centre) c /= static_cast<double>(rows.size());
    double cnorm = 0;
    for (double c : centre) cnorm += c * c;
    cnorm = std::sqrt(cnorm);
    // Score: smaller is closer.
    std::vector<std::pair<double, size_t>> scored;
    scored.reserve(rows.size());
    for (size_t r : rows) {
      double s = 0;
      if (metric == ClusterMetric::Cosine) {
        double dot = 0;
        for (size_t j = 0; j < x.cols; ++j) dot += centre[j] * pts.at(r, j);
        s = cnorm > 0 ? -dot / cnorm : 0.0;
      } else {
        for (size_t j = 0; j < x.cols; ++j) {
          const double d = centre[j] - pts.at(r, j);
          s += d * d;
        }
      }
      scored.emplace_back(s, r);
    }
    std::stable_sort(scored.begin(), scored.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    ClusterSummary summary;
    summary.label = label;
    summary.size = rows.size();
    summary.medoid = scored.front().second;
    for (size_t i = 0; i < scored.size() && i < std::max<size_t>(representatives, 1); ++i)
      summary.representatives.push_back(scored[i].second);
    out.push_back(std::move(summary));
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return a.size > b.size; });
  return out;
}

}  // namespace sbert
