// GTE "new" (Alibaba-NLP/new-impl's remote modeling.py, model_type new; gte-base-en-v1.5,
// snowflake-arctic-embed-m-v2.0): word embeddings (+ token types when type_vocab_size > 0) and a
// LayerNorm; rotary positions (rotate_half layout, base rope_theta; rope_scaling {"type": "ntk",
// "factor": f} always applies: base rope_theta * f, frequencies / f^(2 / head_dim)); post-LayerNorm
// layers: one fused qkv_proj and o_proj with biases, attn_ln; a GLU from up_gate_proj (no bias;
// first half up, second half gate: down_proj(act(gate) * up), the exact erf GELU for "gelu"),
// down_proj with a bias, mlp_ln.
#include <cmath>

#include "cpu/model_config.h"
#include "models/architecture_list.h"
#include "sbert/error.h"

namespace sbert::cpu {
namespace {

void require_value(const nlohmann::json& j, const std::string& where, const char* key, const char* fallback,
                   const char* why) {
  const std::string v = j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : fallback;
  if (j.contains(key) && !j[key].is_null() && !j[key].is_string())
    throw Error(where + ": field '" + key + "' is not a string");
  if (v != fallback) throw Error(where + ": field '" + key + "' is '" + v + "'; " + why);
}

void read_gte_new(const nlohmann::json& j, ModelConfig& c, const std::string& where) {
  require_value(j, where, "position_embedding_type", "rope", "sbert runs GTE with rotary positions only");
  require_value(j, where, "layer_norm_type", "layer_norm", "sbert runs GTE with LayerNorm only");
  if (!config_bool(j, where, "pack_qkv", true))
    throw Error(where + ": field 'pack_qkv' is false; sbert reads GTE's fused qkv_proj only");
  if (config_bool(j, where, "logn_attention_scale", false))
    throw Error(where + ": field 'logn_attention_scale' is true; sbert runs GTE without it");
  c.type_vocab_size = config_int(j, where, "type_vocab_size", 0);
  if (c.type_vocab_size < 0) throw Error(where + ": field 'type_vocab_size' is negative");
  c.mlp_up_bias = false;  // up_gate_proj has none; down_proj has one
  if (!j.contains("rope_scaling") || j["rope_scaling"].is_null()) return;
  const nlohmann::json& s = j["rope_scaling"];
  const std::string type = s.is_object() && s.contains("type") && s["type"].is_string() ? s["type"].get<std::string>() : "";
  if (type != "ntk" || (s.contains("mixed_b") && !s["mixed_b"].is_null()))
    throw Error(where + ": field 'rope_scaling' is " + s.dump() + "; sbert runs GTE with {\"type\": \"ntk\", \"factor\": f} only");
  const double factor = config_number(s, where + ": field 'rope_scaling'", "factor", std::nullopt);
  if (!(factor > 0)) throw Error(where + ": field 'rope_scaling' needs a positive factor");
  c.rope_theta *= factor;
  c.default_layer.rope_theta = c.rope_theta;
  for (auto& l : c.layers) l.rope_theta = c.rope_theta;
  c.rope_freq_divisor = std::pow(factor, 2.0 / static_cast<double>(c.head_dim()));
}

}  // namespace

SBERT_ARCHITECTURE(gte_new) {
  Architecture a;
  a.name = "new";
  a.model_types = {{"new", "NewModel", "NewForSequenceClassification"}};
  a.config.rope_theta = "rope_theta";
  TensorNames& n = a.tensors;
  n.word_embeddings = "embeddings.word_embeddings";
  n.token_type_embeddings = "embeddings.token_type_embeddings";
  n.embeddings_norm = "embeddings.LayerNorm";
  n.layer_prefix = "encoder.layer.";
  n.qkv = "attention.qkv_proj";
  n.attention_out = "attention.o_proj";
  n.attention_norm = "attn_ln";
  n.mlp_up_gate = "mlp.up_gate_proj";
  n.mlp_down = "mlp.down_proj";
  n.mlp_norm = "mlp_ln";
  n.pooler = "pooler.dense";
  a.positions = PositionKind::Rotary;
  a.mlp = MlpKind::Gated;
  a.read_config = read_gte_new;
  return a;
}

}  // namespace sbert::cpu
