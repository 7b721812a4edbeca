// int8 Linear layers for `--quantize int8`. Weights: quantized once per output channel
// (symmetric, scale = max|w| / 127) and packed once. Activations: quantized per row (per token)
// at run time, asymmetric, range [min(0, x), max(0, x)], to 8 bits where oneDNN's kernel has VNNI
// (no 16-bit intermediate sums) and to 7 bits elsewhere (AVX2's vpmaddubsw would saturate 8-bit
// pairs). The GEMM: sbert's own kernel (cpu/int8_gemm.h: AVX-512 VNNI with 8-bit activations, AVX2
// with 7-bit ones), once it passed its first-use check; else oneDNN's int8 matmul called directly
// (the library libtorch itself runs on; one primitive per
// weight, created once with a run-time row count, so no call rebuilds anything — libtorch's
// quantized::linear_dynamic rebuilt its primitive whenever the input's range or shape changed).
// Products are exact int32 sums, so both kernels give the same bits; a row's result depends on
// that row only, so neither the thread count nor the batch it shares changes them.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

namespace sbert::cpu {

class QuantizedLinear {
 public:
  // The kernel and activation bits, for the -v line ("AVX2 u8xs8 6x16, 7-bit activations",
  // "oneDNN brg:avx512_core_vnni, 8-bit activations"); empty if no int8 kernel runs on this CPU.
  static std::string engine();
  // For the tests: layers built after use_own_kernel(false) run on oneDNN even where sbert's
  // kernel would be chosen (default true).
  static void use_own_kernel(bool enabled);

  // weight: float32 row-major [out, in].
  QuantizedLinear(const float* weight, int64_t out, int64_t in);
  ~QuantizedLinear();
  QuantizedLinear(QuantizedLinear&&) noexcept;

  // out [M, outputs()] = x [M, inputs()] · wᵀ (row-major, contiguous), without bias. Rows go in
  // fixed blocks of 64 to cpu_pool's threads.
  void forward(const float* x, int64_t M, float* out) const;
  int64_t inputs() const;
  int64_t outputs() const;

  // The largest activation code (255 or 127, see above).
  static int activation_max();

 private:
  struct Packed;
  std::unique_ptr<Packed> packed_;
};

}  // namespace sbert::cpu
