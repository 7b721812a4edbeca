// Qwen3 (transformers' modeling_qwen3.py), as Qwen3-Embedding runs it: a causal decoder without
// position tables; pre-RMSNorm layers (input_layernorm before attention, post_attention_layernorm
// before the MLP, a final norm), grouped-query attention with an explicit head_dim, per-head
// RMSNorm of queries and keys before the rotation (rotate_half layout, base rope_theta), SwiGLU
// (silu(gate) * up), no biases unless attention_bias. Sliding windows only when
// use_sliding_window: causal, key j seen by query i iff i - j < sliding_window, on the layers
// layer_types names (default: from max_window_layers on). The weights are a Qwen3Model's
// (embed_tokens, layers.N, norm), saved with or without the "model." prefix.
#include "cpu/model_config.h"
#include "models/architecture_list.h"
#include "sbert/error.h"

namespace sbert::cpu {
namespace {

void read_qwen3(const nlohmann::json& j, ModelConfig& c, const std::string& where) {
  if (j.contains("rope_scaling") && !j["rope_scaling"].is_null())
    throw Error(where + ": field 'rope_scaling' is set; sbert runs Qwen3 with the default rotary angles only");
  if (!config_bool(j, where, "use_sliding_window", false)) return;
  const int64_t window = config_int(j, where, "sliding_window", std::nullopt);
  if (window <= 0) throw Error(where + ": field 'sliding_window' must be positive");
  std::vector<bool> sliding = config_sliding_layers(j, where, static_cast<int64_t>(c.layers.size()));
  if (sliding.empty()) {
    const int64_t from = config_int(j, where, "max_window_layers", c.num_layers);
    for (int64_t l = 0; l < static_cast<int64_t>(c.layers.size()); ++l) sliding.push_back(l >= from);
  }
  for (int64_t l = 0; l < static_cast<int64_t>(c.layers.size()); ++l)
    if (sliding[static_cast<size_t>(l)]) c.layers[static_cast<size_t>(l)].left = window - 1;
}

}  // namespace

ConfigKeys decoder_config_keys() {
  ConfigKeys k;
  k.type_vocab_size = nullptr;
  k.layer_norm_eps = "rms_norm_eps";
  k.hidden_dropout = nullptr;
  k.attention_dropout = "attention_dropout";
  k.classifier_dropout = nullptr;
  k.num_kv_heads = "num_key_value_heads";
  k.head_dim = "head_dim";
  k.rope_theta = "rope_theta";
  k.attention_bias = "attention_bias";
  return k;
}

TensorNames decoder_layer_names() {
  TensorNames n;
  n.word_embeddings = "embed_tokens";
  n.layer_prefix = "layers.";
  n.query = "self_attn.q_proj";
  n.key = "self_attn.k_proj";
  n.value = "self_attn.v_proj";
  n.attention_out = "self_attn.o_proj";
  n.q_norm = "self_attn.q_norm";
  n.k_norm = "self_attn.k_norm";
  n.input_norm = "input_layernorm";
  n.mlp_gate = "mlp.gate_proj";
  n.mlp_up = "mlp.up_proj";
  n.mlp_down = "mlp.down_proj";
  n.final_norm = "norm";
  return n;
}

SBERT_ARCHITECTURE(qwen3) {
  Architecture a;
  a.name = "qwen3";
  a.model_types = {{"qwen3", "Qwen3Model", "Qwen3ForSequenceClassification"}};
  a.config = decoder_config_keys();
  a.tensors = decoder_layer_names();
  a.tensors.pre_mlp_norm = "post_attention_layernorm";
  a.norm = NormKind::RMSNorm;
  a.norm_placement = NormPlacement::Pre;
  a.positions = PositionKind::Rotary;
  a.attention = AttentionKind::Causal;
  a.mlp = MlpKind::Gated;
  a.bias = false;
  a.read_config = read_qwen3;
  return a;
}

}  // namespace sbert::cpu
