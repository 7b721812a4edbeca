// NumPy .npy files (version 1.0/2.0, little-endian float32/float64, C order, 1-D or 2-D).
#pragma once
#include <string>

#include "sbert/matrix.h"

namespace sbert {

// The bytes of a .npy file holding `m` as float32 (header + data).
std::string npy_header(size_t rows, size_t cols);
void write_npy(const std::string& path, const Matrix& m);  // atomic; "-" = stdout
// Reads float32 or float64 (converted); throws sbert::Error naming the file and the problem.
Matrix read_npy(const std::string& path);

}  // namespace sbert
