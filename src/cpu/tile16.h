// The register tile both float32 CPU kernels are built on (packed_gemm.cpp's GEMM, cpu_kernels.cpp's
// attention): rows x 16 columns of c = a · b, with the rows x (16 / Lanes) accumulators kept in
// registers over the whole k. Each output is one multiply-add chain over k in order, so the bits
// do not depend on the tile height, the SIMD width or which rows a tile takes. Include it only in
// files compiled per ISA (see simd.h): everything here is always inlined into the caller's target.
#pragma once

#include <cstdint>
#include <cstring>

#include "cpu/simd.h"

namespace sbert::cpu::simd {

// c[i, 0..cols) = sum over kk of a[i * lda + kk] * b[kk * ldb + 0..16) for i < MR (cols <= 16; b
// has 16 readable floats per row, the ones past cols are ignored).
template <int Lanes, int MR>
[[gnu::always_inline]] inline void tile16(const float* a, int64_t lda, const float* b, int64_t ldb,
                                          int64_t k, float* c, int64_t ldc, int64_t cols) {
  using V = typename Vec<Lanes>::type;
  typedef V VU __attribute__((aligned(4)));  // b may be unaligned (float loads, movups)
  constexpr int NV = 16 / Lanes;
  V acc[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) acc[i][j] = V{};
  for (int64_t kk = 0; kk < k; ++kk) {
    V bv[NV];
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) bv[j] = *reinterpret_cast<const VU*>(b + kk * ldb + j * Lanes);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const float s = a[i * lda + kk];
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) acc[i][j] += s * bv[j];
    }
  }
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    if (cols == 16) {
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) std::memcpy(c + i * ldc + j * Lanes, &acc[i][j], sizeof(V));
    } else {
      float row[16];
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) std::memcpy(row + j * Lanes, &acc[i][j], sizeof(V));
      std::memcpy(c + i * ldc, row, static_cast<size_t>(cols) * sizeof(float));
    }
  }
}

// The same for any rows in [1, R]: the tile of exactly that height (no rows computed twice).
template <int Lanes, int R>
[[gnu::always_inline]] inline void tile16_rows(int64_t rows, const float* a, int64_t lda, const float* b,
                                               int64_t ldb, int64_t k, float* c, int64_t ldc,
                                               int64_t cols) {
  if constexpr (R > 0) {
    if (rows == R)
      tile16<Lanes, R>(a, lda, b, ldb, k, c, ldc, cols);
    else
      tile16_rows<Lanes, R - 1>(rows, a, lda, b, ldb, k, c, ldc, cols);
  }
}

}  // namespace sbert::cpu::simd
