// sbert::cpu::Int8PackedWeight, the int8 GEMM of --quantize int8: integer sums are exact, so every
// output of every kernel this CPU runs (scalar always; AVX2; AVX-512 VNNI) must equal the int64
// sum written out in scalar code, for every shape around the tiles (6 / 12 rows), blocks (60
// rows), panels (16 columns, two at a time for VNNI) and k groups (4), and for the extreme codes
// that would saturate a 16-bit pair sum (the AVX2 kernel's 7-bit limit, VNNI's full 8 bits). A
// kernel whose instructions the CPU lacks is reported and skipped alone.
#include "cpu/int8_gemm.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace {

using sbert::cpu::Int8Kernel;
using sbert::cpu::Int8PackedWeight;

struct Case {
  std::vector<uint8_t> a;
  std::vector<int8_t> w;
};

Case random_case(int64_t m, int64_t n, int64_t k, int64_t lda, uint64_t seed, int amax) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> act(0, amax), wei(-127, 127), junk(0, 255);
  Case c;
  c.a.resize(static_cast<size_t>(m * lda));
  for (int64_t r = 0; r < m; ++r)
    for (int64_t i = 0; i < lda; ++i)  // padding bytes past k hold anything: the weight is 0 there
      c.a[static_cast<size_t>(r * lda + i)] = static_cast<uint8_t>(i < k ? act(rng) : junk(rng));
  c.w.resize(static_cast<size_t>(n * k));
  for (auto& x : c.w) x = static_cast<int8_t>(wei(rng));
  return c;
}

void expect_exact(Int8Kernel kernel, const Case& c, int64_t m, int64_t n, int64_t k, int64_t lda) {
  const Int8PackedWeight w(c.w.data(), n, k, kernel);
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
      ASSERT_EQ(out[static_cast<size_t>(r * ldc + o)], want)
          << Int8PackedWeight::kernel_name(kernel) << ": m " << m << " n " << n << " k " << k << " at " << r << "," << o;
    }
    for (int64_t o = n; o < ldc; ++o) ASSERT_EQ(out[static_cast<size_t>(r * ldc + o)], -7) << "wrote past n";
  }
}

class Int8Gemm : public ::testing::TestWithParam<Int8Kernel> {
 protected:
  void SetUp() override {
    if (!Int8PackedWeight::supported(GetParam()))
      GTEST_SKIP() << "this CPU lacks the instructions of the " << Int8PackedWeight::kernel_name(GetParam())
                   << " kernel (checked on CPUs that have them)";
  }
  int amax() const { return Int8PackedWeight::activation_max(GetParam()); }
};

TEST_P(Int8Gemm, EveryOutputIsTheExactIntegerSum) {
  uint64_t seed = 1;
  for (int64_t m : {1, 5, 6, 7, 11, 12, 13, 59, 60, 61, 130})
    for (int64_t n : {1, 15, 16, 17, 32, 40, 49})
      for (int64_t k : {1, 3, 4, 5, 64, 389}) {
        const int64_t lda = Int8PackedWeight::padded_inputs(k) + (seed % 2) * 4;
        expect_exact(GetParam(), random_case(m, n, k, lda, seed++, amax()), m, n, k, lda);
      }
}

TEST_P(Int8Gemm, ExtremeCodesDoNotSaturate) {
  // Every product at its largest magnitude: for AVX2 2 * 127 * 127 = 32258 in a 16-bit lane, for
  // VNNI 4 * 255 * 127 per step into 32 bits.
  const int64_t m = 13, n = 33, k = 1536;
  for (int sign : {1, -1}) {
    Case c;
    c.a.assign(static_cast<size_t>(m * k), static_cast<uint8_t>(amax()));
    c.w.assign(static_cast<size_t>(n * k), static_cast<int8_t>(127 * sign));
    expect_exact(GetParam(), c, m, n, k, k);
  }
}

TEST_P(Int8Gemm, RowsDoNotDependOnTheirNeighbours) {
  const int64_t m = 61, n = 48, k = 384;
  const Case c = random_case(m, n, k, k, 99, amax());
  const Int8PackedWeight w(c.w.data(), n, k, GetParam());
  std::vector<int32_t> all(static_cast<size_t>(m * n)), one(static_cast<size_t>(n));
  w.multiply(c.a.data(), k, m, all.data(), n);
  for (int64_t r = 0; r < m; r += 7) {
    w.multiply(c.a.data() + r * k, k, 1, one.data(), n);
    for (int64_t o = 0; o < n; ++o) EXPECT_EQ(one[static_cast<size_t>(o)], all[static_cast<size_t>(r * n + o)]);
  }
}

// The first-use check passes for every kernel this CPU has, and the best kernel for an
// activation width is one that takes it.
TEST_P(Int8Gemm, FirstUseCheckPassesAndBestTakesTheWidth) {
  EXPECT_TRUE(Int8PackedWeight::verified(GetParam())) << Int8PackedWeight::kernel_name(GetParam());
  for (int width : {127, 255}) EXPECT_GE(Int8PackedWeight::activation_max(Int8PackedWeight::best(width)), width);
}

INSTANTIATE_TEST_SUITE_P(Kernels, Int8Gemm,
                         ::testing::Values(Int8Kernel::Scalar, Int8Kernel::Avx2, Int8Kernel::Avx512Vnni),
                         [](const ::testing::TestParamInfo<Int8Kernel>& info) {
                           return info.param == Int8Kernel::Scalar ? std::string("Scalar")
                                  : info.param == Int8Kernel::Avx2 ? std::string("Avx2")
                                                                   : std::string("Avx512Vnni");
                         });

}  // namespace
