// cpu::Int8PackedWeight, the int8 GEMM of --quantize int8 on AVX2 CPUs: integer sums are exact, so
// every output must equal the int64 sum written out in scalar code, for every shape around the
// tile (6 rows), block (60 rows), panel (16 columns) and k-group (4) sizes, and for the extreme
// codes that would saturate a 16-bit pair sum if the kernel took 8-bit activations. Without AVX2
// the same assertions check multiply()'s scalar fallback.
#include "nn/int8_gemm.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace {

using sbert::nn::cpu::Int8PackedWeight;

struct Case {
  std::vector<uint8_t> a;
  std::vector<int8_t> w;
};

Case random_case(int64_t m, int64_t n, int64_t k, int64_t lda, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> act(0, Int8PackedWeight::kActivationMax), wei(-127, 127), junk(0, 255);
  Case c;
  c.a.resize(static_cast<size_t>(m * lda));
  for (int64_t r = 0; r < m; ++r)
    for (int64_t i = 0; i < lda; ++i)  // padding bytes past k hold anything: the weight is 0 there
      c.a[static_cast<size_t>(r * lda + i)] = static_cast<uint8_t>(i < k ? act(rng) : junk(rng));
  c.w.resize(static_cast<size_t>(n * k));
  for (auto& x : c.w) x = static_cast<int8_t>(wei(rng));
  return c;
}

void expect_exact(const Case& c, int64_t m, int64_t n, int64_t k, int64_t lda) {
  const Int8PackedWeight w(c.w.data(), n, k);
  EXPECT_EQ(w.outputs(), n);
  EXPECT_EQ(w.inputs(), k);
  const int64_t ldc = n + 3;  // a stride wider than the row: nothing written past n
  std::vector<int32_t> out(static_cast<size_t>(m * ldc), -7);
  w.multiply(c.a.data(), lda, m, out.data(), ldc);
  for (int64_t r = 0; r < m; ++r) {
    for (int64_t o = 0; o < n; ++o) {
      int64_t want = 0;
      for (int64_t i = 0; i < k; ++i)
        want += int64_t{c.a[static_cast<size_t>(r * lda + i)]} * c.w[static_cast<size_t>(o * k + i)];
      ASSERT_EQ(out[static_cast<size_t>(r * ldc + o)], want) << "m " << m << " n " << n << " k " << k << " at " << r << "," << o;
    }
    for (int64_t o = n; o < ldc; ++o) ASSERT_EQ(out[static_cast<size_t>(r * ldc + o)], -7) << "wrote past n";
  }
}

TEST(Int8Gemm, EveryOutputIsTheExactIntegerSum) {
  uint64_t seed = 1;
  for (int64_t m : {1, 5, 6, 7, 59, 60, 61, 130})
    for (int64_t n : {1, 15, 16, 17, 40})
      for (int64_t k : {1, 3, 4, 5, 64, 389}) {
        const int64_t lda = Int8PackedWeight::padded_inputs(k) + (seed % 2) * 4;
        expect_exact(random_case(m, n, k, lda, seed++), m, n, k, lda);
      }
}

TEST(Int8Gemm, ExtremeCodesDoNotSaturate) {
  // Every pair of products at its largest magnitude: 2 * 127 * 127 = 32258 in a 16-bit lane.
  const int64_t m = 13, n = 33, k = 1536;
  for (int sign : {1, -1}) {
    Case c;
    c.a.assign(static_cast<size_t>(m * k), Int8PackedWeight::kActivationMax);
    c.w.assign(static_cast<size_t>(n * k), static_cast<int8_t>(127 * sign));
    expect_exact(c, m, n, k, k);
  }
}

TEST(Int8Gemm, RowsDoNotDependOnTheirNeighbours) {
  const int64_t m = 61, n = 48, k = 384;
  const Case c = random_case(m, n, k, k, 99);
  const Int8PackedWeight w(c.w.data(), n, k);
  std::vector<int32_t> all(static_cast<size_t>(m * n)), one(static_cast<size_t>(n));
  w.multiply(c.a.data(), k, m, all.data(), n);
  for (int64_t r = 0; r < m; r += 7) {
    w.multiply(c.a.data() + r * k, k, 1, one.data(), n);
    for (int64_t o = 0; o < n; ++o) EXPECT_EQ(one[static_cast<size_t>(o)], all[static_cast<size_t>(r * n + o)]);
  }
}

}  // namespace
