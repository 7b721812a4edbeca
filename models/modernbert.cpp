// ModernBERT (transformers' modeling_modernbert.py, model_type modernbert; gte-modernbert-base,
// modernbert-embed-base): tok_embeddings and a LayerNorm, no position table; pre-LayerNorm layers
// (attn_norm before attention, an Identity in layer 0; mlp_norm before the MLP; final_norm after
// the last layer), the LayerNorms without bias unless norm_bias; one fused Wqkv projection
// ([q | k | v] rows), rotary positions (rotate_half layout); every global_attn_every_n_layers-th
// layer (0, n, 2n, ...) global with global_rope_theta, the others local with local_rope_theta and
// a symmetric window: key j seen by query i iff |i - j| <= local_attention / 2; GeGLU from the
// fused Wi (its first half goes through the activation, the second multiplies: [gate | up]), the
// exact erf GELU for "gelu"; no biases unless attention_bias / mlp_bias. layer_types, when given,
// names the global ("full_attention") layers instead.
#include "cpu/model_config.h"
#include "models/architecture_list.h"
#include "sbert/error.h"

namespace sbert::cpu {
namespace {

void read_modernbert(const nlohmann::json& j, ModelConfig& c, const std::string& where) {
  c.mlp_up_bias = c.mlp_down_bias = config_bool(j, where, "mlp_bias", false);
  c.norm_bias = config_bool(j, where, "norm_bias", false);
  const int64_t every = config_int(j, where, "global_attn_every_n_layers", std::nullopt);
  if (every <= 0) throw Error(where + ": field 'global_attn_every_n_layers' must be positive");
  const int64_t window = config_int(j, where, "local_attention", std::nullopt);
  if (window <= 0) throw Error(where + ": field 'local_attention' must be positive");
  if (window > c.max_position_embeddings)
    throw Error(where + ": field 'local_attention' (" + std::to_string(window) + ") is larger than max_position_embeddings (" +
                std::to_string(c.max_position_embeddings) + ")");
  const double global_theta = config_number(j, where, "global_rope_theta", 160000.0);
  const double local_theta = config_number(j, where, "local_rope_theta", 10000.0);
  std::vector<bool> sliding = config_sliding_layers(j, where, static_cast<int64_t>(c.layers.size()));
  if (sliding.empty())
    for (int64_t l = 0; l < static_cast<int64_t>(c.layers.size()); ++l) sliding.push_back(l % every != 0);
  c.default_layer.rope_theta = global_theta;
  for (size_t l = 0; l < c.layers.size(); ++l) {
    ModelConfig::LayerAttention& a = c.layers[l];
    a.rope_theta = sliding[l] ? local_theta : global_theta;
    a.left = a.right = sliding[l] ? window / 2 : -1;
  }
}

}  // namespace

SBERT_ARCHITECTURE(modernbert) {
  Architecture a;
  a.name = "modernbert";
  a.model_types = {{"modernbert", "ModernBertModel", "ModernBertForSequenceClassification"}};
  ConfigKeys& k = a.config;
  k.activation = "hidden_activation";
  k.type_vocab_size = nullptr;
  k.layer_norm_eps = "norm_eps";
  k.hidden_dropout = "mlp_dropout";
  k.attention_dropout = "attention_dropout";
  k.classifier_dropout = "classifier_dropout";
  k.attention_bias = "attention_bias";
  TensorNames& n = a.tensors;
  n.word_embeddings = "embeddings.tok_embeddings";
  n.embeddings_norm = "embeddings.norm";
  n.layer_prefix = "layers.";
  n.qkv = "attn.Wqkv";
  n.attention_out = "attn.Wo";
  n.input_norm = "attn_norm";
  n.pre_mlp_norm = "mlp_norm";
  n.mlp_gate_up = "mlp.Wi";
  n.mlp_down = "mlp.Wo";
  n.final_norm = "final_norm";
  a.norm = NormKind::LayerNorm;
  a.norm_placement = NormPlacement::Pre;
  a.positions = PositionKind::Rotary;
  a.mlp = MlpKind::Gated;
  a.bias = false;
  a.first_layer_input_norm = false;
  a.read_config = read_modernbert;
  return a;
}

}  // namespace sbert::cpu
