// The architecture descriptions (models/*.cpp): model_type lookup, the checkpoint names and
// config keys they give (as the Hugging Face modeling files name their parameters), and
// config.json read through them.
#include "cpu/architecture.h"

#include <set>
#include <string>

#include "cpu/model_config.h"
#include "sbert/error.h"
#include "test_support.h"

using namespace sbert::cpu;

namespace {
const Architecture& arch(const char* model_type) {
  const Architecture* a = architecture_for(model_type);
  if (!a) throw std::runtime_error(std::string("no architecture for ") + model_type);
  return *a;
}
}  // namespace

TEST(Architecture, ModelTypeLookup) {
  EXPECT_STREQ(arch("bert").name, "bert");
  EXPECT_STREQ(arch("xlm-roberta").name, "roberta");
  EXPECT_STREQ(arch("camembert").name, "roberta");
  EXPECT_STREQ(arch("distilbert").name, "distilbert");
  EXPECT_STREQ(arch("electra").name, "electra");
  EXPECT_EQ(architecture_for("gpt2"), nullptr);
  EXPECT_EQ(architecture_for("BERT"), nullptr) << "model_type is matched exactly";
  const std::string all = supported_model_types();
  for (const char* t : {"bert", "roberta", "xlm-roberta", "camembert", "distilbert", "electra"})
    EXPECT_NE(all.find(t), std::string::npos) << t << " missing from " << all;
}

TEST(Architecture, EveryModelTypeBelongsToOneDescription) {
  std::set<std::string> seen;
  for (const Architecture* a : architectures()) {
    EXPECT_FALSE(a->model_types.empty()) << a->name;
    for (const ModelType& t : a->model_types) {
      EXPECT_TRUE(seen.insert(t.model_type).second) << t.model_type << " is read by two descriptions";
      EXPECT_EQ(architecture_for(t.model_type), a);
    }
    // Every executor needs these; and the names its blocks read (q, k, v: three tensors or a
    // fused one; a gated MLP's gate and up: two tensors or a fused one in either order).
    const TensorNames& n = a->tensors;
    for (const char* name : {n.word_embeddings, n.layer_prefix, n.attention_out, n.mlp_down})
      EXPECT_NE(name, nullptr) << a->name;
    if (n.qkv) {
      EXPECT_TRUE(!n.query && !n.key && !n.value) << a->name;
    } else {
      for (const char* name : {n.query, n.key, n.value}) EXPECT_NE(name, nullptr) << a->name;
    }
    const bool fused_mlp = n.mlp_gate_up || n.mlp_up_gate;
    EXPECT_FALSE(n.mlp_gate_up && n.mlp_up_gate) << a->name;
    if (a->mlp == MlpKind::Gated && !fused_mlp) EXPECT_NE(n.mlp_gate, nullptr) << a->name;
    if (!fused_mlp) EXPECT_NE(n.mlp_up, nullptr) << a->name;
    if (a->norm_placement == NormPlacement::Post) {
      for (const char* name : {n.attention_norm, n.mlp_norm}) EXPECT_NE(name, nullptr) << a->name;
    } else {
      for (const char* name : {n.input_norm, n.pre_mlp_norm, n.final_norm}) EXPECT_NE(name, nullptr) << a->name;
    }
    if (a->norm_placement == NormPlacement::Sandwich)
      for (const char* name : {n.post_attention_norm, n.post_mlp_norm}) EXPECT_NE(name, nullptr) << a->name;
    if (a->positions != PositionKind::Rotary) EXPECT_NE(n.position_embeddings, nullptr) << a->name;
    // The BERT family runs on both executors; the others say which blocks they need (libtorch's
    // executor has no rotary positions, gated MLPs, fused tensors or relative position bias).
    const bool bert_like = a->norm_placement == NormPlacement::Post && a->positions != PositionKind::Rotary &&
                           a->mlp == MlpKind::Plain && !n.qkv && !n.relative_attention_bias;
    EXPECT_EQ(a->bert_blocks(), bert_like) << a->name;
  }
}

TEST(Architecture, EncoderNames) {
  const auto& bert = arch("bert").tensors;
  EXPECT_EQ(std::string(bert.layer_prefix) + "0." + bert.query, "encoder.layer.0.attention.self.query");
  EXPECT_STREQ(bert.mlp_norm, "output.LayerNorm");
  EXPECT_STREQ(bert.pooler, "pooler.dense");
  const auto& distil = arch("distilbert").tensors;
  EXPECT_EQ(std::string(distil.layer_prefix) + "5." + distil.mlp_down, "transformer.layer.5.ffn.lin2");
  EXPECT_EQ(distil.token_type_embeddings, nullptr);
  EXPECT_EQ(distil.pooler, nullptr);
  EXPECT_STREQ(arch("electra").tensors.embeddings_project, "embeddings_project");
  EXPECT_EQ(arch("roberta").tensors.embeddings_project, nullptr);
  EXPECT_EQ(arch("roberta").positions, PositionKind::AbsoluteAfterPadding);
  EXPECT_EQ(arch("electra").positions, PositionKind::Absolute);
  EXPECT_STREQ(arch("distilbert").config.hidden_size, "dim");
  EXPECT_STREQ(arch("electra").config.embedding_size, "embedding_size");
  EXPECT_FALSE(arch("distilbert").attention_output_dropout);
  EXPECT_STREQ(model_type_entry(arch("xlm-roberta"), "xlm-roberta").classification_class,
               "XLMRobertaForSequenceClassification");
}

TEST(Architecture, ClassificationHeads) {
  const auto& bert = arch("bert").head;
  EXPECT_EQ(bert.kind, HeadKind::PoolerLinear);
  EXPECT_EQ(bert.first, nullptr);
  EXPECT_STREQ(bert.final, "classifier");
  const auto& roberta = arch("roberta").head;
  EXPECT_STREQ(roberta.first, "classifier.dense");
  EXPECT_STREQ(roberta.final, "classifier.out_proj");
  EXPECT_FALSE(roberta.token_type_ids);
  EXPECT_EQ(arch("electra").head.kind, HeadKind::DenseGelu);
  EXPECT_TRUE(arch("electra").head.token_type_ids);
  EXPECT_STREQ(arch("distilbert").head.first, "pre_classifier");
}

TEST(ModelConfig, ReadsThroughTheDescriptionsKeys) {
  const auto distil = ModelConfig::from_json(
      nlohmann::json::parse(R"({"model_type": "distilbert", "dim": 64, "n_layers": 2, "n_heads": 4,
                                "hidden_dim": 128, "vocab_size": 100, "activation": "gelu"})"),
      "config.json");
  EXPECT_EQ(distil.hidden_size, 64);
  EXPECT_EQ(distil.type_vocab_size, 0);
  EXPECT_EQ(distil.position_offset(), 0);
  const auto roberta = ModelConfig::from_json(
      nlohmann::json::parse(R"({"model_type": "roberta", "hidden_size": 64, "num_hidden_layers": 2,
                                "num_attention_heads": 4, "intermediate_size": 128, "vocab_size": 100,
                                "max_position_embeddings": 514})"),
      "config.json");
  EXPECT_EQ(roberta.pad_token_id, 1) << "RoBERTa's default padding id";
  EXPECT_EQ(roberta.max_input_length(), 512);
  try {
    ModelConfig::from_json(nlohmann::json::parse(R"({"model_type": "gpt2"})"), "m/config.json");
    FAIL() << "gpt2 accepted";
  } catch (const sbert::Error& e) {
    EXPECT_NE(std::string(e.what()).find("m/config.json: unknown architecture (model_type 'gpt2')"), std::string::npos)
        << e.what();
  }
}
