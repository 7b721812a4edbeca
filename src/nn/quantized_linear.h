// int8 Linear layers for `--quantize int8`, on oneDNN's int8 matmul directly (the library
// libtorch itself runs on). Weights: quantized once per output channel (symmetric, scale =
// max|w| / 127) and reordered once into the layout oneDNN's kernel wants; one matmul primitive per
// weight, created once with a run-time row count, so no call rebuilds anything (libtorch's
// quantized::linear_dynamic rebuilt its primitive whenever the input's range or shape changed:
// ~0.45 ms per call). Activations: quantized per row (per token) at run time, asymmetric, range
// [min(0, x), max(0, x)], to 8 bits where oneDNN's kernel has VNNI (no 16-bit intermediate sums)
// and to 7 bits elsewhere (AVX2's vpmaddubsw would saturate 8-bit pairs). Products are exact int32
// sums; a row's result depends on that row only, so neither the thread count nor the batch it
// shares changes the bits.
#pragma once
#include <ATen/ATen.h>
#include <memory>
#include <string>

namespace sbert::nn {

class QuantizedLinear {
 public:
  // "oneDNN <kernel>, <bits>-bit activations" (e.g. "oneDNN gemm:jit, 7-bit activations"), for
  // the -v line; empty if oneDNN cannot build an int8 matmul on this CPU.
  static std::string engine();

  // weight: float [out, in].
  explicit QuantizedLinear(const at::Tensor& weight);
  ~QuantizedLinear();
  QuantizedLinear(QuantizedLinear&&) noexcept;

  // x: float [M, in] (contiguous) -> float [M, out], without bias. Rows go in fixed blocks of 64
  // to cpu_pool's threads.
  at::Tensor forward(const at::Tensor& x) const;

  // The largest activation code (255 or 127, see above).
  static int activation_max();

 private:
  struct Packed;
  std::unique_ptr<Packed> packed_;
};

}  // namespace sbert::nn
