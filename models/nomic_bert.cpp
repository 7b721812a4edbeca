// NomicBERT (the remote code modeling_hf_nomic_bert.py of nomic-ai/nomic-bert-2048, model_type
// nomic_bert; nomic-embed-text-v1 / v1.5): word embeddings (rows rounded up to a multiple of
// pad_vocab_size_multiple) + token types, emb_ln; no position table: rotary positions on the
// first head_dim * rotary_emb_fraction features of each head (base rotary_emb_base; half split,
// or pairs with rotary_emb_interleaved); post-LayerNorm layers (prenorm false): one fused Wqkv
// and out_proj (biases with qkv_proj_bias), norm1; SwiGLU fc2(fc11(x) * silu(fc12(x))) (geglu:
// gelu) of width n_inner rounded up to a multiple of 256, biases with mlp_fc1_bias /
// mlp_fc2_bias; norm2. rotary_scaling_factor (dynamic NTK) changes the angles only for inputs
// longer than max_trained_positions, so with it sbert takes inputs up to that length only.
#include "cpu/model_config.h"
#include "models/architecture_list.h"
#include "sbert/error.h"

namespace sbert::cpu {
namespace {

void refuse_true(const nlohmann::json& j, const std::string& where, const char* key, const char* why) {
  if (config_bool(j, where, key, false)) throw Error(where + ": field '" + key + "' is true; " + why);
}

void read_nomic_bert(const nlohmann::json& j, ModelConfig& c, const std::string& where) {
  refuse_true(j, where, "prenorm", "sbert runs NomicBERT's post-norm blocks only");
  refuse_true(j, where, "use_rms_norm", "sbert runs NomicBERT with LayerNorm only");
  refuse_true(j, where, "parallel_block", "sbert runs NomicBERT's sequential blocks only");
  refuse_true(j, where, "causal", "sbert runs NomicBERT's bidirectional attention only");
  const std::string act = j.value("activation_function", std::string("gelu"));
  if (act == "swiglu") c.activation = "silu";
  else if (act == "geglu") c.activation = "gelu";
  else throw Error(where + ": field 'activation_function' is '" + act + "'; sbert runs NomicBERT's swiglu and geglu MLPs only");
  c.intermediate_size = (c.intermediate_size + 255) / 256 * 256;  // NomciBertGatedMLP's multiple_of
  const int64_t multiple = config_int(j, where, "pad_vocab_size_multiple", 1);
  if (multiple <= 0) throw Error(where + ": field 'pad_vocab_size_multiple' must be positive");
  c.vocab_size = (c.vocab_size + multiple - 1) / multiple * multiple;
  c.attention_bias = config_bool(j, where, "qkv_proj_bias", true);
  c.mlp_up_bias = config_bool(j, where, "mlp_fc1_bias", true);
  c.mlp_down_bias = config_bool(j, where, "mlp_fc2_bias", true);
  if (!j.contains("max_position_embeddings")) c.max_position_embeddings = config_int(j, where, "n_positions", 2048);
  const double fraction = config_number(j, where, "rotary_emb_fraction", std::nullopt);
  if (!(fraction > 0 && fraction <= 1))
    throw Error(where + ": field 'rotary_emb_fraction' must be in (0, 1] (got " + std::to_string(fraction) + ")");
  const double dim = static_cast<double>(c.head_dim()) * fraction;
  if (dim != std::floor(dim) || static_cast<int64_t>(dim) % 2 != 0)
    throw Error(where + ": field 'rotary_emb_fraction' gives a rotary dimension of " + std::to_string(dim) +
                " (head size " + std::to_string(c.head_dim()) + "), not an even integer");
  c.rotary_dim = static_cast<int64_t>(dim);
  c.rotary_interleaved = config_bool(j, where, "rotary_emb_interleaved", false);
  if (j.contains("rotary_emb_scale_base") && !j["rotary_emb_scale_base"].is_null())
    throw Error(where + ": field 'rotary_emb_scale_base' is set; sbert runs NomicBERT without xPos scaling");
  const double factor = config_number(j, where, "rotary_scaling_factor", 0.0);
  if (factor < 0) throw Error(where + ": field 'rotary_scaling_factor' must be positive");
  if (factor > 0) {
    const int64_t trained = config_int(j, where, "max_trained_positions", std::nullopt);
    if (trained <= 0) throw Error(where + ": field 'max_trained_positions' must be positive");
    c.max_position_embeddings = std::min(c.max_position_embeddings, trained);
  }
}

}  // namespace

SBERT_ARCHITECTURE(nomic_bert) {
  Architecture a;
  a.name = "nomic_bert";
  a.model_types = {{"nomic_bert", "NomicBertModel", "NomicBertForSequenceClassification"}};
  ConfigKeys& k = a.config;
  k.hidden_size = "n_embd";
  k.num_layers = "n_layer";
  k.num_heads = "n_head";
  k.intermediate_size = "n_inner";
  k.activation = "activation_function";
  k.layer_norm_eps = "layer_norm_epsilon";
  k.hidden_dropout = "resid_pdrop";
  k.attention_dropout = "attn_pdrop";
  k.classifier_dropout = nullptr;
  k.rope_theta = "rotary_emb_base";
  TensorNames& n = a.tensors;
  n.word_embeddings = "embeddings.word_embeddings";
  n.token_type_embeddings = "embeddings.token_type_embeddings";
  n.embeddings_norm = "emb_ln";
  n.layer_prefix = "encoder.layers.";
  n.qkv = "attn.Wqkv";
  n.attention_out = "attn.out_proj";
  n.attention_norm = "norm1";
  n.mlp_up = "mlp.fc11";
  n.mlp_gate = "mlp.fc12";
  n.mlp_down = "mlp.fc2";
  n.mlp_norm = "norm2";
  a.positions = PositionKind::Rotary;
  a.mlp = MlpKind::Gated;
  a.read_config = read_nomic_bert;
  return a;
}

}  // namespace sbert::cpu
