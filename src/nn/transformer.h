// The transformer encoders (BERT, RoBERTa/XLM-RoBERTa, DistilBERT, ELECTRA) as plain ATen code.
// Internal header: shared by the sentence encoder and the sequence-classification heads.
#pragma once
#include <array>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cpu/model_config.h"
#include "cpu/packed_gemm.h"
#include "cpu/quantized_linear.h"
#include "nn/torch_pch.h"
#include "nn/weight_store.h"
#include "sbert/runtime.h"

namespace sbert::nn {

class RotaryDecoder;

// config.json through the architecture description (torch-free, src/cpu/model_config.h).
using TransformerConfig = cpu::ModelConfig;
using cpu::Architecture;

struct EncoderOutput {
  at::Tensor last_hidden;                 // [B, L, H] in the compute dtype
  std::vector<at::Tensor> hidden_states;  // embeddings output + every layer (when requested)
};

class TransformerEncoder {
 public:
  // Reads the encoder's parameters from `store` under `prefix` (see find_encoder_prefix) and
  // converts them to `options` (dtype, device). Throws one error listing all missing tensors and
  // shape mismatches; `where` names the checkpoint in messages.
  // int8 (--quantize int8): the layers' four Linear weights become prepacked int8
  // (cpu::QuantizedLinear), quantized layer by layer straight from the checkpoint's weights; the
  // forward then always takes the packed path (CPU float32 only: throws otherwise, or when
  // libtorch has no int8 engine). Embeddings, LayerNorm, attention and heads stay float32.
  TransformerEncoder(TransformerConfig config, const WeightStore& store, const std::string& prefix,
                     at::TensorOptions options, const std::string& where, bool int8 = false);

  // input_ids, attention_mask (1 = token, 0 = padding) and token_type_ids (may be undefined):
  // int64 [B, L] on any device.
  // On the CPU in float32 without autograd this runs the packed path (forward_packed); elsewhere
  // forward_padded. Hidden states at padding positions are zeros on the packed path (nothing
  // reads them: pooling and the heads only look at tokens).
  EncoderOutput forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                        const at::Tensor& token_type_ids, bool all_hidden_states) const;
  // Hugging Face's eager computation on the padded [B, L] grid (any device and dtype).
  EncoderOutput forward_padded(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                               const at::Tensor& token_type_ids, bool all_hidden_states) const;
  // CPU float32 inference: padding removed (the position-wise layers run on the T real tokens
  // only, as [T, H] rows), attention straight from the fused QKV rows without permute copies,
  // residual + LayerNorm and the activation in place, non-GEMM stages on the cpu_pool threads.
  EncoderOutput forward_packed(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                               const at::Tensor& token_type_ids, bool all_hidden_states) const;

  bool quantized() const { return !quantized_.empty(); }
  // CPU float32 (without --quantize): the four Linear weights of each layer live only as
  // cpu::PackedWeight (packed at load time, the float tensors dropped), and both forwards run
  // their GEMMs through it (pooled_mm).
  bool packed_gemm() const { return !packed_.empty(); }

  bool has_pooler() const { return pooler_w_.defined(); }
  // tanh(dense(h[:, 0])) from the checkpoint's pooler weights.
  at::Tensor pooler(const at::Tensor& last_hidden) const;

  const TransformerConfig& config() const { return config_; }
  at::TensorOptions options() const { return options_; }

 private:
  struct Layer {
    at::Tensor qkv_w, qkv_b, out_w, out_b, ln1_w, ln1_b, ff1_w, ff1_b, ff2_w, ff2_b, ln2_w, ln2_b;
  };
  void activation_(at::Tensor& x) const;  // the config's activation, in place
  void require_int8_runs_here() const;     // throws off the CPU / float32
  std::array<std::shared_ptr<const cpu::QuantizedLinear>, 4> quantize_layer(size_t li) const;
  // ids (and token types) checked against the embedding tables; the summed, normalised
  // (and, for ELECTRA, projected) embeddings of the given ids / positions / types.
  void check_ids(const at::Tensor& ids, const at::Tensor& types) const;
  // The forward's inputs as int64 on `dev` (types zeros when the model has a type table and none
  // were given; undefined when it has none), length and ids checked.
  struct Inputs {
    at::Tensor ids, mask, types;
  };
  Inputs inputs(const at::Tensor& ids, const at::Tensor& mask, const at::Tensor& types, at::Device dev) const;
  at::Tensor embed(const at::Tensor& ids, const at::Tensor& positions, const at::Tensor& types) const;
  at::Tensor positions(const at::Tensor& ids) const;  // [B, L]
  // Linear weight `which` (0 qkv, 1 attention out, 2 ffn up, 3 ffn down) of layer `li`, [out, in],
  // while the layers hold them as tensors (undefined once packed or quantized at load).
  const at::Tensor& weight(size_t li, int which) const;
  // x · wᵀ + b for that weight, any leading dimensions (the padded forward's Linear).
  at::Tensor linear(const at::Tensor& x, size_t li, int which, const at::Tensor& b) const;

  TransformerConfig config_;
  at::TensorOptions options_;
  std::string where_;  // the model (for errors at run time)
  at::Tensor word_, position_, token_type_, emb_ln_w_, emb_ln_b_, project_w_, project_b_;
  std::vector<Layer> layers_;
  std::vector<std::array<std::shared_ptr<const cpu::QuantizedLinear>, 4>> quantized_;  // qkv, out, ff1, ff2
  std::vector<std::array<std::shared_ptr<const cpu::PackedWeight>, 4>> packed_;    // qkv, out, ff1, ff2
  at::Tensor pooler_w_, pooler_b_;
  // The descriptions without the BERT family's blocks (Qwen3, Gemma 3) run here instead.
  std::shared_ptr<const RotaryDecoder> decoder_;
  EncoderOutput forward_decoder(const at::Tensor& ids, const at::Tensor& mask, bool all) const;
  using Act = cpu::Activation;
  Act act_ = Act::GeluErf;
};

// a · wᵀ for CPU float32 [M, K] x [N, K]. When the GEMMs are the pool's (configure_cpu_threads),
// the rows of `a` go in blocks of 64 to cpu_pool's threads, each block one single-threaded BLAS
// call writing its rows of the result in place: no second thread pool spinning against this one,
// and the blocks (so the BLAS kernels and the bits) do not depend on the thread count. Otherwise
// one at::mm.
at::Tensor pooled_mm(const at::Tensor& a, const at::Tensor& w);
// a · wᵀ for CPU float32 a [M, K] and a packed weight: cpu::gemm (cpu/packed_gemm.h) over
// tensors.
using cpu::GemmEpilogue;
at::Tensor pooled_mm(const at::Tensor& a, const cpu::PackedWeight& w,
                     const GemmEpilogue* epilogue = nullptr);
// --quantize int8 over libtorch tensors: the weight [out, in] quantized and packed, and
// x [M, in] · wᵀ through it (float32 [M, out], no bias).
std::shared_ptr<const cpu::QuantizedLinear> quantize_linear(const at::Tensor& weight);
at::Tensor linear_int8(const cpu::QuantizedLinear& q, const at::Tensor& x);

// Raises a clear error when `dtype` cannot run on `device` with this libtorch (e.g. float16
// matmul on a CPU build that lacks it).
void check_dtype_supported(at::Device device, at::ScalarType dtype, const std::string& dtype_name);
// sbert::Device / sbert::DType (sbert/runtime.h, parsed once by setup_runtime) as libtorch's;
// `name` is the option as given, for the errors (CUDA missing, index out of range).
at::Device to_torch(const Device& device, const std::string& name);
at::ScalarType to_torch(DType dtype);
// CPU threading. With an OpenBLAS that runs its own thread pool (Debian's libtorch), ATen's
// OpenMP pool and OpenBLAS's pool spin against each other on a small machine (measured: 5x more
// CPU time for the same work on 2 cores), so ATen's own pool is kept at one thread. For float32
// inference (`inference`) the packed forward runs everything on cpu_pool's `threads` threads,
// GEMMs split by rows with OpenBLAS single-threaded; otherwise (training) GEMMs get `threads`
// OpenBLAS threads. Without OpenBLAS (MKL / OpenMP BLAS) at::set_num_threads(threads).
// Reduced-precision GEMMs (bfloat16) go through oneDNN on ATen's pool, so that pool gets the
// threads then; int8 ones (--quantize int8, cpu::QuantizedLinear) run on cpu_pool like float32.
// threads <= 0: all cores. Part of setup_runtime().
void configure_cpu_threads(int threads, at::ScalarType dtype = at::kFloat, bool inference = true);
// Whether this CPU has bfloat16 arithmetic (AVX512_BF16 or AMX-BF16); without it bfloat16 is
// emulated and slower than float32.
bool cpu_has_bf16();

}  // namespace sbert::nn
