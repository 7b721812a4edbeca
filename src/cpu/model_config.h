// A model's config.json read through its architecture description (src/cpu/architecture.h):
// the dimensions every executor needs. Torch-free.
#pragma once
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cpu/architecture.h"
#include "cpu/cpu_kernels.h"

namespace sbert::cpu {

struct ModelConfig {
  const Architecture* arch = nullptr;
  std::string model_type;
  std::vector<std::string> architectures;
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t embedding_size = 0;  // ELECTRA: embeddings are projected to hidden_size when different
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t intermediate_size = 0;
  int64_t max_position_embeddings = 512;
  int64_t type_vocab_size = 0;  // 0: no token type embeddings (DistilBERT)
  int64_t pad_token_id = 0;
  double layer_norm_eps = 1e-12;
  std::string activation = "gelu";
  nlohmann::json raw;  // the whole config.json (label maps etc. for heads)

  int64_t head_dim() const { return hidden_size / num_heads; }
  // Position ids of AbsoluteAfterPadding start after the padding index.
  int64_t position_offset() const {
    return arch->positions == PositionKind::AbsoluteAfterPadding ? pad_token_id + 1 : 0;
  }
  // The longest input the position embeddings allow.
  int64_t max_input_length() const { return max_position_embeddings - position_offset(); }

  // sbert::Error naming `where` for a missing or bad field, or a model_type no description reads.
  static ModelConfig from_json(const nlohmann::json& j, const std::string& where);
  static ModelConfig load(const std::filesystem::path& config_json);
};

// "gelu" | "gelu_new" / "gelu_pytorch_tanh" / "gelu_fast" | "relu" | "silu" / "swish" |
// "quick_gelu"; sbert::Error naming `where` otherwise.
Activation parse_activation(const std::string& name, const std::string& where);

}  // namespace sbert::cpu
