// describe_model on the fixture models. Parameter counts and dtypes were computed separately
// from the safetensors headers with Python's struct + json (sum of shape products).
#include <filesystem>

#include "sbert/error.h"
#include "sbert/hub.h"
#include "test_support.h"

namespace fs = std::filesystem;
using sbert::hub::describe_model;

TEST(ModelInfo, RootLevelSentenceTransformersModel) {
  SBERT_REQUIRE_SHARED(shared);
  auto info = describe_model(shared / "fixtures/models/bert-wordpiece-mean-norm");
  EXPECT_EQ(info.architecture, "BertModel");
  EXPECT_EQ(info.model_type, "bert");
  EXPECT_EQ(info.hidden_size, 32u);
  EXPECT_EQ(info.dimension, 32u);
  EXPECT_EQ(info.pooling, "mean");
  EXPECT_TRUE(info.pooling_from_config);
  EXPECT_TRUE(info.normalize);
  EXPECT_EQ(info.max_length, 128u);
  EXPECT_EQ(info.tokenizer, "WordPiece (tokenizer.json)");
  EXPECT_EQ(info.modules, (std::vector<std::string>{"Transformer", "Pooling", "Normalize"}));
  EXPECT_EQ(info.weight_files, std::vector<std::string>{"model.safetensors"});
  ASSERT_TRUE(info.parameters.has_value());
  EXPECT_EQ(*info.parameters, 1011360u);
  EXPECT_EQ(info.dtypes, std::vector<std::string>{"F32"});
  EXPECT_GT(info.size_bytes, 4049552u);
}

TEST(ModelInfo, Float16Weights) {
  SBERT_REQUIRE_SHARED(shared);
  auto info = describe_model(shared / "fixtures/models/bert-wordpiece-mean-norm-fp16");
  EXPECT_EQ(*info.parameters, 1011360u);
  EXPECT_EQ(info.dtypes, std::vector<std::string>{"F16"});
}

TEST(ModelInfo, SubfolderLayoutWithDense) {
  SBERT_REQUIRE_SHARED(shared);
  auto info = describe_model(shared / "fixtures/models/distilbert-krwordpiece-dense");
  EXPECT_EQ(info.architecture, "DistilBertModel");
  EXPECT_EQ(info.hidden_size, 32u);
  EXPECT_EQ(info.dimension, 16u) << "Dense 32 -> 16";
  EXPECT_FALSE(info.normalize);
  EXPECT_EQ(info.max_length, 128u);
  EXPECT_EQ(info.tokenizer, "WordPiece (vocab.txt)");
  EXPECT_EQ(info.weight_files, (std::vector<std::string>{"0_Transformer/model.safetensors",
                                                         "2_Dense/pytorch_model.bin"}));
  EXPECT_FALSE(info.parameters.has_value()) << "a .bin file cannot be counted without unpickling";
}

TEST(ModelInfo, PlainFolderWithSentencePiece) {
  SBERT_REQUIRE_SHARED(shared);
  auto info = describe_model(shared / "fixtures/models/bert-kobert-spm");
  EXPECT_EQ(info.pooling, "mean");
  EXPECT_FALSE(info.pooling_from_config);
  EXPECT_TRUE(info.modules.empty());
  EXPECT_EQ(info.max_length, 512u);
  EXPECT_EQ(info.tokenizer, "SentencePiece (tokenizer_78b3253a26.model) + vocab.txt");
  EXPECT_EQ(*info.parameters, 290720u);

  auto xlmr = describe_model(shared / "fixtures/models/xlmr-spm-mean-norm");
  EXPECT_EQ(xlmr.tokenizer, "Unigram (tokenizer.json)");
  EXPECT_EQ(xlmr.max_length, 128u);
  EXPECT_EQ(*xlmr.parameters, 162752u);

  auto nli = describe_model(shared / "fixtures/models/nli-xlmr");
  EXPECT_EQ(nli.architecture, "XLMRobertaForSequenceClassification");
  EXPECT_EQ(nli.max_length, 512u) << "514 positions minus the padding offset";
}

TEST(ModelInfo, BadFolders) {
  auto dir = sbert::testing::temp_dir("info");
  EXPECT_THROW(describe_model(dir / "absent"), sbert::Error);
  try {
    describe_model(dir);
    FAIL() << "no config.json";
  } catch (const sbert::Error& e) {
    EXPECT_EQ(std::string(e.what()), (dir / "config.json").string() + ": missing");
  }
  sbert::testing::write_file(dir / "config.json", "{not json");
  try {
    describe_model(dir);
    FAIL() << "broken config.json";
  } catch (const sbert::Error& e) {
    EXPECT_NE(std::string(e.what()).find((dir / "config.json").string() + ": invalid JSON"),
              std::string::npos);
  }
  sbert::testing::write_file(dir / "config.json", R"({"model_type": "bert", "hidden_size": 8})");
  sbert::testing::write_file(dir / "model.safetensors", std::string("\xff\xff\xff\xff\xff\xff\x00\x00", 8));
  try {
    describe_model(dir);
    FAIL() << "bad safetensors header";
  } catch (const sbert::Error& e) {
    EXPECT_NE(std::string(e.what()).find("invalid safetensors header length"), std::string::npos);
  }
}
