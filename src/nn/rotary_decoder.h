// libtorch's executor of the pre-norm / sandwich RMSNorm descriptions (Qwen3, Gemma 3): Hugging
// Face's eager computation on the padded [B, L] grid, for CUDA and float16/bfloat16 (CPU float32
// and int8 run in sbert's own runtime, src/cpu/encoder.cpp, from the same description).
#pragma once
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "cpu/model_config.h"
#include "nn/torch_pch.h"
#include "nn/weight_store.h"

namespace sbert::nn {

// Whether `a` has the blocks this executor runs: pre-norm or sandwich RMSNorm layers, rotary
// positions, a gated MLP, separate q/k/v projections (Qwen3, Gemma 3).
bool rotary_decoder_blocks(const cpu::Architecture& a);

// A parameter by its checkpoint name without the prefix ("layers.0.self_attn.q_proj.weight").
using DecoderParameter = std::function<const at::Tensor&(const std::string& name)>;

// Every parameter the forward reads, with its shape.
std::vector<std::pair<std::string, std::vector<int64_t>>> rotary_decoder_parameters(const cpu::ModelConfig& c);

// The forward over parameters looked up by name: inference (RotaryDecoder) and training's
// autograd (train.cpp, leaf tensors) run the same code. Returns the states as forward() below.
// attention_dropout > 0 with `train` drops attention probabilities (as transformers' eager
// attention; Qwen3 and Gemma 3 have no other dropout).
std::vector<at::Tensor> rotary_decoder_forward(const cpu::ModelConfig& c, const DecoderParameter& P,
                                               const at::Tensor& ids, const at::Tensor& mask, bool all,
                                               double attention_dropout = 0, bool train = false);

class RotaryDecoder {
 public:
  RotaryDecoder(cpu::ModelConfig config, const WeightStore& store, const std::string& prefix,
                at::TensorOptions options, const std::string& where);
  // ids, mask [B, L] (right padding, positions 0..L-1 as transformers gives them). The last
  // state is the final norm's output; with `all`, the embeddings, each layer's output but the last,
  // and the final norm's (transformers' hidden_states).
  std::vector<at::Tensor> forward(const at::Tensor& ids, const at::Tensor& mask, bool all) const;

 private:
  cpu::ModelConfig config_;
  at::TensorOptions options_;
  std::map<std::string, at::Tensor> params_;
};

}  // namespace sbert::nn
