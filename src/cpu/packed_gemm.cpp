#include "cpu/packed_gemm.h"

#include "cpu/cpu_pool.h"

#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "sbert/log.h"

#include "cpu/simd.h"
#include "cpu/tile16.h"

namespace sbert::cpu {
namespace {

constexpr int64_t kPanel = PackedWeight::kPanel;

struct Args {
  const float* panels;
  int64_t n, k;
  const float* a;
  int64_t lda;
  float* c;
  int64_t ldc, row_begin, row_end, panel_begin, panel_end;
};

// Blocks of 10 tiles' rows: within a block each panel (k x 16 floats, in L1 for k <= 384) is
// reused by every tile, and the block's rows of a (in L2) by every panel.
template <int Lanes, int MR>
[[gnu::always_inline]] inline void multiply_impl(const Args& g) {
  constexpr int64_t kBlockRows = 10 * MR;
  for (int64_t b0 = g.row_begin; b0 < g.row_end; b0 += kBlockRows) {
    const int64_t b1 = std::min(b0 + kBlockRows, g.row_end);
    for (int64_t p = g.panel_begin; p < g.panel_end; ++p) {
      const float* panel = g.panels + p * g.k * kPanel;
      const int64_t cols = std::min(kPanel, g.n - p * kPanel);
      int64_t r = b0;
      for (; r + MR <= b1; r += MR)
        simd::tile16<Lanes, MR>(g.a + r * g.lda, g.lda, panel, kPanel, g.k, g.c + r * g.ldc + p * kPanel,
                                g.ldc, cols);
      if (r < b1)  // the last rows of the block: the tile of exactly that many rows
        simd::tile16_rows<Lanes, MR - 1>(b1 - r, g.a + r * g.lda, g.lda, panel, kPanel, g.k,
                                         g.c + r * g.ldc + p * kPanel, g.ldc, cols);
    }
  }
}

// The same products with the operands' roles swapped, for a weight used in place (row-major):
// tiles of MR weight rows x 16 activation rows, the activations transposed into blocks of 16
// columns per call. Each output is the same multiply-add chain over k from zero as above
// (a * w and w * a are the same product), so the bits equal the packed kernel's.
struct RowArgs {
  const float* w;  // rows [0, n) of the weight, row stride k
  int64_t n, k;
  const float* a;
  int64_t lda;
  float* c;  // c[r * ldc + j] for weight row j
  int64_t ldc, row_begin, row_end;
};

template <int Lanes, int MR>
[[gnu::always_inline]] inline void rows_impl(const RowArgs& g) {
  constexpr int64_t kSub = 16, kBlock = 8 * kSub;  // activation rows per transposed block / per pass
  thread_local std::vector<float> at, ct;
  const int64_t K = g.k;
  at.resize(static_cast<size_t>(kBlock / kSub * K * kSub));
  ct.resize(static_cast<size_t>(MR * kSub));
  for (int64_t t0 = g.row_begin; t0 < g.row_end; t0 += kBlock) {
    const int64_t t1 = std::min(t0 + kBlock, g.row_end), subs = (t1 - t0 + kSub - 1) / kSub;
    for (int64_t sb = 0; sb < subs; ++sb) {
      float* block = at.data() + sb * K * kSub;
      for (int64_t t = 0; t < kSub; ++t) {
        const int64_t r = t0 + sb * kSub + t;
        if (r < t1) {
          const float* src = g.a + r * g.lda;
          for (int64_t kk = 0; kk < K; ++kk) block[kk * kSub + t] = src[kk];
        } else {
          for (int64_t kk = 0; kk < K; ++kk) block[kk * kSub + t] = 0.0f;
        }
      }
    }
    for (int64_t j0 = 0; j0 < g.n; j0 += MR) {
      const int64_t jr = std::min<int64_t>(MR, g.n - j0);
      for (int64_t sb = 0; sb < subs; ++sb) {
        simd::tile16_rows<Lanes, MR>(jr, g.w + j0 * K, K, at.data() + sb * K * kSub, kSub, K, ct.data(), kSub, kSub);
        const int64_t r0 = t0 + sb * kSub, valid = std::min(kSub, t1 - r0);
        for (int64_t t = 0; t < valid; ++t) {
          float* dst = g.c + (r0 + t) * g.ldc + j0;
          for (int64_t i = 0; i < jr; ++i) dst[i] = ct[static_cast<size_t>(i * kSub + t)];
        }
      }
    }
  }
}

SBERT_TARGET_AVX512 void multiply_avx512(const Args& g) { multiply_impl<16, 12>(g); }
SBERT_TARGET_AVX2 void multiply_avx2(const Args& g) { multiply_impl<8, 6>(g); }
void multiply_baseline(const Args& g) { multiply_impl<4, 3>(g); }
SBERT_TARGET_AVX512 void rows_avx512(const RowArgs& g) { rows_impl<16, 12>(g); }
SBERT_TARGET_AVX2 void rows_avx2(const RowArgs& g) { rows_impl<8, 6>(g); }
void rows_baseline(const RowArgs& g) { rows_impl<4, 3>(g); }

struct Kernel {
  void (*run)(const Args&);
  void (*rows)(const RowArgs&);
  const char* name;
  simd::Isa isa;
};
constexpr Kernel kKernels[] = {{multiply_avx512, rows_avx512, "AVX-512 12x16", simd::Isa::Avx512},
                               {multiply_avx2, rows_avx2, "AVX2+FMA 6x16", simd::Isa::Avx2},
                               {multiply_baseline, rows_baseline, "baseline 3x16", simd::Isa::Baseline}};

// Whether this CPU can run the kernel built for `isa`.
bool runs_here(simd::Isa isa) {
  const simd::Isa best = simd::isa();
  return isa == simd::Isa::Baseline || isa == best || (isa == simd::Isa::Avx2 && best == simd::Isa::Avx512);
}

// The first-use check of an ISA kernel: a fixed problem across the tile, block and panel edges
// (23 rows, 37 outputs, k = 70) against a double-precision reference, within 1e-6 of the sum of
// the products' magnitudes (each output is one float32 FMA chain: far inside that bound).
bool self_check(const Kernel& kernel) {
  const int64_t m = 23, n = 37, k = 70, np = (n + kPanel - 1) / kPanel;
  uint32_t state = 2024;
  auto next = [&state] {
    state = state * 1664525u + 1013904223u;
    return static_cast<float>(static_cast<int32_t>(state >> 8) - (1 << 23)) / float(1 << 23);
  };
  std::vector<float> w(static_cast<size_t>(n * k)), a(static_cast<size_t>(m * k)), c(static_cast<size_t>(m * n), 0.0f);
  for (auto& x : w) x = next();
  for (auto& x : a) x = next();
  float* panels = static_cast<float*>(std::aligned_alloc(64, static_cast<size_t>(np * k * kPanel) * sizeof(float)));
  if (!panels) return false;
  std::fill(panels, panels + np * k * kPanel, 0.0f);
  for (int64_t o = 0; o < n; ++o)
    for (int64_t i = 0; i < k; ++i) panels[((o / kPanel) * k + i) * kPanel + o % kPanel] = w[static_cast<size_t>(o * k + i)];
  kernel.run(Args{panels, n, k, a.data(), k, c.data(), n, 0, m, 0, np});
  std::free(panels);
  // The in-place (row-major) kernel must give the packed kernel's bits.
  std::vector<float> c2(c.size(), -1.0f);
  kernel.rows(RowArgs{w.data(), n, k, a.data(), k, c2.data(), n, 0, m});
  if (std::memcmp(c.data(), c2.data(), c.size() * sizeof(float)) != 0) return false;
  for (int64_t r = 0; r < m; ++r)
    for (int64_t o = 0; o < n; ++o) {
      double ref = 0, mag = 0;
      for (int64_t i = 0; i < k; ++i) {
        const double p = double(a[static_cast<size_t>(r * k + i)]) * w[static_cast<size_t>(o * k + i)];
        ref += p;
        mag += std::fabs(p);
      }
      if (!(std::fabs(c[static_cast<size_t>(r * n + o)] - ref) <= 1e-6 * mag + 1e-30)) return false;
    }
  return true;
}

// Whether `kernel` passed its first-use check (checked once per kernel and process; the
// baseline is the reference the others are held to, checked like them).
bool verified(const Kernel& kernel) {
  static std::atomic<int> state[std::size(kKernels)] = {};  // 0 unknown, 1 good, 2 bad
  const size_t i = static_cast<size_t>(&kernel - kKernels);
  int s = state[i].load();
  if (s == 0) {
    s = self_check(kernel) ? 1 : 2;
    if (s == 2)
      log_verbose(std::string("packed GEMM: the ") + kernel.name +
                  " kernel gave other sums than the reference on this CPU; not using it");
    state[i].store(s);
  }
  return s == 1;
}

std::atomic<const Kernel*>& current() {
  static std::atomic<const Kernel*> k = [] {
    for (const Kernel& c : kKernels)
      if (runs_here(c.isa) && (c.isa == simd::Isa::Baseline || verified(c))) return &c;
    return &kKernels[2];
  }();
  return k;
}

}  // namespace

PackedWeight::PackedWeight(const float* w, int64_t n, int64_t k) : PackedWeight({{w, n}}, k) {}

PackedWeight::PackedWeight(const std::vector<std::pair<const float*, int64_t>>& rows, int64_t k) : n_(0), k_(k) {
  for (const auto& part : rows) n_ += part.second;
  const size_t count = static_cast<size_t>(std::max<int64_t>(panels() * k * kPanel, 1));
  size_t bytes = (count * sizeof(float) + 63) / 64 * 64;
  // Large weights on transparent huge pages where the kernel allows (madvise mode): a fresh
  // 4 KiB page costs a fault (a few microseconds on a virtual machine), and a bge-base model
  // packs 110 M floats.
  constexpr size_t kHuge = size_t(2) << 20;
  const bool huge = bytes >= kHuge;
  if (huge) bytes = (bytes + kHuge - 1) / kHuge * kHuge;
  panels_.reset(static_cast<float*>(std::aligned_alloc(huge ? kHuge : 64, bytes)));
  if (!panels_) throw std::bad_alloc();
  float* p = panels_.get();
#ifdef MADV_HUGEPAGE
  if (huge) (void)madvise(p, bytes, MADV_HUGEPAGE);
#endif
  // Row o of the weight: part `which`, row o - first.
  std::vector<const float*> row_ptr(static_cast<size_t>(n_));
  int64_t o = 0;
  for (const auto& [src, count_rows] : rows)
    for (int64_t r = 0; r < count_rows; ++r) row_ptr[static_cast<size_t>(o++)] = src + r * k;
  const int64_t np = panels();
  cpu_pool().parallel_for(np, 1, [&](int64_t p0, int64_t p1) {
    for (int64_t pi = p0; pi < p1; ++pi) {
      float* panel = p + pi * k * kPanel;
      const int64_t c0 = pi * kPanel, c1 = std::min(n_, c0 + kPanel);
      if (c1 - c0 < kPanel) std::memset(panel, 0, static_cast<size_t>(k * kPanel) * sizeof(float));
      for (int64_t c = c0; c < c1; ++c) {
        const float* src = row_ptr[static_cast<size_t>(c)];
        for (int64_t i = 0; i < k; ++i) panel[i * kPanel + (c - c0)] = src[i];
      }
    }
  });
}

void PackedWeight::unpack(float* w) const {
  const float* p = panels_.get();
  for (int64_t o = 0; o < n_; ++o)
    for (int64_t i = 0; i < k_; ++i) w[o * k_ + i] = p[((o / kPanel) * k_ + i) * kPanel + o % kPanel];
}

void PackedWeight::multiply(const float* a, int64_t lda, float* c, int64_t ldc, int64_t row_begin,
                            int64_t row_end, int64_t panel_begin, int64_t panel_end) const {
  if (panel_end < 0 || panel_end > panels()) panel_end = panels();
  if (row_end <= row_begin || panel_end <= panel_begin) return;
  current().load(std::memory_order_relaxed)->run(Args{panels_.get(), n_, k_, a, lda, c, ldc, row_begin, row_end, panel_begin, panel_end});
}

const char* packed_gemm_kernel() { return current().load()->name; }

std::vector<std::string> packed_gemm_kernels() {
  std::vector<std::string> names;
  for (const Kernel& c : kKernels)
    if (runs_here(c.isa)) names.push_back(c.name);
  return names;
}

bool packed_gemm_kernel_verified(const std::string& name) {
  for (const Kernel& c : kKernels)
    if (runs_here(c.isa) && name == c.name) return verified(c);
  return false;
}

void use_packed_gemm_kernel(const std::string& name) {
  for (const Kernel& c : kKernels)
    if (runs_here(c.isa) && name == c.name) {
      current().store(&c);
      return;
    }
  throw std::invalid_argument("packed GEMM kernel '" + name + "' does not run on this CPU");
}

void gemm(const float* ap, int64_t M, const PackedWeight& w, float* cp, const GemmEpilogue* epilogue) {
  const int64_t N = w.outputs(), K = w.inputs();
  WorkerPool& pool = cpu_pool();
  // Tasks: units of 12 rows (a multiple of every kernel's tile height) x groups of column panels,
  // enough groups that every thread gets work when the rows are few.
  constexpr int64_t kUnit = 12;
  const int64_t units = (M + kUnit - 1) / kUnit, panels = w.panels();
  const int64_t want = 2 * static_cast<int64_t>(pool.threads());
  const int64_t groups = units >= want ? 1 : std::min(panels, (want + units - 1) / units);
  const bool fused = epilogue != nullptr && (groups == 1 || !epilogue->whole_rows);
  pool.parallel_for(units * groups, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t u = t / groups, g = t % groups;
      const int64_t r0 = u * kUnit, r1 = std::min(M, (u + 1) * kUnit);
      const int64_t p0 = g * panels / groups, p1 = (g + 1) * panels / groups;
      w.multiply(ap, K, cp, N, r0, r1, p0, p1);
      if (fused) epilogue->apply(cp, N, r0, r1, p0 * PackedWeight::kPanel, std::min(N, p1 * PackedWeight::kPanel));
    }
  });
  if (epilogue != nullptr && !fused)
    pool.parallel_for(M, 8, [&](int64_t r0, int64_t r1) { epilogue->apply(cp, N, r0, r1, 0, N); });
}

RowMajorWeight::RowMajorWeight(std::vector<std::pair<const float*, int64_t>> parts, int64_t k)
    : parts_(std::move(parts)), k_(k) {
  for (const auto& p : parts_) n_ += p.second;
}

void RowMajorWeight::multiply(const float* a, int64_t lda, float* c, int64_t ldc, int64_t row_begin, int64_t row_end,
                              size_t part) const {
  if (row_end <= row_begin) return;
  int64_t col = 0;
  for (size_t i = 0; i < part; ++i) col += parts_[i].second;
  current().load(std::memory_order_relaxed)
      ->rows(RowArgs{parts_[part].first, parts_[part].second, k_, a, lda, c + col, ldc, row_begin, row_end});
}

void gemm(const float* a, int64_t M, const RowMajorWeight& w, float* out, const GemmEpilogue* epilogue) {
  const int64_t N = w.outputs(), K = w.inputs();
  (void)K;
  WorkerPool& pool = cpu_pool();
  // Tasks: blocks of 16 rows x the weight's parts (cut further into column ranges when the rows
  // are few), so every thread gets work for a one-sentence batch too.
  constexpr int64_t kUnit = 16;
  const int64_t units = (M + kUnit - 1) / kUnit;
  const size_t parts = w.parts().size();
  pool.parallel_for(units * static_cast<int64_t>(parts), 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t u = t / static_cast<int64_t>(parts);
      const size_t part = static_cast<size_t>(t % static_cast<int64_t>(parts));
      const int64_t r0 = u * kUnit, r1 = std::min(M, r0 + kUnit);
      w.multiply(a, w.inputs(), out, N, r0, r1, part);
    }
  });
  if (epilogue != nullptr)
    pool.parallel_for(M, 8, [&](int64_t r0, int64_t r1) { epilogue->apply(out, N, r0, r1, 0, N); });
}

}  // namespace sbert::cpu
