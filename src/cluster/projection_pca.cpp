// PCA through the eigen-decomposition of the smaller of the covariance (dim x dim) and the Gram
// (rows x rows) matrix of the centred rows, in double precision.
#include <Eigen/Dense>
#include <algorithm>
#include <cmath>

#include "sbert/cluster.h"
#include "sbert/error.h"
#include "sbert/projection.h"

namespace sbert {

ProjectionMethod parse_projection_method(const std::string& name) {
  if (name == "pca") return ProjectionMethod::Pca;
  if (name == "tsne") return ProjectionMethod::Tsne;
  throw Error("unknown projection '" + name + "' (expected pca or tsne)");
}

Matrix project_pca(const Matrix& x, size_t dims) {
  validate_embeddings(x, 1);
  const Eigen::Index n = static_cast<Eigen::Index>(x.rows), d = static_cast<Eigen::Index>(x.cols);
  Eigen::MatrixXd xc(n, d);
  for (Eigen::Index i = 0; i < n; ++i)
    for (Eigen::Index j = 0; j < d; ++j) xc(i, j) = x.at(size_t(i), size_t(j));
  xc.rowwise() -= xc.colwise().mean();

  Matrix out(x.rows, dims);
  Eigen::MatrixXd coords;  // n x available
  if (d <= n) {
    Eigen::MatrixXd cov = xc.transpose() * xc;
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(cov);
    const Eigen::Index avail = std::min<Eigen::Index>(static_cast<Eigen::Index>(dims), d);
    // Eigenvalues ascend: the last columns are the principal axes.
    Eigen::MatrixXd axes(d, avail);
    for (Eigen::Index c = 0; c < avail; ++c) axes.col(c) = es.eigenvectors().col(d - 1 - c);
    coords = xc * axes;
  } else {
    Eigen::MatrixXd gram = xc * xc.transpose();
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(gram);
    const Eigen::Index avail = std::min<Eigen::Index>(static_cast<Eigen::Index>(dims), n);
    coords.resize(n, avail);
    for (Eigen::Index c = 0; c < avail; ++c) {
      const double lambda = std::max(0.0, es.eigenvalues()(n - 1 - c));
      coords.col(c) = es.eigenvectors().col(n - 1 - c) * std::sqrt(lambda);
    }
  }
  // Drop axes carrying no variance (rank-deficient data) so they print as 0, not noise.
  const double total = coords.size() ? coords.cwiseAbs().maxCoeff() : 0.0;
  for (Eigen::Index c = 0; c < coords.cols(); ++c) {
    Eigen::Index arg = 0;
    const double m = coords.col(c).cwiseAbs().maxCoeff(&arg);
    const double sign = coords(arg, c) < 0 ? -1.0 : 1.0;
    const bool empty = m <= 1e-9 * std::max(total, 1e-30);
    for (Eigen::Index i = 0; i < n; ++i)
      out.at(size_t(i), size_t(c)) = empty ? 0.0f : static_cast<float>(sign * coords(i, c));
  }
  return out;
}

Matrix project(const Matrix& x, ProjectionMethod method, unsigned seed) {
  if (method == ProjectionMethod::Pca) return project_pca(x, 2);
  TsneOptions o;
  o.seed = seed;
  return project_tsne(x, o);
}

}  // namespace sbert
