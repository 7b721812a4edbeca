// config.json of ModernBERT, NomicBERT, GTE "new" and MPNet read through their descriptions:
// the per-layer windows and bases, rotary sizes and scalings the references state, and errors of
// one line naming config.json and the key.
#include <cmath>

#include "cpu/model_config.h"
#include "sbert/error.h"
#include "test_support.h"

namespace {

using nlohmann::json;

json config(const std::filesystem::path& shared, const char* fixture) {
  return sbert::testing::load_json(shared / "fixtures/models" / fixture / "config.json");
}

sbert::cpu::ModelConfig read(const json& j) { return sbert::cpu::ModelConfig::from_json(j, "x/config.json"); }

TEST(EncoderFamilyConfig, ModernBertLayersWindowsAndBases) {
  SBERT_REQUIRE_SHARED(shared);
  json j = config(shared, "modernbert-cls-norm");
  const auto c = read(j);  // 4 layers, global every 3rd, local_attention 8
  ASSERT_EQ(c.layers.size(), 4u);
  for (size_t l : {0u, 3u}) {
    EXPECT_EQ(c.layers[l].left, -1) << l;
    EXPECT_EQ(c.layers[l].right, -1) << l;
    EXPECT_EQ(c.layers[l].rope_theta, 160000.0) << l;
  }
  for (size_t l : {1u, 2u}) {
    EXPECT_EQ(c.layers[l].left, 4) << l;
    EXPECT_EQ(c.layers[l].right, 4) << l;
    EXPECT_EQ(c.layers[l].rope_theta, 10000.0) << l;
  }
  EXPECT_FALSE(c.norm_bias);
  EXPECT_FALSE(c.attention_bias);
  EXPECT_FALSE(c.mlp_up_bias);
  EXPECT_FALSE(c.arch->bert_blocks());
  j["layer_types"] = {"sliding_attention", "full_attention", "full_attention", "sliding_attention"};
  const auto t = read(j);
  EXPECT_EQ(t.layers[0].left, 4);
  EXPECT_EQ(t.layers[1].left, -1);
}

TEST(EncoderFamilyConfig, NomicRotaryFractionVocabAndWidth) {
  SBERT_REQUIRE_SHARED(shared);
  json j = config(shared, "nomic-bert-mean");  // n_embd 64, 4 heads, vocab 30528
  j["vocab_size"] = 30522;
  j["n_inner"] = 200;
  j["rotary_emb_fraction"] = 0.5;
  const auto c = read(j);
  EXPECT_EQ(c.vocab_size, 30528);         // rounded up to pad_vocab_size_multiple 64
  EXPECT_EQ(c.intermediate_size, 256);    // rounded up to 256
  EXPECT_EQ(c.rotary_features(), 8);      // head 16 * 0.5
  EXPECT_EQ(c.activation, "silu");
  EXPECT_EQ(c.rope_theta, 1000.0);
  EXPECT_FALSE(c.attention_bias);
  j["rotary_scaling_factor"] = 2.0;
  j["max_trained_positions"] = 1024;
  EXPECT_EQ(read(j).max_position_embeddings, 1024);
}

TEST(EncoderFamilyConfig, GteNtkScalingAndBiases) {
  SBERT_REQUIRE_SHARED(shared);
  const auto c = read(config(shared, "gte-new-cls"));  // theta 500000, ntk factor 2, head 16
  EXPECT_EQ(c.layer(0).rope_theta, 1000000.0);
  EXPECT_DOUBLE_EQ(c.rope_freq_divisor, std::pow(2.0, 2.0 / 16.0));
  EXPECT_EQ(c.type_vocab_size, 0);
  EXPECT_TRUE(c.attention_bias);
  EXPECT_FALSE(c.mlp_up_bias);
  EXPECT_TRUE(c.mlp_down_bias);
}

TEST(EncoderFamilyConfig, MpnetBucketsAndPadding) {
  SBERT_REQUIRE_SHARED(shared);
  json j = config(shared, "mpnet-mean-norm");
  j["pad_token_id"] = 0;  // MPNet's positions count from its hard-coded padding_idx 1 anyway
  const auto c = read(j);
  EXPECT_EQ(c.relative_buckets, 32);
  EXPECT_EQ(c.relative_max_distance, 128);
  EXPECT_EQ(c.position_offset(), 2);
  EXPECT_FALSE(c.arch->bert_blocks());  // libtorch's executor has no relative bias
}

TEST(EncoderFamilyConfig, ErrorsNameConfigJsonAndTheKey) {
  SBERT_REQUIRE_SHARED(shared);
  struct Case {
    const char* fixture;
    const char* key;
    json value;  // null: removed
    const char* expect;
  } cases[] = {
      {"nomic-bert-mean", "rotary_emb_fraction", json(1.5), "'rotary_emb_fraction' must be in (0, 1]"},
      {"nomic-bert-mean", "rotary_emb_fraction", json(0.0), "'rotary_emb_fraction' must be in (0, 1]"},
      {"nomic-bert-mean", "rotary_emb_fraction", json(), "'rotary_emb_fraction' missing"},
      {"nomic-bert-mean", "rotary_emb_fraction", json(0.3), "'rotary_emb_fraction' gives a rotary dimension"},
      {"nomic-bert-mean", "n_embd", json(), "'n_embd' missing"},
      {"nomic-bert-mean", "prenorm", json(true), "'prenorm' is true"},
      {"nomic-bert-mean", "activation_function", json("gelu"), "'activation_function' is 'gelu'"},
      {"modernbert-cls-norm", "local_attention", json(4096), "'local_attention' (4096) is larger than max_position_embeddings (128)"},
      {"modernbert-cls-norm", "local_attention", json(), "'local_attention' missing"},
      {"modernbert-cls-norm", "global_attn_every_n_layers", json(0), "'global_attn_every_n_layers' must be positive"},
      {"modernbert-cls-norm", "norm_bias", json("no"), "'norm_bias' is not true or false"},
      {"gte-new-cls", "rope_scaling", json{{"type", "linear"}, {"factor", 2.0}}, "'rope_scaling'"},
      {"gte-new-cls", "rope_scaling", json{{"type", "ntk"}}, "'factor' missing"},
      {"gte-new-cls", "position_embedding_type", json("absolute"), "'position_embedding_type' is 'absolute'"},
      {"gte-new-cls", "logn_attention_scale", json(true), "'logn_attention_scale' is true"},
      {"gte-new-cls", "hidden_size", json(), "'hidden_size' missing"},
      {"mpnet-mean-norm", "relative_attention_num_buckets", json(2), "'relative_attention_num_buckets' must be at least 4"},
      {"mpnet-mean-norm", "num_attention_heads", json(), "'num_attention_heads' missing"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.fixture) + " " + c.key);
    json j = config(shared, c.fixture);
    if (c.value.is_null()) j.erase(c.key);
    else j[c.key] = c.value;
    try {
      read(j);
      ADD_FAILURE() << "accepted";
    } catch (const sbert::Error& e) {
      const std::string m = e.what();
      EXPECT_EQ(m.rfind("x/config.json", 0), 0u) << m;
      EXPECT_NE(m.find(c.expect), std::string::npos) << m;
      EXPECT_EQ(m.find('\n'), std::string::npos) << m;
    }
  }
}

}  // namespace
