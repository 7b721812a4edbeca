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
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace sbert::cpu {

class PackedWeight {
 public:
  static constexpr int64_t kPanel = 16;  // columns per panel

  // w: row-major [n, k] (a Linear weight: n outputs, k inputs).
  PackedWeight(const float* w, int64_t n, int64_t k);
  // The rows of several weights stacked (e.g. q, k and v into one [3H, H] projection): each part
  // a row-major block of `rows` x k, in order. Packed on cpu_pool's threads.
  PackedWeight(const std::vector<std::pair<const float*, int64_t>>& parts, int64_t k);

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

// A Linear weight used where it lies (row-major [n, k] in one or more blocks of rows, e.g.
// straight from a memory-mapped checkpoint: nothing copied or packed), multiplied by the
// packed kernel's register tile with the operands' roles swapped. Every output is the same
// multiply-add chain as PackedWeight's, so the two give the same bits (checked on first use).
class RowMajorWeight {
 public:
  RowMajorWeight() = default;
  RowMajorWeight(std::vector<std::pair<const float*, int64_t>> parts, int64_t k);
  int64_t outputs() const { return n_; }
  int64_t inputs() const { return k_; }
  const std::vector<std::pair<const float*, int64_t>>& parts() const { return parts_; }
  // c[r, columns of `part`] for the rows r in [row_begin, row_end).
  void multiply(const float* a, int64_t lda, float* c, int64_t ldc, int64_t row_begin, int64_t row_end,
                size_t part) const;

 private:
  std::vector<std::pair<const float*, int64_t>> parts_;
  int64_t n_ = 0, k_ = 0;
};

// out [M, N] = a [M, K] · wᵀ on cpu_pool's threads: rows (in units of 12) and, when the rows
// are few, column panels split across the threads. The bits do not depend on the split (see
// above), so neither on the thread count nor on the batch a row is in.
//
// `epilogue`, when given, runs on each finished block of the result while it is still in cache:
// apply(out, ld, r0, r1, c0, c1) on rows [r0, r1) and columns [c0, c1) of `out` (row stride ld).
// With whole_rows it only ever gets all the columns (c0 = 0, c1 = N): fused when the rows are
// not split by columns, else as a row pass after the GEMM.
struct GemmEpilogue {
  std::function<void(float*, int64_t, int64_t, int64_t, int64_t, int64_t)> apply;
  bool whole_rows = false;
};
void gemm(const float* a, int64_t M, const PackedWeight& w, float* out, const GemmEpilogue* epilogue = nullptr);
// The same with a weight in place (the epilogue runs by rows after the product).
void gemm(const float* a, int64_t M, const RowMajorWeight& w, float* out, const GemmEpilogue* epilogue = nullptr);

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
