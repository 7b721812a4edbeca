// The runtime every model shares: device, dtype, threads, batching limits, input length and
// tokenizer options (RuntimeOptions, the base of EncoderOptions and ClassifierOptions), parsed
// once into a Runtime by setup_runtime(), which also prepares the CPU math libraries (BLAS
// kernel selection, thread pools). Torch-free.
#pragma once
#include <cstddef>
#include <string>

#include "sbert/tokenizer.h"

namespace sbert {

enum class DeviceType { Cpu, Cuda };
enum class DType { Float32, Float16, BFloat16 };

struct Device {
  DeviceType type = DeviceType::Cpu;
  int index = 0;  // CUDA device index
  bool is_cpu() const { return type == DeviceType::Cpu; }
  std::string str() const;  // "cpu", "cuda:0"
};

struct RuntimeOptions {
  std::string device = "cpu";       // cpu | cuda | cuda:N
  std::string dtype = "float32";    // float32 | float16 | bfloat16 (also fp32/fp16/bf16/half)
  int threads = 0;                  // 0: all cores
  // "int8": dynamic int8 quantization of the encoder's Linear layers (CPU, float32; weights per
  // output channel, activations per block of token rows); "" or "none": off.
  std::string quantize;
  size_t batch_size = 32;           // inputs per forward pass
  size_t max_batch_tokens = 0;      // padded tokens per batch (0: the model's default)
  size_t max_length = 0;            // tokens per input, specials included (0: the model's default)
  TokenizerOptions tokenizer;
};

// "cpu" | "cuda" | "cuda:N" (syntax only; setup_runtime checks that CUDA is there).
Device parse_device(const std::string& name);
// "float32" | "float16" | "bfloat16" (also fp32/fp16/bf16/half/float).
DType parse_dtype(const std::string& name);
const char* dtype_name(DType dtype);  // "float32", "float16", "bfloat16"

// What setup_runtime() settled on.
struct Runtime {
  Device device;
  DType dtype = DType::Float32;
  int threads = 1;           // threads given to the math libraries
  std::string blas_kernel;   // OpenBLAS core in use (empty: no OpenBLAS, or not reported)
};

// Parses device and dtype (sbert::Error on a bad name or a missing CUDA), and on CPU prepares the
// math libraries once per process: with Debian's dynamic-arch OpenBLAS, a CPU the library does not
// know (it then falls back to its SSE3 "Prescott" kernels) gets the best kernel its features
// allow, unless OPENBLAS_CORETYPE is set; then the OpenBLAS / ATen thread pools (see
// src/nn/runtime.cpp). Logs what it chose through log_verbose().
Runtime setup_runtime(const RuntimeOptions& options);

}  // namespace sbert
