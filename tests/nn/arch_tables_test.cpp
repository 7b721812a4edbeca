// The per-architecture tables: model_type lookup and the checkpoint names they give (as the
// Hugging Face modeling files name their parameters).
#include "nn/arch_tables.h"

#include <string>

#include "test_support.h"

using namespace sbert::nn;

TEST(ArchTables, ModelTypeLookup) {
  ASSERT_NE(arch_for_model_type("bert"), nullptr);
  EXPECT_EQ(arch_for_model_type("bert")->arch, Architecture::Bert);
  EXPECT_EQ(arch_for_model_type("xlm-roberta")->arch, Architecture::Roberta);
  EXPECT_EQ(arch_for_model_type("camembert")->arch, Architecture::Roberta);
  EXPECT_EQ(arch_for_model_type("distilbert")->arch, Architecture::DistilBert);
  EXPECT_EQ(arch_for_model_type("electra")->arch, Architecture::Electra);
  EXPECT_EQ(arch_for_model_type("gpt2"), nullptr);
  EXPECT_EQ(arch_for_model_type("BERT"), nullptr) << "model_type is matched exactly";
  EXPECT_EQ(supported_model_types(), "bert, roberta, xlm-roberta, camembert, distilbert, electra");
}

TEST(ArchTables, EncoderNames) {
  const auto& bert = arch_info(Architecture::Bert).tensors;
  EXPECT_EQ(std::string(bert.layer_prefix) + "0." + bert.query, "encoder.layer.0.attention.self.query");
  EXPECT_STREQ(bert.output_norm, "output.LayerNorm");
  EXPECT_STREQ(bert.pooler, "pooler.dense");
  const auto& distil = arch_info(Architecture::DistilBert).tensors;
  EXPECT_EQ(std::string(distil.layer_prefix) + "5." + distil.ffn_down, "transformer.layer.5.ffn.lin2");
  EXPECT_EQ(distil.token_type_embeddings, nullptr);
  EXPECT_EQ(distil.pooler, nullptr);
  EXPECT_STREQ(arch_info(Architecture::Electra).tensors.embeddings_project, "embeddings_project");
  EXPECT_EQ(arch_info(Architecture::Roberta).tensors.embeddings_project, nullptr);
  EXPECT_TRUE(arch_info(Architecture::Roberta).roberta_positions);
  EXPECT_FALSE(arch_info(Architecture::Electra).roberta_positions);
  EXPECT_STREQ(arch_info(Architecture::DistilBert).config.hidden_size, "dim");
  EXPECT_STREQ(arch_info(Architecture::Electra).config.embedding_size, "embedding_size");
}

TEST(ArchTables, ClassificationHeads) {
  const auto& bert = arch_info(Architecture::Bert).head;
  EXPECT_EQ(bert.kind, HeadKind::PoolerLinear);
  EXPECT_EQ(bert.first, nullptr);
  EXPECT_STREQ(bert.final, "classifier");
  const auto& roberta = arch_info(Architecture::Roberta).head;
  EXPECT_STREQ(roberta.first, "classifier.dense");
  EXPECT_STREQ(roberta.final, "classifier.out_proj");
  EXPECT_FALSE(roberta.token_type_ids);
  EXPECT_EQ(arch_info(Architecture::Electra).head.kind, HeadKind::DenseGelu);
  EXPECT_TRUE(arch_info(Architecture::Electra).head.token_type_ids);
  EXPECT_STREQ(arch_info(Architecture::DistilBert).head.first, "pre_classifier");
}
