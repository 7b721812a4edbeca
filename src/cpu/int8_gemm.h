// The int8 GEMM of `--quantize int8`: u8 activation codes times s8 weight codes, summed exactly
// in int32 (AVX2: codes below 128; AVX-512 VNNI: 8-bit codes, see Int8Kernel). Plain C++ with AVX2 intrinsics, no
// libtorch, no oneDNN. The weight is packed once into panels of 16 output columns, k in groups of
// four bytes (k padded to a multiple of 4 with zero codes); a register tile of rows x 16 columns
// runs vpmaddubsw (u8 x s8 pairs into 16 bits: 2 * 127 * 127 < 32768, so 7-bit activations never
// saturate) and vpmaddwd (pairs of those into 32 bits) over the whole k. Integer sums are exact,
// so the result is the same int32 matrix as oneDNN's or any other exact kernel: bits do not
// depend on the kernel, the tile, the split or the batch.
#pragma once
#include <cstdint>
#include <cstdlib>
#include <memory>

namespace sbert::cpu {

// The kernels: portable scalar code (always), AVX2 (vpmaddubsw + vpmaddwd: activations must stay
// below 128 so a pair of products fits 16 bits), AVX-512 VNNI (vpdpbusd: four u8 x s8 products
// summed straight into 32 bits, so full 8-bit activations).
enum class Int8Kernel { Scalar, Avx2, Avx512Vnni };

class Int8PackedWeight {
 public:
  static constexpr int64_t kPanel = 16;  // output columns per panel
  // The largest activation code of the AVX2 kernel (pairs of products must fit in 16 bits).
  static constexpr int kActivationMax = 127;

  // Whether this CPU has the instructions of `kernel` (Scalar: always).
  static bool supported(Int8Kernel kernel);
  // Whether `kernel` is supported and gave the scalar code's exact sums on a fixed problem the
  // first time it was asked for in this process (an ISA kernel never run on this CPU model can
  // not give wrong vectors: a mismatch logs one line and the caller falls back).
  static bool verified(Int8Kernel kernel);
  // The largest activation code `kernel` takes: 127 (AVX2) or 255.
  static int activation_max(Int8Kernel kernel);
  // The fastest verified kernel for activations up to `activation_max` (Scalar when no other).
  static Int8Kernel best(int activation_max);
  // "AVX2 u8xs8 6x16", "AVX-512 VNNI u8xs8 12x32", "scalar" for -v and the benchmarks.
  static const char* kernel_name(Int8Kernel kernel);
  // Whether this CPU runs the AVX2 kernel (kept for callers that ask only that).
  static bool available() { return supported(Int8Kernel::Avx2); }
  // Row stride (bytes) of the activation codes multiply() reads: k rounded up to 4.
  static int64_t padded_inputs(int64_t k) { return (k + 3) / 4 * 4; }

  // codes: row-major [n, k] weight codes in [-127, 127] (n outputs, k inputs); multiply() runs
  // `kernel` (which must be supported).
  Int8PackedWeight(const int8_t* codes, int64_t n, int64_t k, Int8Kernel kernel = Int8Kernel::Avx2);

  int64_t outputs() const { return n_; }
  int64_t inputs() const { return k_; }
  Int8Kernel kernel() const { return kernel_; }

  // c[r, 0:n) = sum over i < k of a[r * lda + i] * w[0:n, i], for the rows r in [0, rows). a holds
  // codes in [0, activation_max(kernel())]; lda >= padded_inputs(k), and the bytes of each row from k to
  // padded_inputs(k) must be readable (their value does not matter: the weight is zero there).
  void multiply(const uint8_t* a, int64_t lda, int64_t rows, int32_t* c, int64_t ldc) const;

 private:
  struct Free {
    void operator()(int8_t* p) const { std::free(p); }
  };
  int64_t n_ = 0, k_ = 0, k4_ = 0;
  Int8Kernel kernel_ = Int8Kernel::Avx2;
  std::unique_ptr<int8_t, Free> panels_;
};

}  // namespace sbert::cpu
