#include "sbert/matrix.h"

#include <algorithm>
#include <cmath>

#include "sbert/error.h"

namespace sbert {

Matrix normalized_rows(const Matrix& x) {
  Matrix out = x;
  for (size_t i = 0; i < out.rows; ++i) {
    float* r = out.row(i);
    double s = 0;
    for (size_t j = 0; j < out.cols; ++j) s += double(r[j]) * r[j];
    const float norm = std::max(static_cast<float>(std::sqrt(s)), 1e-12f);
    for (size_t j = 0; j < out.cols; ++j) r[j] /= norm;
  }
  return out;
}

void check_finite(const Matrix& x, const std::string& what) {
  for (size_t i = 0; i < x.rows; ++i)
    for (size_t j = 0; j < x.cols; ++j)
      if (!std::isfinite(x.at(i, j))) throw Error(what + " " + std::to_string(i) + " has a non-finite value");
}

}  // namespace sbert
