// DistilBERT (modeling_distilbert.py): word + position embeddings (no token types; a sinusoidal
// table, when sinusoidal_pos_embds is set, is saved as position_embeddings.weight too),
// LayerNorm; BERT's post-LayerNorm layers under other names and config keys (dim, n_layers, ...),
// eps 1e-12, no dropout on the attention output. Head: classifier(relu(pre_classifier(h[CLS]))).
#include "models/architecture_list.h"

namespace sbert::cpu {

SBERT_ARCHITECTURE(distilbert) {
  Architecture a;
  a.name = "distilbert";
  a.model_types = {{"distilbert", "DistilBertModel", "DistilBertForSequenceClassification"}};
  a.config = {"dim", "n_layers", "n_heads", "hidden_dim", "activation", nullptr, nullptr, nullptr,
              "dropout", "attention_dropout", "seq_classif_dropout", 0.2};
  TensorNames& n = a.tensors;
  n.word_embeddings = "embeddings.word_embeddings";
  n.position_embeddings = "embeddings.position_embeddings";
  n.embeddings_norm = "embeddings.LayerNorm";
  n.layer_prefix = "transformer.layer.";
  n.query = "attention.q_lin";
  n.key = "attention.k_lin";
  n.value = "attention.v_lin";
  n.attention_out = "attention.out_lin";
  n.attention_norm = "sa_layer_norm";
  n.mlp_up = "ffn.lin1";
  n.mlp_down = "ffn.lin2";
  n.mlp_norm = "output_layer_norm";
  a.head = {HeadKind::PreClassifierRelu, "pre_classifier", "classifier", "pre_classifier+relu+linear", false};
  a.attention_output_dropout = false;
  return a;
}

}  // namespace sbert::cpu
