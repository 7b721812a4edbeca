#include "cpu/packed_gemm.h"

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

SBERT_TARGET_AVX512 void multiply_avx512(const Args& g) { multiply_impl<16, 12>(g); }
SBERT_TARGET_AVX2 void multiply_avx2(const Args& g) { multiply_impl<8, 6>(g); }
void multiply_baseline(const Args& g) { multiply_impl<4, 3>(g); }

struct Kernel {
  void (*run)(const Args&);
  const char* name;
  simd::Isa isa;
};
constexpr Kernel kKernels[] = {{multiply_avx512, "AVX-512 12x16", simd::Isa::Avx512},
                               {multiply_avx2, "AVX2+FMA 6x16", simd::Isa::Avx2},
                               {multiply_baseline, "baseline 3x16", simd::Isa::Baseline}};

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

PackedWeight::PackedWeight(const float* w, int64_t n, int64_t k) : n_(n), k_(k) {
  const size_t count = static_cast<size_t>(std::max<int64_t>(panels() * k * kPanel, 1));
  const size_t bytes = (count * sizeof(float) + 63) / 64 * 64;
  panels_.reset(static_cast<float*>(std::aligned_alloc(64, bytes)));
  if (!panels_) throw std::bad_alloc();
  float* p = panels_.get();
  std::memset(p, 0, bytes);
  for (int64_t o = 0; o < n; ++o)
    for (int64_t i = 0; i < k; ++i) p[((o / kPanel) * k + i) * kPanel + o % kPanel] = w[o * k + i];
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

}  // namespace sbert::cpu
