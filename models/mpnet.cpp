// MPNet (transformers' modeling_mpnet.py, model_type mpnet; all-mpnet-base-v2): word + learned
// position embeddings (RoBERTa's positions: the non-padding tokens counted from padding_idx + 1,
// padding_idx hard-coded 1 whatever pad_token_id says), no token types, LayerNorm; BERT's
// post-LayerNorm layers under MPNet's names, and a relative position bias computed once
// (relative_attention_num_buckets buckets of j - i, max distance 128) added to the scores of
// every layer before the softmax.
#include "cpu/model_config.h"
#include "models/architecture_list.h"
#include "sbert/error.h"

namespace sbert::cpu {
namespace {

void read_mpnet(const nlohmann::json& j, ModelConfig& c, const std::string& where) {
  c.pad_token_id = 1;  // MPNetEmbeddings.padding_idx
  c.relative_buckets = config_int(j, where, "relative_attention_num_buckets", 32);
  if (c.relative_buckets < 4)
    throw Error(where + ": field 'relative_attention_num_buckets' must be at least 4 (got " +
                std::to_string(c.relative_buckets) + ")");
  c.relative_max_distance = 128;  // MPNetEncoder.relative_position_bucket's default
}

}  // namespace

SBERT_ARCHITECTURE(mpnet) {
  Architecture a;
  a.name = "mpnet";
  a.model_types = {{"mpnet", "MPNetModel", "MPNetForSequenceClassification"}};
  a.config.type_vocab_size = nullptr;
  TensorNames& n = a.tensors;
  n.word_embeddings = "embeddings.word_embeddings";
  n.position_embeddings = "embeddings.position_embeddings";
  n.embeddings_norm = "embeddings.LayerNorm";
  n.layer_prefix = "encoder.layer.";
  n.query = "attention.attn.q";
  n.key = "attention.attn.k";
  n.value = "attention.attn.v";
  n.attention_out = "attention.attn.o";
  n.attention_norm = "attention.LayerNorm";
  n.mlp_up = "intermediate.dense";
  n.mlp_down = "output.dense";
  n.mlp_norm = "output.LayerNorm";
  n.pooler = "pooler.dense";
  n.relative_attention_bias = "encoder.relative_attention_bias";
  a.positions = PositionKind::AbsoluteAfterPadding;
  a.default_pad_token_id = 1;
  a.read_config = read_mpnet;
  return a;
}

}  // namespace sbert::cpu
