// sentence-transformers util.community_detection (CPU path), step for step:
//  1. cosine similarities of L2-normalised rows, a batch of rows at a time;
//  2. a row seeds a community when its min_size-th largest similarity is >= threshold; the
//     community is every row with similarity >= threshold, in decreasing similarity, found
//     through a top-k that starts at max(2*min_size, 50) and doubles while the last value is
//     still > threshold (that size carries over to later rows, as in ST);
//  3. communities sorted by size (stable), overlaps removed largest first, those left with
//     fewer than min_size rows dropped, and the rest sorted by size again (stable).
// Equal similarities are ordered by row index (torch's topk leaves that order unspecified).
#include <Eigen/Core>
#include <algorithm>
#include <numeric>

#include "sbert/cluster.h"
#include "sbert/error.h"

namespace sbert {

namespace {

using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// The indices of the `k` largest values, largest first (ties: lower index first).
std::vector<size_t> top_k(const float* values, size_t n, size_t k, std::vector<size_t>& scratch) {
  scratch.resize(n);
  std::iota(scratch.begin(), scratch.end(), size_t(0));
  auto greater = [values](size_t a, size_t b) {
    if (values[a] != values[b]) return values[a] > values[b];
    return a < b;
  };
  k = std::min(k, n);
  std::partial_sort(scratch.begin(), scratch.begin() + static_cast<std::ptrdiff_t>(k), scratch.end(),
                    greater);
  return std::vector<size_t>(scratch.begin(), scratch.begin() + static_cast<std::ptrdiff_t>(k));
}

}  // namespace

std::vector<std::vector<size_t>> community_detection(const Matrix& x, const CommunityOptions& options) {
  validate_embeddings(x, 1);
  if (!(options.threshold >= -1.0f && options.threshold <= 1.0f))
    throw Error("community threshold " + std::to_string(options.threshold) +
                " is outside [-1, 1] (it is a cosine similarity)");
  if (options.min_community_size < 1) throw Error("community min size must be at least 1");
  const size_t n = x.rows;
  const Matrix e = normalized_rows(x);
  Eigen::Map<const RowMajor> em(e.data.data(), static_cast<Eigen::Index>(n),
                                static_cast<Eigen::Index>(e.cols));
  const float threshold = options.threshold;
  const size_t min_size = std::min(options.min_community_size, n);
  size_t sort_max_size = std::min(std::max<size_t>(2 * min_size, 50), n);
  const size_t batch = std::max<size_t>(options.batch_size, 1);

  std::vector<std::vector<size_t>> extracted;
  std::vector<size_t> scratch;
  RowMajor scores;
  for (size_t start = 0; start < n; start += batch) {
    const size_t rows = std::min(batch, n - start);
    scores.noalias() = em.middleRows(static_cast<Eigen::Index>(start), static_cast<Eigen::Index>(rows)) *
                       em.transpose();
    for (size_t i = 0; i < rows; ++i) {
      const float* s = scores.data() + i * n;
      // k-th largest value (k = min_size) decides whether this row seeds a community.
      std::vector<float> vals(s, s + n);
      std::nth_element(vals.begin(), vals.begin() + static_cast<std::ptrdiff_t>(min_size - 1), vals.end(),
                       std::greater<float>());
      if (!(vals[min_size - 1] >= threshold)) continue;
      std::vector<size_t> top = top_k(s, n, sort_max_size, scratch);
      while (s[top.back()] > threshold && sort_max_size < n) {
        sort_max_size = std::min(2 * sort_max_size, n);
        top = top_k(s, n, sort_max_size, scratch);
      }
      std::vector<size_t> community;
      for (size_t idx : top)
        if (s[idx] >= threshold) community.push_back(idx);
      extracted.push_back(std::move(community));
    }
  }

  auto by_size = [](const auto& a, const auto& b) { return a.size() > b.size(); };
  std::stable_sort(extracted.begin(), extracted.end(), by_size);
  std::vector<std::vector<size_t>> unique;
  std::vector<char> taken(n, 0);
  for (const auto& community : extracted) {
    std::vector<size_t> kept;
    for (size_t idx : community)
      if (!taken[idx]) kept.push_back(idx);
    if (kept.size() >= min_size) {
      for (size_t idx : kept) taken[idx] = 1;
      unique.push_back(std::move(kept));
    }
  }
  std::stable_sort(unique.begin(), unique.end(), by_size);
  return unique;
}

ClusterResult community_labels(const std::vector<std::vector<size_t>>& communities, size_t rows) {
  ClusterResult result;
  result.labels.assign(rows, -1);
  for (size_t c = 0; c < communities.size(); ++c) {
    for (size_t idx : communities[c]) {
      if (idx >= rows)
        throw Error("community member " + std::to_string(idx) + " out of range (" +
                    std::to_string(rows) + " rows)");
      result.labels[idx] = static_cast<int>(c);
    }
  }
  result.num_clusters = communities.size();
  return result;
}

}  // namespace sbert
