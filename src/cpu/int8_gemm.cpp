#include "cpu/int8_gemm.h"

#include <algorithm>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "sbert/log.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>
#define SBERT_INT8_AVX2 1
#endif

namespace sbert::cpu {
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

// AVX-512 VNNI: a panel's group (16 columns x 4 bytes) is one 64-byte vector, and vpdpbusd adds
// the four u8 x s8 products of each column into its 32-bit lane with no narrower intermediate:
// exact for full 8-bit activations. A tile is MR rows x NP panels (12 x 2: 24 accumulators).
#define SBERT_VNNI_TARGET __attribute__((target("avx512f,avx512bw,avx512vnni")))
constexpr int kVnniRows = 12;

// acc += dpbusd(x, b) in place. GCC 12 expands the intrinsic with a register copy around each
// call and spills the accumulators of a 12 x 2 tile to the stack (half the speed); the one
// instruction written out keeps all 24 in registers.
[[gnu::always_inline]] SBERT_VNNI_TARGET inline void dpbusd(__m512i& acc, __m512i x, __m512i b) {
  asm("vpdpbusd %[b], %[x], %[acc]" : [acc] "+v"(acc) : [x] "v"(x), [b] "v"(b));
}

template <int MR, int NP>
[[gnu::always_inline]] SBERT_VNNI_TARGET inline void tile_vnni(const uint8_t* a, int64_t lda, const int8_t* panel,
                                                              int64_t panel_bytes, int64_t groups, int32_t* c,
                                                              int64_t ldc, int64_t last_cols) {
  __m512i acc[MR][NP];
#pragma GCC unroll 12
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 2
    for (int j = 0; j < NP; ++j) acc[i][j] = _mm512_setzero_si512();
  for (int64_t g = 0; g < groups; ++g) {
    __m512i b[NP];
#pragma GCC unroll 2
    for (int j = 0; j < NP; ++j) b[j] = _mm512_load_si512(panel + j * panel_bytes + g * 64);
#pragma GCC unroll 12
    for (int i = 0; i < MR; ++i) {
      int32_t four;
      std::memcpy(&four, a + i * lda + g * 4, sizeof four);
      const __m512i x = _mm512_set1_epi32(four);
#pragma GCC unroll 2
      for (int j = 0; j < NP; ++j) dpbusd(acc[i][j], x, b[j]);
    }
  }
  const __mmask16 last = static_cast<__mmask16>(last_cols >= kPanel ? 0xFFFF : (1u << last_cols) - 1);
#pragma GCC unroll 12
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 2
    for (int j = 0; j < NP; ++j)
      _mm512_mask_storeu_epi32(c + i * ldc + j * kPanel, j == NP - 1 ? last : static_cast<__mmask16>(0xFFFF),
                               acc[i][j]);
}

template <int NP, int R>
[[gnu::always_inline]] SBERT_VNNI_TARGET inline void tail_vnni(int64_t rows, const uint8_t* a, int64_t lda,
                                                              const int8_t* panel, int64_t panel_bytes, int64_t groups,
                                                              int32_t* c, int64_t ldc, int64_t last_cols) {
  if constexpr (R > 0) {
    if (rows == R)
      tile_vnni<R, NP>(a, lda, panel, panel_bytes, groups, c, ldc, last_cols);
    else
      tail_vnni<NP, R - 1>(rows, a, lda, panel, panel_bytes, groups, c, ldc, last_cols);
  }
}

template <int NP>
SBERT_VNNI_TARGET void rows_vnni(const uint8_t* a, int64_t lda, int64_t rows, const int8_t* panel, int64_t panel_bytes,
                                 int64_t groups, int32_t* c, int64_t ldc, int64_t last_cols) {
  int64_t r = 0;
  for (; r + kVnniRows <= rows; r += kVnniRows)
    tile_vnni<kVnniRows, NP>(a + r * lda, lda, panel, panel_bytes, groups, c + r * ldc, ldc, last_cols);
  if (r < rows)
    tail_vnni<NP, kVnniRows - 1>(rows - r, a + r * lda, lda, panel, panel_bytes, groups, c + r * ldc, ldc, last_cols);
}

// Blocks of 5 tiles' rows; within a block, panels two at a time (the last one alone when odd).
SBERT_VNNI_TARGET void multiply_vnni(const int8_t* panels, int64_t n, int64_t groups, const uint8_t* a, int64_t lda,
                                     int64_t rows, int32_t* c, int64_t ldc) {
  constexpr int64_t kBlockRows = 5 * kVnniRows;
  const int64_t np = (n + kPanel - 1) / kPanel, panel_bytes = groups * 64;
  for (int64_t b0 = 0; b0 < rows; b0 += kBlockRows) {
    const int64_t b1 = std::min(b0 + kBlockRows, rows);
    for (int64_t p = 0; p < np; p += 2) {
      const int8_t* panel = panels + p * panel_bytes;
      int32_t* cp = c + b0 * ldc + p * kPanel;
      if (p + 1 < np) {
        const int64_t last_cols = std::min(kPanel, n - (p + 1) * kPanel);
        rows_vnni<2>(a + b0 * lda, lda, b1 - b0, panel, panel_bytes, groups, cp, ldc, last_cols);
      } else {
        const int64_t last_cols = std::min(kPanel, n - p * kPanel);
        rows_vnni<1>(a + b0 * lda, lda, b1 - b0, panel, panel_bytes, groups, cp, ldc, last_cols);
      }
    }
  }
}
#endif

// Portable: the same sums in plain C++ (the reference the ISA kernels are checked against).
void multiply_scalar(const int8_t* panels, int64_t n, int64_t k4, const uint8_t* a, int64_t lda, int64_t rows,
                     int32_t* c, int64_t ldc) {
  const int64_t groups = k4 / 4;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t o = 0; o < n; ++o) {
      const int8_t* panel = panels + (o / kPanel) * groups * 64 + (o % kPanel) * 4;
      int32_t sum = 0;
      for (int64_t i = 0; i < k4; ++i) sum += int32_t{a[r * lda + i]} * panel[(i / 4) * 64 + i % 4];
      c[r * ldc + o] = sum;
    }
}

// The first-use check of an ISA kernel: a fixed problem around the tile, panel and k-group edges
// (21 rows, 37 outputs, k = 70), codes from a fixed generator with the extremes included,
// compared exactly with the scalar code.
bool self_check(Int8Kernel kernel) {
  const int64_t m = 21, n = 37, k = 70, lda = Int8PackedWeight::padded_inputs(k);
  const int amax = Int8PackedWeight::activation_max(kernel);
  uint32_t state = 12345;
  auto next = [&state] { return state = state * 1664525u + 1013904223u; };
  std::vector<int8_t> w(static_cast<size_t>(n * k));
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<int8_t>(i % 11 == 0 ? -127 : int(next() >> 24) % 255 - 127);
  std::vector<uint8_t> x(static_cast<size_t>(m * lda));
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = static_cast<uint8_t>(i % 7 == 0 ? amax : int(next() >> 24) % (amax + 1));
  const Int8PackedWeight fast(w.data(), n, k, kernel), slow(w.data(), n, k, Int8Kernel::Scalar);
  std::vector<int32_t> got(static_cast<size_t>(m * n), -1), want(static_cast<size_t>(m * n), -2);
  fast.multiply(x.data(), lda, m, got.data(), n);
  slow.multiply(x.data(), lda, m, want.data(), n);
  return got == want;
}

}  // namespace

bool Int8PackedWeight::supported(Int8Kernel kernel) {
  switch (kernel) {
    case Int8Kernel::Scalar:
      return true;
#ifdef SBERT_INT8_AVX2
    case Int8Kernel::Avx2: {
      static const bool yes = [] {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") != 0;
      }();
      return yes;
    }
    case Int8Kernel::Avx512Vnni: {
      static const bool yes = [] {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vnni");
      }();
      return yes;
    }
#endif
    default:
      return false;
  }
}

bool Int8PackedWeight::verified(Int8Kernel kernel) {
  if (kernel == Int8Kernel::Scalar) return true;
  if (!supported(kernel)) return false;
  auto check = [](Int8Kernel k) {
    const bool ok = self_check(k);
    if (!ok)
      log_verbose(std::string("int8: the ") + kernel_name(k) +
                  " kernel gave other sums than the portable code on this CPU; not using it");
    return ok;
  };
  if (kernel == Int8Kernel::Avx2) {
    static const bool avx2 = check(Int8Kernel::Avx2);
    return avx2;
  }
  static const bool vnni = check(Int8Kernel::Avx512Vnni);  // only the kernel asked for is checked
  return vnni;
}

int Int8PackedWeight::activation_max(Int8Kernel kernel) { return kernel == Int8Kernel::Avx2 ? kActivationMax : 255; }

Int8Kernel Int8PackedWeight::best(int activation_max) {
  if (verified(Int8Kernel::Avx512Vnni)) return Int8Kernel::Avx512Vnni;
  if (activation_max <= kActivationMax && verified(Int8Kernel::Avx2)) return Int8Kernel::Avx2;
  return Int8Kernel::Scalar;
}

const char* Int8PackedWeight::kernel_name(Int8Kernel kernel) {
  switch (kernel) {
    case Int8Kernel::Avx2:
      return "AVX2 u8xs8 6x16";
    case Int8Kernel::Avx512Vnni:
      return "AVX-512 VNNI u8xs8 12x32";
    default:
      return "scalar u8xs8";
  }
}

Int8PackedWeight::Int8PackedWeight(const int8_t* codes, int64_t n, int64_t k, Int8Kernel kernel)
    : n_(n), k_(k), k4_(padded_inputs(k)), kernel_(kernel) {
  if (!supported(kernel)) throw std::invalid_argument(std::string("int8: ") + kernel_name(kernel) + " needs instructions this CPU lacks");
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
  if (kernel_ == Int8Kernel::Avx512Vnni) return multiply_vnni(panels_.get(), n_, k4_ / 4, a, lda, rows, c, ldc);
  if (kernel_ == Int8Kernel::Avx2) return multiply_avx2(panels_.get(), n_, k4_ / 4, a, lda, rows, c, ldc);
#endif
  multiply_scalar(panels_.get(), n_, k4_, a, lda, rows, c, ldc);
}

}  // namespace sbert::cpu
