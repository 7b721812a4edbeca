// Barnes-Hut t-SNE (van der Maaten 2014) in two dimensions.
//  - affinities: Gaussian conditional probabilities over the K = 3*perplexity exact nearest
//    neighbours (squared Euclidean distances), bandwidth found by bisection on the entropy,
//    symmetrised P = (P + P^T) / 2N;
//  - layout: PCA initialisation scaled to std 1e-4 (plus a seeded jitter of 1e-3 of that, so
//    duplicate rows can separate), gradient descent with momentum 0.5 -> 0.8, per-coordinate
//    gains, early exaggeration for the first 250 iterations, learning rate max(N/12/4, 50)
//    (sklearn's "auto", whose gradient keeps the factor 4 as here);
//  - repulsion: a quadtree rebuilt every iteration; a cell stands for its points when
//    width / distance < theta.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <tuple>
#include <limits>
#include <vector>

#include "sbert/cluster.h"
#include "sbert/error.h"
#include "sbert/projection.h"

namespace sbert {

namespace {

struct Sparse {  // CSR rows of the symmetric affinity matrix
  std::vector<size_t> start;
  std::vector<size_t> col;
  std::vector<double> val;
};

Sparse affinities(const std::vector<double>& x, size_t n, size_t d, double perplexity) {
  const size_t k = std::min(n - 1, static_cast<size_t>(std::floor(3 * perplexity)) + 1);
  std::vector<double> sq(n, 0.0);
  for (size_t i = 0; i < n; ++i)
    for (size_t t = 0; t < d; ++t) sq[i] += x[i * d + t] * x[i * d + t];
  std::vector<size_t> nb_idx(n * k);
  std::vector<double> nb_d(n * k);
  std::vector<double> row(n);
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < n; ++j) {
      double dot = 0;
      for (size_t t = 0; t < d; ++t) dot += x[i * d + t] * x[j * d + t];
      row[j] = std::max(0.0, sq[i] + sq[j] - 2 * dot);
    }
    row[i] = std::numeric_limits<double>::infinity();
    std::iota(order.begin(), order.end(), size_t(0));
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
                      [&](size_t a, size_t b) { return row[a] != row[b] ? row[a] < row[b] : a < b; });
    for (size_t t = 0; t < k; ++t) {
      nb_idx[i * k + t] = order[t];
      nb_d[i * k + t] = row[order[t]];
    }
  }
  // Bisection on beta so that the entropy of P(.|i) equals log(perplexity).
  const double target = std::log(perplexity);
  std::vector<double> cond(n * k);
  std::vector<double> p(k);
  for (size_t i = 0; i < n; ++i) {
    const double* dist = &nb_d[i * k];
    double beta = 1.0, lo = 0.0, hi = std::numeric_limits<double>::infinity();
    const double dmin = dist[0];
    for (int it = 0; it < 200; ++it) {
      double sum = 0, wsum = 0;
      for (size_t t = 0; t < k; ++t) {
        p[t] = std::exp(-beta * (dist[t] - dmin));  // shifted for stability; cancels out
        sum += p[t];
        wsum += p[t] * (dist[t] - dmin);
      }
      const double h = std::log(sum) + beta * wsum / sum;
      if (std::fabs(h - target) < 1e-5) break;
      if (h > target) {
        lo = beta;
        beta = std::isinf(hi) ? beta * 2 : (beta + hi) / 2;
      } else {
        hi = beta;
        beta = (beta + lo) / 2;
      }
    }
    double sum = 0;
    for (size_t t = 0; t < k; ++t) sum += p[t];
    for (size_t t = 0; t < k; ++t) cond[i * k + t] = p[t] / sum;
  }
  // Symmetrise.
  std::vector<std::tuple<size_t, size_t, double>> triples;
  triples.reserve(2 * n * k);
  for (size_t i = 0; i < n; ++i)
    for (size_t t = 0; t < k; ++t) {
      const double v = cond[i * k + t] / (2.0 * n);
      triples.emplace_back(i, nb_idx[i * k + t], v);
      triples.emplace_back(nb_idx[i * k + t], i, v);
    }
  std::sort(triples.begin(), triples.end());
  Sparse s;
  s.start.assign(n + 1, 0);
  for (size_t a = 0; a < triples.size();) {
    size_t b = a;
    double v = 0;
    while (b < triples.size() && std::get<0>(triples[b]) == std::get<0>(triples[a]) &&
           std::get<1>(triples[b]) == std::get<1>(triples[a]))
      v += std::get<2>(triples[b++]);
    s.col.push_back(std::get<1>(triples[a]));
    s.val.push_back(v);
    s.start[std::get<0>(triples[a]) + 1]++;
    a = b;
  }
  for (size_t i = 0; i < n; ++i) s.start[i + 1] += s.start[i];
  return s;
}

class QuadTree {
 public:
  QuadTree(const std::vector<double>& y, size_t n) : y_(y), perm_(n) {
    std::iota(perm_.begin(), perm_.end(), size_t(0));
    double minx = y[0], maxx = y[0], miny = y[1], maxy = y[1];
    for (size_t i = 1; i < n; ++i) {
      minx = std::min(minx, y[2 * i]);
      maxx = std::max(maxx, y[2 * i]);
      miny = std::min(miny, y[2 * i + 1]);
      maxy = std::max(maxy, y[2 * i + 1]);
    }
    const double hw = std::max(maxx - minx, maxy - miny) / 2 + 1e-9;
    nodes_.reserve(2 * n + 8);
    build(0, n, (minx + maxx) / 2, (miny + maxy) / 2, hw, 0);
  }

  // Adds the repulsive force on point i (unnormalised: sum q^2 (yi - yj)) and its share of Z.
  void repulsion(size_t i, double theta2, double& fx, double& fy, double& z) const {
    const double xi = y_[2 * i], yi = y_[2 * i + 1];
    stack_.clear();
    stack_.push_back(0);
    while (!stack_.empty()) {
      const Node& node = nodes_[stack_.back()];
      stack_.pop_back();
      if (node.leaf) {
        for (size_t t = node.begin; t < node.end; ++t) {
          const size_t j = perm_[t];
          if (j == i) continue;
          const double dx = xi - y_[2 * j], dy = yi - y_[2 * j + 1];
          const double q = 1.0 / (1.0 + dx * dx + dy * dy);
          z += q;
          fx += q * q * dx;
          fy += q * q * dy;
        }
        continue;
      }
      const double dx = xi - node.mx, dy = yi - node.my;
      const double d2 = dx * dx + dy * dy;
      const double width = 2 * node.hw;
      if (width * width < theta2 * d2) {
        const double q = 1.0 / (1.0 + d2);
        const double c = static_cast<double>(node.end - node.begin);
        z += c * q;
        fx += c * q * q * dx;
        fy += c * q * q * dy;
      } else {
        for (int ch : node.child)
          if (ch >= 0) stack_.push_back(static_cast<size_t>(ch));
      }
    }
  }

 private:
  struct Node {
    double mx = 0, my = 0, hw = 0;
    size_t begin = 0, end = 0;
    bool leaf = true;
    int child[4] = {-1, -1, -1, -1};
  };

  int build(size_t b, size_t e, double cx, double cy, double hw, int depth) {
    const int id = static_cast<int>(nodes_.size());
    nodes_.emplace_back();
    double mx = 0, my = 0;
    for (size_t t = b; t < e; ++t) {
      mx += y_[2 * perm_[t]];
      my += y_[2 * perm_[t] + 1];
    }
    Node node;
    node.mx = mx / double(e - b);
    node.my = my / double(e - b);
    node.hw = hw;
    node.begin = b;
    node.end = e;
    if (e - b > 1 && depth < 48) {
      node.leaf = false;
      auto first = perm_.begin() + static_cast<std::ptrdiff_t>(b);
      auto last = perm_.begin() + static_cast<std::ptrdiff_t>(e);
      auto mid = std::partition(first, last, [&](size_t j) { return y_[2 * j] < cx; });
      auto q1 = std::partition(first, mid, [&](size_t j) { return y_[2 * j + 1] < cy; });
      auto q3 = std::partition(mid, last, [&](size_t j) { return y_[2 * j + 1] < cy; });
      const size_t cuts[5] = {b, size_t(q1 - perm_.begin()), size_t(mid - perm_.begin()),
                              size_t(q3 - perm_.begin()), e};
      const double h = hw / 2;
      const double ox[4] = {-h, -h, h, h}, oy[4] = {-h, h, -h, h};
      for (int c = 0; c < 4; ++c)
        if (cuts[c + 1] > cuts[c])
          node.child[c] = build(cuts[c], cuts[c + 1], cx + ox[c], cy + oy[c], h, depth + 1);
    }
    nodes_[static_cast<size_t>(id)] = node;
    return id;
  }

  const std::vector<double>& y_;
  std::vector<size_t> perm_;
  std::vector<Node> nodes_;
  mutable std::vector<size_t> stack_;
};

}  // namespace

Matrix project_tsne(const Matrix& x, const TsneOptions& o) {
  validate_embeddings(x, 2);
  if (!(o.perplexity > 0)) throw Error("t-SNE: perplexity must be positive");
  if (o.iterations < 1) throw Error("t-SNE: iterations must be at least 1");
  const size_t n = x.rows;
  const double perplexity = std::max(std::min(o.perplexity, (double(n) - 1) / 3.0), 1.0 / 3.0);

  const Matrix reduced = (x.cols > o.pca_dims && o.pca_dims >= 2) ? project_pca(x, o.pca_dims) : x;
  const size_t d = reduced.cols;
  std::vector<double> xd(reduced.data.begin(), reduced.data.end());
  const Sparse p = affinities(xd, n, d, perplexity);

  // PCA initialisation, std of the first axis 1e-4.
  const Matrix init = project_pca(reduced, 2);
  std::vector<double> y(2 * n);
  double mean0 = 0, var0 = 0;
  for (size_t i = 0; i < n; ++i) mean0 += init.at(i, 0);
  mean0 /= double(n);
  for (size_t i = 0; i < n; ++i) var0 += (init.at(i, 0) - mean0) * (init.at(i, 0) - mean0);
  const double sd0 = std::sqrt(var0 / double(n));
  const double scale = sd0 > 0 ? 1e-4 / sd0 : 0.0;
  std::mt19937 rng(o.seed);
  std::normal_distribution<double> jitter(0.0, 1e-7);
  for (size_t i = 0; i < n; ++i) {
    y[2 * i] = init.at(i, 0) * scale + jitter(rng);
    y[2 * i + 1] = init.at(i, 1) * scale + jitter(rng);
  }

  const double lr = o.learning_rate > 0 ? o.learning_rate : std::max(double(n) / 12.0 / 4.0, 50.0);
  const int exaggeration_iters = std::min(250, o.iterations);
  std::vector<double> update(2 * n, 0.0), gains(2 * n, 1.0), grad(2 * n), rep(2 * n);
  const double theta2 = o.theta * o.theta;
  for (int it = 0; it < o.iterations; ++it) {
    const double exaggeration = it < exaggeration_iters ? o.early_exaggeration : 1.0;
    const double momentum = it < exaggeration_iters ? 0.5 : 0.8;
    QuadTree tree(y, n);
    double z = 0;
    for (size_t i = 0; i < n; ++i) {
      double fx = 0, fy = 0;
      tree.repulsion(i, theta2, fx, fy, z);
      rep[2 * i] = fx;
      rep[2 * i + 1] = fy;
    }
    z = std::max(z, 1e-300);
    for (size_t i = 0; i < n; ++i) {
      double ax = 0, ay = 0;
      for (size_t t = p.start[i]; t < p.start[i + 1]; ++t) {
        const size_t j = p.col[t];
        const double dx = y[2 * i] - y[2 * j], dy = y[2 * i + 1] - y[2 * j + 1];
        const double q = 1.0 / (1.0 + dx * dx + dy * dy);
        ax += p.val[t] * q * dx;
        ay += p.val[t] * q * dy;
      }
      grad[2 * i] = 4.0 * (exaggeration * ax - rep[2 * i] / z);
      grad[2 * i + 1] = 4.0 * (exaggeration * ay - rep[2 * i + 1] / z);
    }
    double cx = 0, cy = 0;
    for (size_t t = 0; t < 2 * n; ++t) {
      const bool same_sign = (grad[t] > 0) == (update[t] > 0);
      gains[t] = same_sign ? std::max(gains[t] * 0.8, 0.01) : gains[t] + 0.2;
      update[t] = momentum * update[t] - lr * gains[t] * grad[t];
      y[t] += update[t];
    }
    for (size_t i = 0; i < n; ++i) {
      cx += y[2 * i];
      cy += y[2 * i + 1];
    }
    cx /= double(n);
    cy /= double(n);
    for (size_t i = 0; i < n; ++i) {
      y[2 * i] -= cx;
      y[2 * i + 1] -= cy;
    }
  }
  Matrix out(n, 2);
  for (size_t i = 0; i < 2 * n; ++i) out.data[i] = static_cast<float>(y[i]);
  for (float v : out.data)
    if (!std::isfinite(v)) throw Error("t-SNE diverged (non-finite coordinates); try --projection pca");
  return out;
}

}  // namespace sbert
