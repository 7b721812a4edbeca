// The description of a transformer architecture: what every executor reads (sbert's CPU runtime,
// src/cpu/encoder.cpp; libtorch's padded forward and training, src/nn/) instead of knowing
// architectures by name. One description per architecture, in models/<name>.cpp (as llama.cpp's
// src/models/ and text-embeddings-inference's models/): its config.json keys, its checkpoint
// tensor names, its building blocks (embeddings, norm kind and placement, positions, attention,
// MLP) and its sequence-classification head. The registry (architecture_for) is generated from
// the files in models/, so adding an architecture is its file, its fixture and its tests. See
// DEVELOPERS.md "Adding an architecture".
#pragma once
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace sbert::cpu {

struct ModelConfig;

// Normalisation layers. LayerNorm: (x - mean) / sqrt(var + eps) * w + b. RMSNorm:
// x / sqrt(mean(x^2) + eps) * w (no bias; Llama, Qwen). RMSNormOnePlus: the same times (1 + w),
// the weights stored around 0 (Gemma).
enum class NormKind { LayerNorm, RMSNorm, RMSNormOnePlus };
// Where each layer's norms sit. Post: x = norm(x + attn(x)); x = norm(x + mlp(x)) (BERT).
// Pre: x = x + attn(norm(x)); x = x + mlp(norm(x)), and a final norm (Llama, Qwen). Sandwich: x =
// x + norm(attn(norm(x))); x = x + norm(mlp(norm(x))), and a final norm (Gemma 2/3).
enum class NormPlacement { Post, Pre, Sandwich };
// Position information. Absolute: a learned table indexed 0, 1, ...; AfterPadding: the same
// table indexed from pad_token_id + 1 over the non-padding tokens (RoBERTa's create_position_ids).
// Rotary: no table; queries and keys are rotated (the half-split layout of transformers'
// rotate_half) by angles position * theta^(-2i/d), theta per layer (ModelConfig::layers).
enum class PositionKind { Absolute, AbsoluteAfterPadding, Rotary };
// Self-attention over the sequence's own tokens. Bidirectional: every token sees every other;
// Causal: token i sees tokens j <= i. Either may be narrowed per layer by a window
// (ModelConfig::layers: Qwen's causal sliding window, Gemma's symmetric one).
enum class AttentionKind { Bidirectional, Causal };
// The feed-forward block. Plain: down(act(up(x))) with the config's activation. Gated:
// down(act(gate(x)) * up(x)) (SwiGLU with silu, GeGLU with gelu). Either placement runs either.
enum class MlpKind { Plain, Gated };

// The classification heads of the Hugging Face *ForSequenceClassification models.
enum class HeadKind {
  PoolerLinear,       // classifier(pooler(h))                     BERT
  DenseTanh,          // out_proj(tanh(dense(h[0])))                RoBERTa
  DenseGelu,          // out_proj(gelu(dense(h[0])))                ELECTRA
  PreClassifierRelu,  // classifier(relu(pre_classifier(h[0])))     DistilBERT
};

// config.json keys; nullptr where the architecture has no such setting.
struct ConfigKeys {
  const char* hidden_size = "hidden_size";
  const char* num_layers = "num_hidden_layers";
  const char* num_heads = "num_attention_heads";
  const char* intermediate_size = "intermediate_size";
  const char* activation = "hidden_act";
  const char* type_vocab_size = "type_vocab_size";  // nullptr: no token types
  const char* layer_norm_eps = "layer_norm_eps";    // nullptr: 1e-12
  const char* embedding_size = nullptr;             // nullptr: hidden_size
  // Training's dropout rates (sbert train): hidden states, attention probabilities, the head.
  const char* hidden_dropout = "hidden_dropout_prob";
  const char* attention_dropout = "attention_probs_dropout_prob";
  const char* classifier_dropout = "classifier_dropout";
  double classifier_dropout_default = -1;  // when the config has none; < 0: the hidden rate
  const char* num_kv_heads = nullptr;               // grouped-query attention; nullptr: num_heads
  const char* head_dim = nullptr;                   // an explicit head size; nullptr: hidden / heads
  const char* rope_theta = nullptr;                 // Rotary: the base of the angles
  const char* attention_bias = nullptr;             // a boolean key; nullptr: Architecture::bias
};

// Checkpoint tensor names without ".weight"/".bias"; nullptr where there is no such tensor.
struct TensorNames {
  const char* word_embeddings = nullptr;
  const char* position_embeddings = nullptr;
  const char* token_type_embeddings = nullptr;
  const char* embeddings_norm = nullptr;
  const char* embeddings_project = nullptr;  // used when embedding_size != hidden_size (ELECTRA)
  const char* layer_prefix = nullptr;        // + "<l>."
  const char* query = nullptr;               // separate q, k, v projections, fused at load
  const char* key = nullptr;
  const char* value = nullptr;
  const char* qkv = nullptr;                 // or one fused [q | k | v] projection (Wqkv)
  const char* attention_out = nullptr;
  const char* attention_norm = nullptr;  // after attention (Post)
  const char* mlp_up = nullptr;
  const char* mlp_gate = nullptr;  // Gated: the half that goes through the activation
  // Gated, one fused tensor instead of mlp_gate and mlp_up: [gate | up] rows (ModernBERT's Wi)
  // or [up | gate] rows (GTE's up_gate_proj).
  const char* mlp_gate_up = nullptr;
  const char* mlp_up_gate = nullptr;
  const char* mlp_down = nullptr;
  const char* mlp_norm = nullptr;  // after the MLP (Post)
  const char* pooler = nullptr;    // optional in the checkpoint
  // Pre / Sandwich placements: before attention, on attention's output (Sandwich), before the
  // MLP, on the MLP's output (Sandwich), after the last layer.
  const char* input_norm = nullptr;
  const char* post_attention_norm = nullptr;
  const char* pre_mlp_norm = nullptr;
  const char* post_mlp_norm = nullptr;
  const char* final_norm = nullptr;
  const char* q_norm = nullptr;  // per-head norms of queries and keys (before the rotation)
  const char* k_norm = nullptr;
  // [buckets, heads]: a bias per bucket of the key's offset from the query, added to every
  // layer's scores (MPNet; the buckets are ModelConfig::relative_buckets).
  const char* relative_attention_bias = nullptr;
};

struct HeadNames {
  HeadKind kind = HeadKind::PoolerLinear;
  const char* first = nullptr;  // dense / pre_classifier; nullptr for PoolerLinear
  const char* final = nullptr;  // classifier / out_proj
  const char* description = "";
  bool token_type_ids = false;  // the head's inputs carry token type ids (when type_vocab_size > 1)
};

// A config.json model_type this description reads, and the class names transformers gives it.
struct ModelType {
  const char* model_type;
  const char* base_class;            // e.g. "BertModel"
  const char* classification_class;  // e.g. "BertForSequenceClassification"
};

struct Architecture {
  const char* name = "";
  std::vector<ModelType> model_types;
  ConfigKeys config;
  TensorNames tensors;
  HeadNames head;
  NormKind norm = NormKind::LayerNorm;
  NormPlacement norm_placement = NormPlacement::Post;
  PositionKind positions = PositionKind::Absolute;
  AttentionKind attention = AttentionKind::Bidirectional;
  MlpKind mlp = MlpKind::Plain;
  int default_pad_token_id = 0;  // when config.json has none
  bool bias = true;              // the attention and MLP projections have biases
  // Reads what the generic keys cannot say (per-layer windows and thetas, attention and
  // embedding scales) into `c` after the generic fields; errors name `where` and the key.
  void (*read_config)(const nlohmann::json& j, ModelConfig& c, const std::string& where) = nullptr;
  // Pre: the first layer has no norm before attention (ModernBERT's layers.0.attn_norm is an
  // Identity).
  bool first_layer_input_norm = true;

  // The BERT family's blocks (post-LayerNorm, learned positions, bidirectional, plain MLP): what
  // libtorch's executor (src/nn: CUDA, float16/bfloat16, training) runs today.
  bool bert_blocks() const {
    return norm == NormKind::LayerNorm && norm_placement == NormPlacement::Post && positions != PositionKind::Rotary &&
           attention == AttentionKind::Bidirectional && mlp == MlpKind::Plain && tensors.qkv == nullptr &&
           tensors.relative_attention_bias == nullptr;
  }
  // Training: dropout on the attention output before its residual (DistilBERT has none there).
  bool attention_output_dropout = true;
};

// The description of a config.json model_type; nullptr when none reads it.
const Architecture* architecture_for(const std::string& model_type);
// Every description, in the order of models/ (file names).
const std::vector<const Architecture*>& architectures();
// "bert, distilbert, electra, roberta, xlm-roberta, camembert": every model_type read.
std::string supported_model_types();
// The ModelType entry of `model_type` in `arch` (its first entry when none matches).
const ModelType& model_type_entry(const Architecture& arch, const std::string& model_type);

}  // namespace sbert::cpu
