// A model's config.json read through its architecture description (src/cpu/architecture.h):
// the dimensions every executor needs. Torch-free.
#pragma once
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <optional>
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
  int64_t num_kv_heads = 0;     // = num_heads unless grouped
  int64_t explicit_head_dim = 0;  // 0: hidden_size / num_heads
  bool attention_bias = true;   // the attention projections have biases
  bool mlp_up_bias = true, mlp_down_bias = true;  // the MLP's (gate and up / down); Architecture::bias
  bool norm_bias = true;        // LayerNorm: the norms have a bias (ModernBERT's norm_bias false)
  double attention_scale = 0;   // scores are multiplied by it; 0: 1 / sqrt(head_dim)
  double embedding_scale = 1;   // word embeddings are multiplied by float(embedding_scale)
  double rope_theta = 10000;    // Rotary: the default base
  // Rotary: the first rotary_dim features of each head rotate (0: all; NomicBERT's
  // rotary_emb_fraction), pairs (i, i + rotary_dim/2) or, interleaved, (2i, 2i + 1); the inverse
  // frequencies divided by float(rope_freq_divisor) (GTE's NTK scaling: factor^(2/d)).
  int64_t rotary_dim = 0;
  bool rotary_interleaved = false;
  double rope_freq_divisor = 1;
  // TensorNames::relative_attention_bias: buckets of the key's offset j - i (0: none) and the
  // distance past which the last bucket applies (MPNet: 32, 128).
  int64_t relative_buckets = 0, relative_max_distance = 128;
  // Per layer: which keys a query sees beyond the attention kind (-1: no bound): keys j with
  // i - left <= j <= i + right; and the layer's rotary base.
  struct LayerAttention {
    int64_t left = -1, right = -1;
    double rope_theta = 0;
  };
  std::vector<LayerAttention> layers;  // num_layers entries (none past kMaxDescribedLayers)
  LayerAttention default_layer;
  static constexpr int64_t kMaxDescribedLayers = 65536;
  const LayerAttention& layer(size_t l) const { return l < layers.size() ? layers[l] : default_layer; }
  nlohmann::json raw;  // the whole config.json (label maps etc. for heads)

  int64_t head_dim() const { return explicit_head_dim > 0 ? explicit_head_dim : hidden_size / num_heads; }
  int64_t rotary_features() const { return rotary_dim > 0 ? rotary_dim : head_dim(); }
  float scale() const {
    return static_cast<float>(attention_scale > 0 ? attention_scale : 1.0 / std::sqrt(static_cast<double>(head_dim())));
  }
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

// Config readers for Architecture::read_config hooks: the integer, number or boolean at `key`
// (`fallback` when missing or null; without one a missing key is an error naming `where`).
int64_t config_int(const nlohmann::json& j, const std::string& where, const char* key,
                   std::optional<int64_t> fallback = std::nullopt);
double config_number(const nlohmann::json& j, const std::string& where, const char* key,
                     std::optional<double> fallback = std::nullopt);
bool config_bool(const nlohmann::json& j, const std::string& where, const char* key, bool fallback);
// config.json's "layer_types" ("full_attention" / "sliding_attention" per layer) as flags
// (true: sliding), or empty when the config has none.
std::vector<bool> config_sliding_layers(const nlohmann::json& j, const std::string& where, int64_t layers);

// "gelu" | "gelu_new" / "gelu_pytorch_tanh" / "gelu_fast" | "relu" | "silu" / "swish" |
// "quick_gelu"; sbert::Error naming `where` otherwise.
Activation parse_activation(const std::string& name, const std::string& where);

}  // namespace sbert::cpu
