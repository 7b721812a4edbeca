#include "nn/int8_gemm.h"

#include <algorithm>
#include <cstring>
#include <new>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>
#define SBERT_INT8_AVX2 1
#endif

namespace sbert::nn::cpu {
namespace {

constexpr int64_t kPanel = Int8PackedWeight::kPanel;
constexpr int kTileRows = 6;

#ifdef SBERT_INT8_AVX2
// Rows x 16 columns of c from `rows` rows of a (stride lda) and one panel (groups of 4 k: 16
// columns x 4 bytes = two 32-byte vectors of 8 columns each).
template <int MR>
[[gnu::always_inline]] __attribute__((target("avx2"))) inline void tile(const uint8_t* a, int64_t lda,
                                                                         const int8_t* panel, int64_t groups,
                                                                         int32_t* c, int64_t ldc, int64_t cols) {
  __m256i acc[MR][2];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_si256();
  const __m256i ones = _mm256_set1_epi16(1);
  for (int64_t g = 0; g < groups; ++g) {
    const __m256i b0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(panel + g * 64));
    const __m256i b1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(panel + g * 64 + 32));
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      int32_t four;
      std::memcpy(&four, a + i * lda + g * 4, sizeof four);
      const __m256i x = _mm256_set1_epi32(four);
      acc[i][0] = _mm256_add_epi32(acc[i][0], _mm256_madd_epi16(_mm256_maddubs_epi16(x, b0), ones));
      acc[i][1] = _mm256_add_epi32(acc[i][1], _mm256_madd_epi16(_mm256_maddubs_epi16(x, b1), ones));
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
    if (cols == kPanel) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(c + i * ldc), acc[i][0]);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(c + i * ldc + 8), acc[i][1]);
    } else {
      int32_t row[kPanel];
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(row), acc[i][0]);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(row + 8), acc[i][1]);
      std::memcpy(c + i * ldc, row, static_cast<size_t>(cols) * sizeof(int32_t));
    }
  }
}

// The tile of exactly `rows` (1..R) rows.
template <int R>
[[gnu::always_inline]] __attribute__((target("avx2"))) inline void tail(int64_t rows, const uint8_t* a, int64_t lda,
                                                                         const int8_t* panel, int64_t groups,
                                                                         int32_t* c, int64_t ldc, int64_t cols) {
  if constexpr (R > 0) {
    if (rows == R)
      tile<R>(a, lda, panel, groups, c, ldc, cols);
    else
      tail<R - 1>(rows, a, lda, panel, groups, c, ldc, cols);
  }
}

// Blocks of 10 tiles' rows: each panel (k/4 x 64 bytes) is reused by every tile of the block.
__attribute__((target("avx2"))) void multiply_avx2(const int8_t* panels, int64_t n, int64_t groups,
                                                   const uint8_t* a, int64_t lda, int64_t rows, int32_t* c,
                                                   int64_t ldc) {
  constexpr int64_t kBlockRows = 10 * kTileRows;
  const int64_t np = (n + kPanel - 1) / kPanel;
  for (int64_t b0 = 0; b0 < rows; b0 += kBlockRows) {
    const int64_t b1 = std::min(b0 + kBlockRows, rows);
    for (int64_t p = 0; p < np; ++p) {
      const int8_t* panel = panels + p * groups * 64;
      const int64_t cols = std::min(kPanel, n - p * kPanel);
      int64_t r = b0;
      for (; r + kTileRows <= b1; r += kTileRows)
        tile<kTileRows>(a + r * lda, lda, panel, groups, c + r * ldc + p * kPanel, ldc, cols);
      if (r < b1)
        tail<kTileRows - 1>(b1 - r, a + r * lda, lda, panel, groups, c + r * ldc + p * kPanel, ldc, cols);
    }
  }
}
#endif

}  // namespace

bool Int8PackedWeight::available() {
#ifdef SBERT_INT8_AVX2
  static const bool yes = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0;
  }();
  return yes;
#else
  return false;
#endif
}

const char* Int8PackedWeight::kernel_name() { return "AVX2 u8xs8 6x16"; }

Int8PackedWeight::Int8PackedWeight(const int8_t* codes, int64_t n, int64_t k)
    : n_(n), k_(k), k4_(padded_inputs(k)) {
  const int64_t np = (n + kPanel - 1) / kPanel, groups = k4_ / 4;
  const size_t bytes = static_cast<size_t>(std::max<int64_t>(np * groups * 64, 64));
  panels_.reset(static_cast<int8_t*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64)));
  if (!panels_) throw std::bad_alloc();
  int8_t* p = panels_.get();
  std::memset(p, 0, bytes);
  for (int64_t o = 0; o < n; ++o)
    for (int64_t i = 0; i < k; ++i)
      p[((o / kPanel) * groups + i / 4) * 64 + (o % kPanel) * 4 + i % 4] = codes[o * k + i];
}

void Int8PackedWeight::multiply(const uint8_t* a, int64_t lda, int64_t rows, int32_t* c, int64_t ldc) const {
  if (rows <= 0 || n_ <= 0) return;
#ifdef SBERT_INT8_AVX2
  if (available()) return multiply_avx2(panels_.get(), n_, k4_ / 4, a, lda, rows, c, ldc);
#endif
  // Scalar fallback (never used by QuantizedLinear, which takes oneDNN off AVX2; kept exact).
  const int64_t groups = k4_ / 4;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < n_; ++o) {
      const int8_t* panel = panels_.get() + (o / kPanel) * groups * 64 + (o % kPanel) * 4;
      int32_t sum = 0;
      for (int64_t i = 0; i < k4_; ++i) sum += int32_t{a[r * lda + i]} * panel[(i / 4) * 64 + i % 4];
      c[r * ldc + o] = sum;
    }
}

}  // namespace sbert::nn::cpu
