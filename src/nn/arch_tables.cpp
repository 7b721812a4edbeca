#include "nn/arch_tables.h"

#include <utility>

namespace sbert::nn {
namespace {

// BERT-style encoders (BERT, RoBERTa, ELECTRA) share their layer names.
#define SBERT_BERT_LAYERS                                                                      \
  "encoder.layer.", "attention.self.query", "attention.self.key", "attention.self.value",       \
      "attention.output.dense", "attention.output.LayerNorm", "intermediate.dense", "output.dense", \
      "output.LayerNorm"

constexpr ConfigKeys kBertKeys = {"hidden_size", "num_hidden_layers", "num_attention_heads",
                                  "intermediate_size", "hidden_act", "type_vocab_size",
                                  "layer_norm_eps", nullptr};

const ArchInfo kBert = {
    Architecture::Bert, "bert", kBertKeys,
    {"embeddings.word_embeddings", "embeddings.position_embeddings",
     "embeddings.token_type_embeddings", "embeddings.LayerNorm", nullptr, SBERT_BERT_LAYERS,
     "pooler.dense"},
    {HeadKind::PoolerLinear, nullptr, "classifier", "pooler+linear", true},
    false};

const ArchInfo kRoberta = {
    Architecture::Roberta, "roberta", kBertKeys,
    {"embeddings.word_embeddings", "embeddings.position_embeddings",
     "embeddings.token_type_embeddings", "embeddings.LayerNorm", nullptr, SBERT_BERT_LAYERS,
     "pooler.dense"},
    {HeadKind::DenseTanh, "classifier.dense", "classifier.out_proj", "dense+tanh+out_proj", false},
    true};

const ArchInfo kElectra = {
    Architecture::Electra, "electra",
    {"hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "hidden_act",
     "type_vocab_size", "layer_norm_eps", "embedding_size"},
    {"embeddings.word_embeddings", "embeddings.position_embeddings",
     "embeddings.token_type_embeddings", "embeddings.LayerNorm", "embeddings_project",
     SBERT_BERT_LAYERS, nullptr},
    {HeadKind::DenseGelu, "classifier.dense", "classifier.out_proj", "dense+gelu+out_proj", true},
    false};

const ArchInfo kDistilBert = {
    Architecture::DistilBert, "distilbert",
    {"dim", "n_layers", "n_heads", "hidden_dim", "activation", nullptr, nullptr, nullptr},
    {"embeddings.word_embeddings", "embeddings.position_embeddings", nullptr, "embeddings.LayerNorm",
     nullptr, "transformer.layer.", "attention.q_lin", "attention.k_lin", "attention.v_lin",
     "attention.out_lin", "sa_layer_norm", "ffn.lin1", "ffn.lin2", "output_layer_norm", nullptr},
    {HeadKind::PreClassifierRelu, "pre_classifier", "classifier", "pre_classifier+relu+linear", false},
    false};

#undef SBERT_BERT_LAYERS

const std::pair<const char*, const ArchInfo*> kModelTypes[] = {
    {"bert", &kBert},           {"roberta", &kRoberta},       {"xlm-roberta", &kRoberta},
    {"camembert", &kRoberta},   {"distilbert", &kDistilBert}, {"electra", &kElectra},
};

}  // namespace

const ArchInfo& arch_info(Architecture arch) {
  switch (arch) {
    case Architecture::Bert: return kBert;
    case Architecture::Roberta: return kRoberta;
    case Architecture::DistilBert: return kDistilBert;
    case Architecture::Electra: return kElectra;
  }
  return kBert;
}

const ArchInfo* arch_for_model_type(const std::string& model_type) {
  for (const auto& [name, info] : kModelTypes)
    if (model_type == name) return info;
  return nullptr;
}

std::string supported_model_types() {
  std::string s;
  for (const auto& [name, info] : kModelTypes) s += (s.empty() ? "" : ", ") + std::string(name);
  return s;
}

}  // namespace sbert::nn
