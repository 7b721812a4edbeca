// ELECTRA (modeling_electra.py): BERT's layers; embeddings of embedding_size projected to
// hidden_size by embeddings_project when the two differ; no pooler. Head:
// out_proj(gelu(dense(h[CLS]))).
#include "models/architecture_list.h"

namespace sbert::cpu {

SBERT_ARCHITECTURE(electra) {
  Architecture a;
  a.name = "electra";
  a.model_types = {{"electra", "ElectraModel", "ElectraForSequenceClassification"}};
  a.config.embedding_size = "embedding_size";
  a.tensors = bert_layer_names();
  a.tensors.embeddings_project = "embeddings_project";
  a.head = {HeadKind::DenseGelu, "classifier.dense", "classifier.out_proj", "dense+gelu+out_proj", true};
  return a;
}

}  // namespace sbert::cpu
