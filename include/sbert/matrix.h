// A dense row-major float32 matrix: the torch-free currency between components
// (embeddings out of the encoder, into similarity, clustering and search).
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace sbert {

struct Matrix {
  size_t rows = 0;
  size_t cols = 0;
  std::vector<float> data;  // rows * cols, row-major

  Matrix() = default;
  Matrix(size_t r, size_t c) : rows(r), cols(c), data(r * c, 0.0f) {}
  float* row(size_t i) { return data.data() + i * cols; }
  const float* row(size_t i) const { return data.data() + i * cols; }
  float& at(size_t i, size_t j) { return data[i * cols + j]; }
  float at(size_t i, size_t j) const { return data[i * cols + j]; }
};

// Each row divided by max(||row||, 1e-12), as torch.nn.functional.normalize does.
Matrix normalized_rows(const Matrix& x);
// Throws sbert::Error naming `what` and the row when a value is NaN or infinite.
void check_finite(const Matrix& x, const std::string& what);

}  // namespace sbert
