// The float32 GEMM of the CPU inference path (out = a · wᵀ for a Linear weight w [n, k]), plain
// C++ without libtorch. The weight is packed once, at load time, into panels of 16 columns (k rows
// of 16 floats each, zero-padded past n), so no call repacks it (OpenBLAS copied the whole weight
// on every call: ~10% of the encoder's time). Register tiles of rows x 16 columns run over the
// whole of k: every output is one fused multiply-add chain over k = 0, 1, ..., k-1 from zero,
// whatever the tile, the row range a thread takes, the batch or the SIMD width. So a row's result
// depends on that row only, splits never change bits, and the AVX-512 and AVX2 kernels give the
// same bits (the baseline x86-64 kernel has no FMA: mul + add, last-place differences).
#pragma once
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

namespace sbert::cpu {

class PackedWeight {
 public:
  static constexpr int64_t kPanel = 16;  // columns per panel

  // w: row-major [n, k] (a Linear weight: n outputs, k inputs).
  PackedWeight(const float* w, int64_t n, int64_t k);

  int64_t outputs() const { return n_; }
  int64_t inputs() const { return k_; }
  // Writes the weight back as row-major [n, k].
  void unpack(float* w) const;

  // c[r, j] = a[r, 0:k] · w[j, 0:k] for the rows r in [row_begin, row_end) and the columns j of
  // panels [panel_begin, panel_end) (panel p: columns 16p .. 16p+15; panel_end < 0: all), row
  // strides lda, ldc in floats. Writes only that block of c: threads may fill disjoint blocks at
  // once.
  void multiply(const float* a, int64_t lda, float* c, int64_t ldc, int64_t row_begin, int64_t row_end,
                int64_t panel_begin = 0, int64_t panel_end = -1) const;
  int64_t panels() const { return (n_ + kPanel - 1) / kPanel; }

  // Size of the packed copy in bytes.
  int64_t bytes() const { return panels() * k_ * kPanel * static_cast<int64_t>(sizeof(float)); }

 private:
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  int64_t n_ = 0, k_ = 0;
  std::unique_ptr<float, Free> panels_;
};

// The kernel in use, e.g. "AVX2+FMA 6x16" (for -v and the benchmarks): the widest this CPU runs.
const char* packed_gemm_kernel();
// For the tests: every kernel this CPU can run (widest first), and switching to one of them
// (std::invalid_argument for any other name).
std::vector<std::string> packed_gemm_kernels();
void use_packed_gemm_kernel(const std::string& name);
// Whether the kernel of that name runs here and passed its first-use check (a fixed problem
// against a double-precision reference; a kernel that fails is never chosen, and -v says so).
bool packed_gemm_kernel_verified(const std::string& name);

}  // namespace sbert::cpu
