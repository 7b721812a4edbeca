// sbert::cpu::PackedWeight, the float32 GEMM of the CPU inference path: every output is exactly one
// multiply-add chain over k from zero (fused on AVX2 / AVX-512, mul + add on the baseline
// kernel), so the tests compare bits with that chain written out in scalar code, and check that
// no split of rows or columns changes them.
#include "cpu/packed_gemm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "cpu/cpu_pool.h"
#include "nn/transformer.h"

namespace {

using sbert::cpu::PackedWeight;

std::vector<float> random_floats(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

bool kernel_fuses() {
  const std::string k = sbert::cpu::packed_gemm_kernel();
  return k.rfind("AVX", 0) == 0;
}

// The chain the kernels compute for one output.
float chain(const float* a, const float* w, int64_t k, bool fused) {
  float acc = 0.0f;
  for (int64_t i = 0; i < k; ++i) {
    if (fused) {
      acc = std::fma(a[i], w[i], acc);
    } else {
      volatile float p = a[i] * w[i];  // rounded product, no contraction
      acc = acc + p;
    }
  }
  return acc;
}

TEST(PackedGemm, EveryOutputIsTheMultiplyAddChainOverK) {
  const std::vector<std::string> kernels = sbert::cpu::packed_gemm_kernels();
  ASSERT_FALSE(kernels.empty());
  EXPECT_EQ(kernels.front(), sbert::cpu::packed_gemm_kernel());  // the widest is the default
  EXPECT_THROW(sbert::cpu::use_packed_gemm_kernel("no such kernel"), std::invalid_argument);
  for (const std::string& name : kernels) {  // every kernel this CPU runs (baseline always)
    sbert::cpu::use_packed_gemm_kernel(name);
    const bool fused = kernel_fuses();
    SCOPED_TRACE("kernel " + name);
    // Row counts around every tile height (3, 6, 12) and block size, columns around the panel width.
    for (int64_t m : {1, 2, 5, 6, 7, 11, 12, 13, 29, 61, 121, 131}) {
      for (int64_t n : {1, 15, 16, 17, 40, 64}) {
        for (int64_t k : {0, 1, 7, 64, 385}) {
          const auto a = random_floats(static_cast<size_t>(m * k), 1 + m),
                     w = random_floats(static_cast<size_t>(n * k), 2 + n);
          const PackedWeight p(w.data(), n, k);
          std::vector<float> c(static_cast<size_t>(m * n), std::numeric_limits<float>::quiet_NaN());
          p.multiply(a.data(), k, c.data(), n, 0, m);
          int64_t wrong = 0;
          for (int64_t r = 0; r < m; ++r)
            for (int64_t j = 0; j < n; ++j) {
              const float want = chain(a.data() + r * k, w.data() + j * k, k, fused);
              if (std::memcmp(&want, &c[static_cast<size_t>(r * n + j)], sizeof(float)) != 0) ++wrong;
            }
          EXPECT_EQ(wrong, 0) << "m=" << m << " n=" << n << " k=" << k;
        }
      }
    }
  }
  sbert::cpu::use_packed_gemm_kernel(kernels.front());
}

// Every kernel this CPU runs passes the first-use check that guards its selection (a failing
// one would never be chosen, so the default kernel is always a verified one).
TEST(PackedGemm, EveryKernelPassesItsFirstUseCheck) {
  for (const std::string& name : sbert::cpu::packed_gemm_kernels())
    EXPECT_TRUE(sbert::cpu::packed_gemm_kernel_verified(name)) << name;
  EXPECT_TRUE(sbert::cpu::packed_gemm_kernel_verified(sbert::cpu::packed_gemm_kernel()));
  EXPECT_FALSE(sbert::cpu::packed_gemm_kernel_verified("no such kernel"));
}

TEST(PackedGemm, CloseToTheDoubleProduct) {
  const int64_t m = 37, n = 50, k = 1536;
  const auto a = random_floats(static_cast<size_t>(m * k), 11),
             w = random_floats(static_cast<size_t>(n * k), 12);
  const PackedWeight p(w.data(), n, k);
  std::vector<float> c(static_cast<size_t>(m * n));
  p.multiply(a.data(), k, c.data(), n, 0, m);
  for (int64_t r = 0; r < m; ++r)
    for (int64_t j = 0; j < n; ++j) {
      double want = 0, mag = 0;
      for (int64_t i = 0; i < k; ++i) {
        want += static_cast<double>(a[static_cast<size_t>(r * k + i)]) * w[static_cast<size_t>(j * k + i)];
        mag += std::fabs(static_cast<double>(a[static_cast<size_t>(r * k + i)]) *
                         w[static_cast<size_t>(j * k + i)]);
      }
      ASSERT_NEAR(c[static_cast<size_t>(r * n + j)], want, 1e-6 * mag + 1e-30) << r << "," << j;
    }
}

TEST(PackedGemm, BlocksWriteOnlyTheirPartAndSplitsKeepTheBits) {
  const int64_t m = 53, n = 70, k = 96, lda = 100, ldc = 75;  // strided rows on both sides
  const auto a = random_floats(static_cast<size_t>(m * lda), 21),
             w = random_floats(static_cast<size_t>(n * k), 22);
  const PackedWeight p(w.data(), n, k);
  ASSERT_EQ(p.panels(), 5);
  std::vector<float> whole(static_cast<size_t>(m * ldc), -1.0f), split(whole);
  p.multiply(a.data(), lda, whole.data(), ldc, 0, m);
  // Padding columns of c (n..ldc) are never written.
  for (int64_t r = 0; r < m; ++r)
    for (int64_t j = n; j < ldc; ++j) ASSERT_EQ(whole[static_cast<size_t>(r * ldc + j)], -1.0f);
  // One block: rows 9..22, panels 1..3 (columns 16..47): nothing else changes.
  p.multiply(a.data(), lda, split.data(), ldc, 9, 22, 1, 3);
  for (int64_t r = 0; r < m; ++r)
    for (int64_t j = 0; j < ldc; ++j) {
      const bool inside = r >= 9 && r < 22 && j >= 16 && j < 48;
      const float got = split[static_cast<size_t>(r * ldc + j)];
      if (inside)
        ASSERT_EQ(got, whole[static_cast<size_t>(r * ldc + j)]) << r << "," << j;
      else
        ASSERT_EQ(got, -1.0f) << r << "," << j;
    }
  // Row by row and panel by panel: the same bits as the whole product.
  std::fill(split.begin(), split.end(), -1.0f);
  for (int64_t r = 0; r < m; ++r)
    for (int64_t q = 0; q < p.panels(); ++q) p.multiply(a.data(), lda, split.data(), ldc, r, r + 1, q, q + 1);
  EXPECT_EQ(std::memcmp(split.data(), whole.data(), whole.size() * sizeof(float)), 0);
}

TEST(PackedGemm, UnpackGivesTheWeightBack) {
  const int64_t n = 33, k = 19;
  const auto w = random_floats(static_cast<size_t>(n * k), 31);
  const PackedWeight p(w.data(), n, k);
  std::vector<float> back(w.size(), 0.0f);
  p.unpack(back.data());
  EXPECT_EQ(back, w);
  EXPECT_EQ(p.outputs(), n);
  EXPECT_EQ(p.inputs(), k);
  EXPECT_EQ(p.bytes(), 3 * 16 * k * 4);
}

TEST(PackedGemm, PooledProductDoesNotDependOnTheThreadCount) {
  const int64_t n = 200, k = 48;
  const auto w = random_floats(static_cast<size_t>(n * k), 41);
  const PackedWeight p(w.data(), n, k);
  for (int64_t m : {1, 5, 30, 500}) {
    const auto a = random_floats(static_cast<size_t>(m * k), 42 + m);
    std::vector<float> ref(static_cast<size_t>(m * n));
    p.multiply(a.data(), k, ref.data(), n, 0, m);
    const at::Tensor ta = at::from_blob(const_cast<float*>(a.data()), {m, k}, at::kFloat);
    for (int threads : {1, 2, 3, 4}) {
      sbert::cpu::set_cpu_pool_threads(threads);
      const at::Tensor out = sbert::nn::pooled_mm(ta, p);
      ASSERT_EQ(out.size(0), m);
      ASSERT_EQ(out.size(1), n);
      EXPECT_EQ(std::memcmp(out.data_ptr<float>(), ref.data(), ref.size() * sizeof(float)), 0)
          << "m=" << m << " threads=" << threads;
    }
  }
  sbert::cpu::set_cpu_pool_threads(0);
}

// The epilogue sees every element of the result exactly once, after its product is final, and
// with whole_rows only full rows: the result equals the plain product followed by the same pass.
TEST(PackedGemm, EpilogueRunsOnceOnFinishedBlocks) {
  const int64_t n = 37, k = 24;  // an odd width: the last panel is partial
  const auto w = random_floats(static_cast<size_t>(n * k), 51);
  const PackedWeight p(w.data(), n, k);
  // y = 2y + 1 per element, or, per whole row, each element minus the row's first element.
  auto elementwise = [](float* o, int64_t ld, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t c = c0; c < c1; ++c) o[r * ld + c] = 2.0f * o[r * ld + c] + 1.0f;
  };
  auto by_rows = [n](float* o, int64_t ld, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
    ASSERT_EQ(c0, 0);
    ASSERT_EQ(c1, n);
    for (int64_t r = r0; r < r1; ++r) {
      const float first = o[r * ld];
      for (int64_t c = 0; c < n; ++c) o[r * ld + c] -= first;
      o[r * ld] = 1.0f + first;
    }
  };
  for (bool whole_rows : {false, true}) {
    const sbert::nn::GemmEpilogue epi{whole_rows ? decltype(sbert::nn::GemmEpilogue::apply)(by_rows)
                                                 : decltype(sbert::nn::GemmEpilogue::apply)(elementwise),
                                      whole_rows};
    for (int64_t m : {1, 7, 30, 200}) {  // few rows: the columns are split across tasks
      const auto a = random_floats(static_cast<size_t>(m * k), 52 + m);
      std::vector<float> want(static_cast<size_t>(m * n));
      p.multiply(a.data(), k, want.data(), n, 0, m);
      epi.apply(want.data(), n, 0, m, 0, n);
      const at::Tensor ta = at::from_blob(const_cast<float*>(a.data()), {m, k}, at::kFloat);
      for (int threads : {1, 2, 3}) {
        sbert::cpu::set_cpu_pool_threads(threads);
        const at::Tensor out = sbert::nn::pooled_mm(ta, p, &epi);
        EXPECT_EQ(std::memcmp(out.data_ptr<float>(), want.data(), want.size() * sizeof(float)), 0)
            << "m=" << m << " threads=" << threads << " whole_rows=" << whole_rows;
      }
    }
  }
  sbert::cpu::set_cpu_pool_threads(0);
}

}  // namespace
