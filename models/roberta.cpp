// RoBERTa / XLM-RoBERTa / CamemBERT (modeling_roberta.py): BERT's layers; position ids count the
// non-padding tokens from pad_token_id + 1 (create_position_ids_from_input_ids), pad id 1 by
// default. Head: out_proj(tanh(dense(h[<s>]))), without token types.
#include "models/architecture_list.h"

namespace sbert::cpu {

SBERT_ARCHITECTURE(roberta) {
  Architecture a;
  a.name = "roberta";
  a.model_types = {{"roberta", "RobertaModel", "RobertaForSequenceClassification"},
                   {"xlm-roberta", "XLMRobertaModel", "XLMRobertaForSequenceClassification"},
                   {"camembert", "CamembertModel", "CamembertForSequenceClassification"}};
  a.tensors = bert_layer_names();
  a.tensors.pooler = "pooler.dense";
  a.positions = PositionKind::AbsoluteAfterPadding;
  a.default_pad_token_id = 1;
  a.head = {HeadKind::DenseTanh, "classifier.dense", "classifier.out_proj", "dense+tanh+out_proj", false};
  return a;
}

}  // namespace sbert::cpu
