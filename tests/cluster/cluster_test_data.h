// Data generators shared by the cluster tests (header-only; every test file is its own binary).
#pragma once
#include <random>
#include <vector>

#include "sbert/matrix.h"

namespace sbert::testing {

// `clusters` Gaussian blobs of `per_cluster` points in `dim` dimensions: centres drawn uniformly
// in [-spread, spread]^dim, points with standard deviation `sigma` around them. Rows are
// interleaved (row i belongs to blob i % clusters) so no method can profit from the order.
inline Matrix make_blobs(size_t clusters, size_t per_cluster, size_t dim, double spread, double sigma,
                         unsigned seed, std::vector<int>* truth) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> uni(-spread, spread);
  std::normal_distribution<double> noise(0.0, sigma);
  std::vector<std::vector<double>> centres(clusters, std::vector<double>(dim));
  for (auto& c : centres)
    for (double& v : c) v = uni(rng);
  Matrix m(clusters * per_cluster, dim);
  if (truth) truth->assign(m.rows, 0);
  for (size_t i = 0; i < m.rows; ++i) {
    const size_t c = i % clusters;
    for (size_t j = 0; j < dim; ++j) m.at(i, j) = static_cast<float>(centres[c][j] + noise(rng));
    if (truth) (*truth)[i] = static_cast<int>(c);
  }
  return m;
}

inline Matrix make_uniform(size_t rows, size_t dim, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> uni(-1.0, 1.0);
  Matrix m(rows, dim);
  for (float& v : m.data) v = static_cast<float>(uni(rng));
  return m;
}

}  // namespace sbert::testing
