// Gemma 3 text (transformers' modeling_gemma3.py, model_type gemma3_text), as EmbeddingGemma
// runs it: word embeddings times float32(sqrt(hidden_size)); sandwich (1 + w) RMSNorm layers
// (input_layernorm, post_attention_layernorm on attention's output, pre_feedforward_layernorm,
// post_feedforward_layernorm on the MLP's output; a final norm); grouped-query attention with an
// explicit head_dim, per-head (1 + w) RMSNorm of queries and keys before the rotation, scores
// scaled by query_pre_attn_scalar^-0.5; GeGLU (gelu_pytorch_tanh(gate) * up); no biases.
// layer_types says which layers slide (else every sliding_window_pattern-th layer is full);
// sliding layers rotate with rope_local_base_freq, full ones with rope_theta. With
// use_bidirectional_attention (EmbeddingGemma) attention is bidirectional and a sliding layer's
// window symmetric: key j seen by query i iff |i - j| <= sliding_window / 2 (transformers stores
// sliding_window // 2 + 1 as an exclusive bound); without it causal, i - j < sliding_window.
#include "cpu/model_config.h"
#include "models/architecture_list.h"
#include "sbert/error.h"

namespace sbert::cpu {
namespace {

void read_gemma3(const nlohmann::json& j, ModelConfig& c, const std::string& where) {
  if (j.contains("rope_scaling") && !j["rope_scaling"].is_null())
    throw Error(where + ": field 'rope_scaling' is set; sbert runs Gemma 3 with the default rotary angles only");
  // attn_logit_softcapping: Gemma3Attention passes none to its attention function; ignored here too.
  const bool bidirectional = config_bool(j, where, "use_bidirectional_attention", false);
  const double scalar = config_number(j, where, "query_pre_attn_scalar", std::nullopt);
  if (!(scalar > 0)) throw Error(where + ": field 'query_pre_attn_scalar' must be positive");
  c.attention_scale = 1.0 / std::sqrt(scalar);
  c.embedding_scale = std::sqrt(static_cast<double>(c.hidden_size));
  const double local_theta = config_number(j, where, "rope_local_base_freq", 10000.0);
  const int64_t window = config_int(j, where, "sliding_window", std::nullopt);
  if (window <= 0) throw Error(where + ": field 'sliding_window' must be positive");
  std::vector<bool> sliding = config_sliding_layers(j, where, static_cast<int64_t>(c.layers.size()));
  if (sliding.empty()) {
    int64_t pattern = 6;
    for (const char* key : {"sliding_window_pattern", "_sliding_window_pattern"})
      if (j.contains(key) && !j[key].is_null()) pattern = config_int(j, where, key, 6);
    if (pattern <= 0) throw Error(where + ": field 'sliding_window_pattern' must be positive");
    for (int64_t l = 0; l < static_cast<int64_t>(c.layers.size()); ++l) sliding.push_back((l + 1) % pattern != 0);
  }
  for (int64_t l = 0; l < static_cast<int64_t>(c.layers.size()); ++l) {
    ModelConfig::LayerAttention& a = c.layers[static_cast<size_t>(l)];
    a.left = -1;
    a.right = bidirectional ? -1 : 0;
    if (!sliding[static_cast<size_t>(l)]) continue;
    a.rope_theta = local_theta;
    if (bidirectional) {
      a.left = a.right = window / 2;
    } else {
      a.left = window - 1;
    }
  }
}

}  // namespace

SBERT_ARCHITECTURE(gemma3) {
  Architecture a;
  a.name = "gemma3";
  a.model_types = {{"gemma3_text", "Gemma3TextModel", "Gemma3TextForSequenceClassification"}};
  a.config = decoder_config_keys();
  a.config.activation = "hidden_activation";
  a.tensors = decoder_layer_names();
  a.tensors.post_attention_norm = "post_attention_layernorm";
  a.tensors.pre_mlp_norm = "pre_feedforward_layernorm";
  a.tensors.post_mlp_norm = "post_feedforward_layernorm";
  a.norm = NormKind::RMSNormOnePlus;
  a.norm_placement = NormPlacement::Sandwich;
  a.positions = PositionKind::Rotary;
  a.attention = AttentionKind::Causal;  // use_bidirectional_attention widens it (read_gemma3)
  a.mlp = MlpKind::Gated;
  a.bias = false;
  a.default_pad_token_id = 0;
  a.read_config = read_gemma3;
  return a;
}

}  // namespace sbert::cpu
