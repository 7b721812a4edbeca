// libtorch's executor of the pre-norm / sandwich RMSNorm descriptions (Qwen3, Gemma 3): Hugging
// Face's eager computation on the padded [B, L] grid, for CUDA and float16/bfloat16 (CPU float32
// and int8 run in sbert's own runtime, src/cpu/encoder.cpp, from the same description).
#pragma once
#include <map>
#include <utility>
#include <vector>

#include "cpu/model_config.h"
#include "nn/torch_pch.h"
#include "nn/weight_store.h"

namespace sbert::nn {

class RotaryDecoder {
 public:
  RotaryDecoder(cpu::ModelConfig config, const WeightStore& store, const std::string& prefix,
                at::TensorOptions options, const std::string& where);
  // ids, mask [B, L] (right padding, positions 0..L-1 as transformers gives them). The last
  // state is the final norm's output; with `all`, the embeddings, each layer's output but the last,
  // and the final norm's (transformers' hidden_states).
  std::vector<at::Tensor> forward(const at::Tensor& ids, const at::Tensor& mask, bool all) const;

 private:
  struct Layer {
    at::Tensor q, k, v, o, gate, up, down;       // Linear weights [out, in]
    at::Tensor qb, kb, vb, ob;                   // attention biases (attention_bias)
    at::Tensor input, post_attention, pre_mlp, post_mlp, q_norm, k_norm;  // float32 gains
  };
  at::Tensor rms(const at::Tensor& x, const at::Tensor& gain) const;
  at::Tensor gain(WeightLoader& w, const std::string& name, int64_t n) const;

  cpu::ModelConfig config_;
  at::TensorOptions options_;
  std::string where_;
  at::Tensor word_, final_norm_;
  std::vector<Layer> layers_;
};

}  // namespace sbert::nn
