#include "cpu/model_config.h"

#include <cmath>
#include <optional>

#include "sbert/error.h"
#include "sbert/model_folder.h"

namespace sbert::cpu {
namespace fs = std::filesystem;
namespace {

int64_t get_int(const nlohmann::json& j, const std::string& where, const char* key,
                std::optional<int64_t> fallback = std::nullopt) {
  if (!j.contains(key) || j[key].is_null()) {
    if (fallback) return *fallback;
    throw Error(where + ": field '" + key + "' missing");
  }
  if (!j[key].is_number_integer()) throw Error(where + ": field '" + key + "' is not an integer");
  return j[key].get<int64_t>();
}

}  // namespace

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
  c.hidden_size = get_int(j, where, k.hidden_size);
  c.num_layers = get_int(j, where, k.num_layers);
  c.num_heads = get_int(j, where, k.num_heads);
  c.intermediate_size = get_int(j, where, k.intermediate_size);
  c.type_vocab_size = k.type_vocab_size ? get_int(j, where, k.type_vocab_size, 2) : 0;
  c.layer_norm_eps = 1e-12;
  if (k.layer_norm_eps && j.contains(k.layer_norm_eps) && j[k.layer_norm_eps].is_number())
    c.layer_norm_eps = j[k.layer_norm_eps].get<double>();
  c.activation = j.value(k.activation, std::string("gelu"));
  c.vocab_size = get_int(j, where, "vocab_size");
  c.max_position_embeddings = get_int(j, where, "max_position_embeddings", 512);
  c.pad_token_id = get_int(j, where, "pad_token_id", c.arch->default_pad_token_id);
  c.embedding_size = k.embedding_size ? get_int(j, where, k.embedding_size, c.hidden_size) : c.hidden_size;
  if (c.hidden_size <= 0 || c.num_layers <= 0 || c.num_heads <= 0 || c.intermediate_size <= 0 ||
      c.vocab_size <= 0 || c.embedding_size <= 0 || c.max_position_embeddings <= c.position_offset())
    throw Error(where + ": non-positive model dimensions");
  if (!(c.layer_norm_eps > 0) || !std::isfinite(c.layer_norm_eps))
    throw Error(where + ": field 'layer_norm_eps' must be a positive number (got " +
                std::to_string(c.layer_norm_eps) + ")");
  if (c.type_vocab_size < 0) throw Error(where + ": field 'type_vocab_size' is negative");
  if (c.hidden_size % c.num_heads != 0)
    throw Error(where + ": hidden size " + std::to_string(c.hidden_size) +
                " is not a multiple of the number of heads " + std::to_string(c.num_heads));
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
