#include "cpu/model_config.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "sbert/error.h"
#include "sbert/model_folder.h"

namespace sbert::cpu {
namespace fs = std::filesystem;
int64_t config_int(const nlohmann::json& j, const std::string& where, const char* key,
                   std::optional<int64_t> fallback) {
  if (!j.contains(key) || j[key].is_null()) {
    if (fallback) return *fallback;
    throw Error(where + ": field '" + key + "' missing");
  }
  if (!j[key].is_number_integer()) throw Error(where + ": field '" + key + "' is not an integer");
  return j[key].get<int64_t>();
}

double config_number(const nlohmann::json& j, const std::string& where, const char* key,
                     std::optional<double> fallback) {
  if (!j.contains(key) || j[key].is_null()) {
    if (fallback) return *fallback;
    throw Error(where + ": field '" + key + "' missing");
  }
  if (!j[key].is_number() || !std::isfinite(j[key].get<double>()))
    throw Error(where + ": field '" + key + "' is not a finite number");
  return j[key].get<double>();
}

bool config_bool(const nlohmann::json& j, const std::string& where, const char* key, bool fallback) {
  if (!j.contains(key) || j[key].is_null()) return fallback;
  if (!j[key].is_boolean()) throw Error(where + ": field '" + key + "' is not true or false");
  return j[key].get<bool>();
}

std::vector<bool> config_sliding_layers(const nlohmann::json& j, const std::string& where, int64_t layers) {
  std::vector<bool> out;
  if (!j.contains("layer_types") || j["layer_types"].is_null()) return out;
  const auto& t = j["layer_types"];
  if (!t.is_array() || static_cast<int64_t>(t.size()) != layers)
    throw Error(where + ": field 'layer_types' must list one type per layer (" + std::to_string(layers) + ")");
  for (size_t i = 0; i < t.size(); ++i) {
    const std::string v = t[i].is_string() ? t[i].get<std::string>() : t[i].dump();
    if (v != "full_attention" && v != "sliding_attention")
      throw Error(where + ": field 'layer_types' entry " + std::to_string(i) + " is '" + v +
                  "' (full_attention or sliding_attention)");
    out.push_back(v == "sliding_attention");
  }
  return out;
}


ModelConfig ModelConfig::from_json(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) throw Error(where + ": not a JSON object");
  ModelConfig c;
  c.raw = j;
  if (j.contains("architectures") && j["architectures"].is_array())
    for (const auto& a : j["architectures"])
      if (a.is_string()) c.architectures.push_back(a.get<std::string>());
  if (!j.contains("model_type") || !j["model_type"].is_string())
    throw Error(where + ": field 'model_type' missing");
  c.model_type = j["model_type"].get<std::string>();
  c.arch = architecture_for(c.model_type);
  if (!c.arch)
    throw Error(where + ": unknown architecture (model_type '" + c.model_type +
                "'); supported: " + supported_model_types());
  const ConfigKeys& k = c.arch->config;
  c.hidden_size = config_int(j, where, k.hidden_size);
  c.num_layers = config_int(j, where, k.num_layers);
  c.num_heads = config_int(j, where, k.num_heads);
  c.intermediate_size = config_int(j, where, k.intermediate_size);
  c.type_vocab_size = k.type_vocab_size ? config_int(j, where, k.type_vocab_size, 2) : 0;
  c.layer_norm_eps = 1e-12;
  if (k.layer_norm_eps && j.contains(k.layer_norm_eps) && j[k.layer_norm_eps].is_number())
    c.layer_norm_eps = j[k.layer_norm_eps].get<double>();
  c.activation = j.value(k.activation, std::string("gelu"));
  c.vocab_size = config_int(j, where, "vocab_size");
  c.max_position_embeddings = config_int(j, where, "max_position_embeddings", 512);
  c.pad_token_id = config_int(j, where, "pad_token_id", c.arch->default_pad_token_id);
  c.embedding_size = k.embedding_size ? config_int(j, where, k.embedding_size, c.hidden_size) : c.hidden_size;
  c.num_kv_heads = k.num_kv_heads ? config_int(j, where, k.num_kv_heads, c.num_heads) : c.num_heads;
  c.explicit_head_dim = k.head_dim ? config_int(j, where, k.head_dim, 0) : 0;
  c.attention_bias = k.attention_bias ? config_bool(j, where, k.attention_bias, c.arch->bias) : c.arch->bias;
  c.mlp_up_bias = c.mlp_down_bias = c.arch->bias;
  if (k.rope_theta) c.rope_theta = config_number(j, where, k.rope_theta, 10000.0);
  c.default_layer.rope_theta = c.rope_theta;
  if (c.arch->attention == AttentionKind::Causal) c.default_layer.right = 0;
  // Per-layer entries for a plausible layer count only: an absurd num_hidden_layers is reported
  // by the encoder against the checkpoint, not by allocating it here.
  if (c.num_layers > 0 && c.num_layers <= kMaxDescribedLayers)
    c.layers.assign(static_cast<size_t>(c.num_layers), c.default_layer);
  if (c.hidden_size <= 0 || c.num_layers <= 0 || c.num_heads <= 0 || c.intermediate_size <= 0 ||
      c.vocab_size <= 0 || c.embedding_size <= 0 || c.max_position_embeddings <= c.position_offset())
    throw Error(where + ": non-positive model dimensions");
  if (!(c.layer_norm_eps > 0) || !std::isfinite(c.layer_norm_eps))
    throw Error(where + ": field 'layer_norm_eps' must be a positive number (got " +
                std::to_string(c.layer_norm_eps) + ")");
  if (c.type_vocab_size < 0) throw Error(where + ": field 'type_vocab_size' is negative");
  if (c.explicit_head_dim < 0) throw Error(where + ": field '" + std::string(k.head_dim) + "' is negative");
  if (c.explicit_head_dim == 0 && c.hidden_size % c.num_heads != 0)
    throw Error(where + ": hidden size " + std::to_string(c.hidden_size) +
                " is not a multiple of the number of heads " + std::to_string(c.num_heads));
  if (c.num_kv_heads <= 0 || c.num_heads % c.num_kv_heads != 0)
    throw Error(where + ": field '" + std::string(k.num_kv_heads ? k.num_kv_heads : "num_key_value_heads") + "' (" +
                std::to_string(c.num_kv_heads) + ") must divide the number of heads " + std::to_string(c.num_heads));
  if (c.arch->positions == PositionKind::Rotary && c.head_dim() % 2 != 0)
    throw Error(where + ": rotary positions need an even head size (got " + std::to_string(c.head_dim()) + ")");
  if (c.arch->read_config) c.arch->read_config(j, c, where);
  for (const auto& l : c.layers)
    if (c.arch->positions == PositionKind::Rotary && !(l.rope_theta > 0 && c.default_layer.rope_theta > 0))
      throw Error(where + ": the rotary base (rope_theta) must be a positive number");
  if (c.arch->positions == PositionKind::Rotary &&
      (c.rotary_dim < 0 || c.rotary_dim > c.head_dim() || c.rotary_features() % 2 != 0))
    throw Error(where + ": the rotary dimension (" + std::to_string(c.rotary_features()) +
                ") must be even and at most the head size " + std::to_string(c.head_dim()));
  if (!(c.rope_freq_divisor > 0)) throw Error(where + ": the rotary frequency scaling must be positive");
  if (!(c.attention_scale >= 0) || !(c.embedding_scale > 0))
    throw Error(where + ": the attention and embedding scales must be positive");
  return c;
}

ModelConfig ModelConfig::load(const fs::path& config_json) {
  if (!fs::exists(config_json))
    throw Error(config_json.string() + ": cannot open (no config.json in the model folder?)");
  return from_json(model::read_json(config_json), config_json.string());
}

Activation parse_activation(const std::string& a, const std::string& where) {
  if (a == "gelu") return Activation::GeluErf;
  if (a == "gelu_new" || a == "gelu_pytorch_tanh" || a == "gelu_fast") return Activation::GeluTanh;
  if (a == "relu") return Activation::Relu;
  if (a == "silu" || a == "swish") return Activation::Silu;
  if (a == "quick_gelu") return Activation::QuickGelu;
  throw Error(where + ": unsupported activation '" + a + "'");
}

}  // namespace sbert::cpu
