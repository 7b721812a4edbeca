// Agglomerative clustering.
//  * average / complete / ward: the nearest-neighbour-chain algorithm (Murtagh; Muellner 2011)
//    over a condensed float32 distance matrix updated with the Lance-Williams formulas. O(N^2)
//    time after the O(N^2 * dim) matrix, 2*N*(N-1) bytes of memory: N = 10k needs 200 MB,
//    N = 20k 800 MB (refused above AgglomerativeOptions::max_matrix_bytes, 1 GiB by default).
//  * single: Prim's minimum spanning tree with distances computed on the fly, O(N) memory at
//    any N, O(N^2 * dim) time; single linkage merges are exactly the MST edges by weight.
// All four linkages are reducible, so the chain's merges sorted by distance form the same
// dendrogram scipy.cluster.hierarchy.linkage builds; ward heights follow scipy (Euclidean for
// two singletons). The dendrogram is cut with a union-find over the sorted merges.
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include "sbert/cluster.h"
#include "sbert/error.h"

namespace sbert {

namespace {

using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Rows prepared for the metric: cosine -> normalised (distance 1 - dot), euclidean -> as is.
// Ward always works on Euclidean distances (of the normalised rows for cosine).
struct Points {
  Matrix m;
  std::vector<float> sq_norm;
  bool cosine = false;
};

Points prepare(const Matrix& x, ClusterMetric metric, bool ward) {
  Points p;
  p.m = metric == ClusterMetric::Cosine ? normalized_rows(x) : x;
  p.cosine = metric == ClusterMetric::Cosine && !ward;
  p.sq_norm.resize(x.rows);
  for (size_t i = 0; i < x.rows; ++i) {
    double s = 0;
    for (size_t j = 0; j < x.cols; ++j) s += double(p.m.at(i, j)) * p.m.at(i, j);
    p.sq_norm[i] = static_cast<float>(s);
  }
  return p;
}

float distance_from_dot(const Points& p, size_t i, size_t j, float dot) {
  if (p.cosine) return std::max(0.0f, 1.0f - dot);
  return std::sqrt(std::max(0.0f, p.sq_norm[i] + p.sq_norm[j] - 2.0f * dot));
}

class Condensed {
 public:
  explicit Condensed(size_t n) : n_(n), d_(n * (n - 1) / 2) {}
  float& operator()(size_t i, size_t j) { return i < j ? d_[index(i, j)] : d_[index(j, i)]; }

 private:
  size_t index(size_t i, size_t j) const { return n_ * i - i * (i + 1) / 2 + j - i - 1; }
  size_t n_;
  std::vector<float> d_;
};

void fill_distances(const Points& p, Condensed& dist) {
  const size_t n = p.m.rows;
  Eigen::Map<const RowMajor> m(p.m.data.data(), static_cast<Eigen::Index>(n),
                               static_cast<Eigen::Index>(p.m.cols));
  const size_t block = 256;
  RowMajor dots;
  for (size_t start = 0; start < n; start += block) {
    const size_t rows = std::min(block, n - start);
    dots.noalias() = m.middleRows(static_cast<Eigen::Index>(start), static_cast<Eigen::Index>(rows)) *
                     m.transpose();
    for (size_t r = 0; r < rows; ++r) {
      const size_t i = start + r;
      for (size_t j = i + 1; j < n; ++j) dist(i, j) = distance_from_dot(p, i, j, dots(r, j));
    }
  }
}

std::vector<Merge> nn_chain(const Points& p, Linkage linkage, size_t max_bytes) {
  const size_t n = p.m.rows;
  const double bytes = double(n) * double(n - 1) / 2.0 * sizeof(float);
  if (bytes > double(max_bytes))
    throw Error("agglomerative clustering of " + std::to_string(n) + " rows with this linkage needs a " +
                std::to_string(static_cast<long long>(bytes / (1 << 20))) +
                " MiB distance matrix (limit " + std::to_string(max_bytes >> 20) +
                " MiB); use k-means or single linkage for inputs this large");
  Condensed dist(n);
  fill_distances(p, dist);

  std::vector<size_t> size(n, 1);
  std::vector<size_t> active(n);  // active slots, ascending
  std::iota(active.begin(), active.end(), size_t(0));
  std::vector<size_t> chain;
  std::vector<Merge> merges;
  merges.reserve(n - 1);
  while (active.size() > 1) {
    if (chain.empty()) chain.push_back(active.front());
    size_t a = 0, b = 0;
    float dab = 0;
    for (;;) {
      a = chain.back();
      const bool has_prev = chain.size() >= 2;
      size_t best = has_prev ? chain[chain.size() - 2] : n;
      float best_d = has_prev ? dist(a, best) : std::numeric_limits<float>::infinity();
      for (size_t j : active) {
        if (j == a) continue;
        const float d = dist(a, j);
        if (d < best_d) {
          best_d = d;
          best = j;
        }
      }
      if (best == n) {  // only NaN-free data reaches here; guard against an infinite loop
        for (size_t j : active)
          if (j != a) { best = j; best_d = dist(a, j); break; }
      }
      if (has_prev && best == chain[chain.size() - 2]) {
        b = best;
        dab = best_d;
        break;
      }
      chain.push_back(best);
    }
    chain.pop_back();
    chain.pop_back();
    const size_t lo = std::min(a, b), hi = std::max(a, b);
    merges.push_back({lo, hi, static_cast<double>(dab)});
    const double na = static_cast<double>(size[lo]), nb = static_cast<double>(size[hi]);
    for (size_t k : active) {
      if (k == lo || k == hi) continue;
      const double dk_lo = dist(k, lo), dk_hi = dist(k, hi);
      double nd = 0;
      switch (linkage) {
        case Linkage::Average: nd = (na * dk_lo + nb * dk_hi) / (na + nb); break;
        case Linkage::Complete: nd = std::max(dk_lo, dk_hi); break;
        case Linkage::Single: nd = std::min(dk_lo, dk_hi); break;
        case Linkage::Ward: {
          const double nk = static_cast<double>(size[k]);
          const double v = ((na + nk) * dk_lo * dk_lo + (nb + nk) * dk_hi * dk_hi -
                            nk * double(dab) * double(dab)) / (na + nb + nk);
          nd = std::sqrt(std::max(0.0, v));
          break;
        }
      }
      dist(k, lo) = static_cast<float>(nd);
    }
    size[lo] += size[hi];
    active.erase(std::lower_bound(active.begin(), active.end(), hi));
  }
  return merges;
}

std::vector<Merge> prim_single(const Points& p) {
  const size_t n = p.m.rows, dim = p.m.cols;
  std::vector<char> in_tree(n, 0);
  std::vector<float> best(n, std::numeric_limits<float>::infinity());
  std::vector<size_t> parent(n, 0);
  std::vector<Merge> edges;
  edges.reserve(n - 1);
  size_t current = 0;
  in_tree[0] = 1;
  for (size_t step = 1; step < n; ++step) {
    const float* c = p.m.row(current);
    size_t next = n;
    float next_d = std::numeric_limits<float>::infinity();
    for (size_t j = 0; j < n; ++j) {
      if (in_tree[j]) continue;
      const float* r = p.m.row(j);
      float dot = 0;
      for (size_t t = 0; t < dim; ++t) dot += c[t] * r[t];
      const float d = distance_from_dot(p, current, j, dot);
      if (d < best[j]) {
        best[j] = d;
        parent[j] = current;
      }
      if (best[j] < next_d || next == n) {
        next_d = best[j];
        next = j;
      }
    }
    in_tree[next] = 1;
    edges.push_back({std::min(next, parent[next]), std::max(next, parent[next]), double(next_d)});
    current = next;
  }
  return edges;
}

struct UnionFind {
  explicit UnionFind(size_t n) : parent(n) { std::iota(parent.begin(), parent.end(), size_t(0)); }
  size_t find(size_t i) {
    while (parent[i] != i) i = parent[i] = parent[parent[i]];
    return i;
  }
  void unite(size_t a, size_t b) {
    a = find(a);
    b = find(b);
    if (a != b) parent[std::max(a, b)] = std::min(a, b);
  }
  std::vector<size_t> parent;
};

}  // namespace

std::vector<Merge> agglomerative_merges(const Matrix& x, Linkage linkage, ClusterMetric metric,
                                        size_t max_matrix_bytes) {
  validate_embeddings(x, 2);
  const Points p = prepare(x, metric, linkage == Linkage::Ward);
  std::vector<Merge> merges =
      linkage == Linkage::Single ? prim_single(p) : nn_chain(p, linkage, max_matrix_bytes);
  std::stable_sort(merges.begin(), merges.end(),
                   [](const Merge& a, const Merge& b) { return a.distance < b.distance; });
  return merges;
}

ClusterResult agglomerative(const Matrix& x, const AgglomerativeOptions& options) {
  validate_embeddings(x, 2);
  const bool by_k = options.k > 0;
  const bool by_threshold = options.distance_threshold >= 0;
  if (by_k == by_threshold)
    throw Error("agglomerative clustering needs exactly one of k or a distance threshold");
  if (by_k && options.k > x.rows)
    throw Error("agglomerative: k = " + std::to_string(options.k) +
                " is larger than the number of rows (" + std::to_string(x.rows) + ")");
  if (by_threshold && options.metric == ClusterMetric::Cosine && options.linkage != Linkage::Ward &&
      options.distance_threshold > 2.0)
    throw Error("agglomerative: cosine distance threshold " + std::to_string(options.distance_threshold) +
                " is outside [0, 2]");
  if (!std::isfinite(options.distance_threshold))
    throw Error("agglomerative: distance threshold must be finite");

  const std::vector<Merge> merges =
      agglomerative_merges(x, options.linkage, options.metric, options.max_matrix_bytes);
  UnionFind uf(x.rows);
  const size_t apply = by_k ? x.rows - options.k : merges.size();
  for (size_t i = 0; i < apply && i < merges.size(); ++i) {
    if (by_threshold && !(merges[i].distance < options.distance_threshold)) break;
    uf.unite(merges[i].a, merges[i].b);
  }
  ClusterResult result;
  result.labels.resize(x.rows);
  for (size_t i = 0; i < x.rows; ++i) result.labels[i] = static_cast<int>(uf.find(i));
  result.num_clusters = renumber_labels_by_size(result.labels);
  return result;
}

}  // namespace sbert
