// int8 Linear layers for `--quantize int8`: weights quantized once per output channel
// (symmetric, scale = max|w| / 127) and prepacked for libtorch's quantized engine (FBGEMM where
// the build has it, else oneDNN); activations quantized dynamically at run time, as PyTorch's
// torch.ao.quantization.quantize_dynamic does for nn.Linear: one range per call (a whole batch),
// computed on libtorch's own threads, so the result does not depend on the thread count.
#pragma once
#include <ATen/ATen.h>
#include <memory>
#include <string>

namespace sbert::nn {

class QuantizedLinear {
 public:
  // The engine int8 GEMMs would use ("fbgemm", "onednn"), or empty when this libtorch has none
  // that pays on this CPU (QNNPACK is for ARM: measured 8x slower than float32 here).
  static std::string engine();

  // weight: float [out, in].
  explicit QuantizedLinear(const at::Tensor& weight);
  ~QuantizedLinear();
  QuantizedLinear(QuantizedLinear&&) noexcept;

  // x: float [M, in] (contiguous) -> float [M, out], without bias.
  at::Tensor forward(const at::Tensor& x) const;

 private:
  struct Packed;
  std::unique_ptr<Packed> packed_;
};

}  // namespace sbert::nn
