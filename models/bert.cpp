// BERT (transformers' modeling_bert.py): word + learned absolute position + token type
// embeddings, LayerNorm; post-LayerNorm layers with separate q/k/v projections and a plain GELU
// MLP; the pooler tanh(dense(h[CLS])). Head: classifier(pooler(h)).
#include "models/architecture_list.h"

namespace sbert::cpu {

// The layer names BERT, RoBERTa and ELECTRA share.
TensorNames bert_layer_names() {
  TensorNames n;
  n.word_embeddings = "embeddings.word_embeddings";
  n.position_embeddings = "embeddings.position_embeddings";
  n.token_type_embeddings = "embeddings.token_type_embeddings";
  n.embeddings_norm = "embeddings.LayerNorm";
  n.layer_prefix = "encoder.layer.";
  n.query = "attention.self.query";
  n.key = "attention.self.key";
  n.value = "attention.self.value";
  n.attention_out = "attention.output.dense";
  n.attention_norm = "attention.output.LayerNorm";
  n.mlp_up = "intermediate.dense";
  n.mlp_down = "output.dense";
  n.mlp_norm = "output.LayerNorm";
  return n;
}

SBERT_ARCHITECTURE(bert) {
  Architecture a;
  a.name = "bert";
  a.model_types = {{"bert", "BertModel", "BertForSequenceClassification"}};
  a.tensors = bert_layer_names();
  a.tensors.pooler = "pooler.dense";
  a.head = {HeadKind::PoolerLinear, nullptr, "classifier", "pooler+linear", true};
  return a;
}

}  // namespace sbert::cpu
