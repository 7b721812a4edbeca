// Per-architecture tables (as llama.cpp's llama-arch): config.json keys, checkpoint tensor names
// of the encoder and of the sequence-classification head. One table per architecture, one lookup
// (arch_info); transformer.cpp and sequence_classifier.cpp read names only from here.
#pragma once
#include <string>

namespace sbert::nn {

enum class Architecture { Bert, Roberta, DistilBert, Electra };

// The classification heads of the Hugging Face *ForSequenceClassification models.
enum class HeadKind {
  PoolerLinear,       // classifier(pooler(h))                     BERT
  DenseTanh,          // out_proj(tanh(dense(h[0])))                RoBERTa
  DenseGelu,          // out_proj(gelu(dense(h[0])))                ELECTRA
  PreClassifierRelu,  // classifier(relu(pre_classifier(h[0])))     DistilBERT
};

// Names without ".weight"/".bias"; nullptr where the architecture has no such tensor.
struct EncoderTensorNames {
  const char* word_embeddings;
  const char* position_embeddings;
  const char* token_type_embeddings;
  const char* embeddings_norm;
  const char* embeddings_project;  // ELECTRA, when embedding_size != hidden_size
  const char* layer_prefix;        // + "<l>."
  const char* query;
  const char* key;
  const char* value;
  const char* attention_out;
  const char* attention_norm;
  const char* ffn_up;
  const char* ffn_down;
  const char* output_norm;
  const char* pooler;  // optional in the checkpoint
};

struct ConfigKeys {
  const char* hidden_size;
  const char* num_layers;
  const char* num_heads;
  const char* intermediate_size;
  const char* activation;
  const char* type_vocab_size;  // nullptr: no token types
  const char* layer_norm_eps;   // nullptr: 1e-12
  const char* embedding_size;   // nullptr: hidden_size
};

struct HeadTensorNames {
  HeadKind kind;
  const char* first;  // dense / pre_classifier; nullptr for PoolerLinear
  const char* final;  // classifier / out_proj
  const char* description;
  bool token_type_ids;  // the head's inputs carry token type ids (when type_vocab_size > 1)
};

struct ArchInfo {
  Architecture arch;
  const char* name;
  ConfigKeys config;
  EncoderTensorNames tensors;
  HeadTensorNames head;
  bool roberta_positions;    // position ids start after pad_token_id (and default pad id 1)
};

const ArchInfo& arch_info(Architecture arch);
// The architecture of a config.json model_type; nullptr when unsupported.
const ArchInfo* arch_for_model_type(const std::string& model_type);
// "bert, roberta, xlm-roberta, camembert, distilbert, electra".
std::string supported_model_types();

}  // namespace sbert::nn
