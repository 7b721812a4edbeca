// Parity of the CPU runtime with the goldens of the rotary architectures (Qwen3 as
// Qwen3-Embedding, Gemma 3 as EmbeddingGemma; ../shared/reference ports of transformers), from
// the goldens' token ids so that the model code is tested apart from the tokenizers.
#include <cmath>

#include "cpu/embedding_model.h"
#include "sbert/error.h"
#include "golden_util.h"
#include "test_support.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using sbert::cputest::encodings;
using sbert::cputest::load;
using sbert::cputest::ptrs;
using sbert::testing::max_abs_diff;

constexpr double kTol = 1e-5;  // the bar (1e-4 would be a bug)

TEST(RotaryDecoderParity, Qwen3StEncodeAndQueryPrompt) {
  SBERT_REQUIRE_SHARED(shared);
  const json g = sbert::testing::load_json(shared / "fixtures/golden/qwen3-embedding-lasttoken.json");
  sbert::EncoderOptions o;
  o.batch_size = 16;
  auto model = load(shared / "fixtures/models/qwen3-embedding-lasttoken", o);
  EXPECT_EQ(model->info().model_type, "qwen3");
  EXPECT_EQ(model->max_length(), g["max_seq_length"].get<size_t>());
  auto encs = encodings(g["input_ids"]);
  sbert::Matrix m = model->embed(ptrs(encs));
  ASSERT_EQ(m.rows, g["st_encode_shape"][0].get<size_t>());
  ASSERT_EQ(m.cols, g["st_encode_shape"][1].get<size_t>());
  const double d = max_abs_diff(m, g["st_encode"]);
  std::printf("[parity] qwen3 st_encode max abs diff %.3g\n", d);
  EXPECT_LE(d, kTol);
  // Left padding in the reference shifts positions; rotary attention only sees differences.
  EXPECT_LE(max_abs_diff(m, g["st_encode_left_padded"]), kTol);
  auto q = encodings(g["query"]["input_ids"]);
  sbert::Matrix mq = model->embed(ptrs(q));
  const double dq = max_abs_diff(mq, g["query"]["st_encode"]);
  std::printf("[parity] qwen3 query prompt max abs diff %.3g\n", dq);
  EXPECT_LE(dq, kTol);
}

TEST(RotaryDecoderParity, Qwen3EveryPoolingModeAndLayerStates) {
  SBERT_REQUIRE_SHARED(shared);
  const json g = sbert::testing::load_json(shared / "fixtures/golden/qwen3-embedding-lasttoken.json");
  const fs::path dir = shared / "fixtures/models/qwen3-embedding-lasttoken";
  auto encs = encodings(g["input_ids"]);
  for (const auto& [mode, want] : g["pooling"].items()) {
    SCOPED_TRACE(mode);
    sbert::EncoderOptions o;
    o.pooling = mode;
    o.normalize = false;
    o.batch_size = 1;  // the golden: batches of one
    sbert::Matrix m = load(dir, o)->embed(ptrs(encs));
    const double d = max_abs_diff(m, want);
    std::printf("[parity] qwen3 pooling %s max abs diff %.3g\n", mode.c_str(), d);
    EXPECT_LE(d, kTol);
  }
  // Hidden states after the embedding, each layer (before the final norm) and the final norm.
  const json& L = g["layers"];
  auto model = load(dir);
  sbert::cpu::TokenBatch b;
  for (const auto& id : L["input_ids"]) b.ids.push_back(id.get<int64_t>());
  b.offsets = {0, b.tokens()};
  std::vector<std::vector<float>> all;
  const std::vector<float> out = model->encoder().forward(b, &all);
  auto diff = [](const std::vector<float>& got, const json& want) {
    EXPECT_EQ(got.size(), want.size());
    double w = 0;
    for (size_t i = 0; i < got.size() && i < want.size(); ++i) w = std::max(w, std::fabs(got[i] - want[i].get<double>()));
    return w;
  };
  ASSERT_EQ(all.size(), L["after_layer"].size() + 1);
  EXPECT_LE(diff(all[0], L["embed_tokens"]), kTol);
  EXPECT_LE(diff(all[1], L["after_layer"][0]), kTol);
  EXPECT_LE(diff(out, L["final_norm"]), kTol);
}

TEST(RotaryDecoderParity, Qwen3PaddedBatchEqualsBatchesOfOne) {
  SBERT_REQUIRE_SHARED(shared);
  const json g = sbert::testing::load_json(shared / "fixtures/golden/qwen3-embedding-lasttoken.json");
  const fs::path dir = shared / "fixtures/models/qwen3-embedding-lasttoken";
  auto encs = encodings(g["input_ids"]);
  encs.resize(40);
  sbert::EncoderOptions one, many;
  one.batch_size = 1;
  many.batch_size = 40;
  const sbert::Matrix a = load(dir, one)->embed(ptrs(encs)), b = load(dir, many)->embed(ptrs(encs));
  ASSERT_EQ(a.rows, b.rows);
  for (size_t i = 0; i < a.rows; ++i)
    for (size_t j = 0; j < a.cols; ++j) ASSERT_EQ(a.at(i, j), b.at(i, j)) << "row " << i;
}

TEST(RotaryDecoderParity, EmbeddingGemmaStEncodePromptAndPooling) {
  SBERT_REQUIRE_SHARED(shared);
  const json g = sbert::testing::load_json(shared / "fixtures/golden/embeddinggemma-mean-dense.json");
  const fs::path dir = shared / "fixtures/models/embeddinggemma-mean-dense";
  sbert::EncoderOptions o;
  o.batch_size = 16;
  auto model = load(dir, o);
  EXPECT_EQ(model->info().model_type, "gemma3_text");
  auto encs = encodings(g["input_ids"]);
  const sbert::Matrix m = model->embed(ptrs(encs));
  ASSERT_EQ(m.rows, g["st_encode_shape"][0].get<size_t>());
  ASSERT_EQ(m.cols, g["st_encode_shape"][1].get<size_t>());
  const double d = max_abs_diff(m, g["st_encode"]);
  std::printf("[parity] embeddinggemma st_encode max abs diff %.3g\n", d);
  EXPECT_LE(d, kTol);
  auto p = encodings(g["input_ids_prompt"]);
  const double dp = max_abs_diff(model->embed(ptrs(p)), g["st_encode_prompt"]);
  std::printf("[parity] embeddinggemma query prompt max abs diff %.3g\n", dp);
  EXPECT_LE(dp, kTol);
  for (const auto& [mode, want] : g["pooling"].items()) {
    SCOPED_TRACE(mode);
    sbert::EncoderOptions po;
    po.pooling = mode;
    po.normalize = false;
    po.batch_size = 1;
    // The golden pools the transformer's output alone (before the Dense modules).
    auto pm = load(dir, po);
    std::vector<std::vector<float>> all;
    double worst = 0;
    for (size_t i = 0; i < encs.size(); ++i) {
      sbert::cpu::TokenBatch b;
      b.ids = encs[i].ids;
      b.offsets = {0, b.tokens()};
      const std::vector<float> h = pm->encoder().forward(b);
      const size_t H = want[i].size(), n = b.ids.size();
      for (size_t k = 0; k < H; ++k) {
        double v = 0;
        if (mode == "mean") {
          for (size_t t = 0; t < n; ++t) v += h[t * H + k];
          v /= double(n);
        } else if (mode == "cls") {
          v = h[k];
        } else {
          v = h[(n - 1) * H + k];
        }
        worst = std::max(worst, std::fabs(v - want[i][k].get<double>()));
      }
    }
    std::printf("[parity] embeddinggemma pooling %s max abs diff %.3g\n", mode.c_str(), worst);
    EXPECT_LE(worst, kTol);
  }
}

TEST(RotaryDecoderParity, EmbeddingGemmaLayerStatesAndPaddedBatch) {
  SBERT_REQUIRE_SHARED(shared);
  const json g = sbert::testing::load_json(shared / "fixtures/golden/embeddinggemma-mean-dense.json");
  const fs::path dir = shared / "fixtures/models/embeddinggemma-mean-dense";
  auto model = load(dir);
  sbert::cpu::TokenBatch b;
  for (const auto& id : g["input_ids"][0]) b.ids.push_back(id.get<int64_t>());
  b.offsets = {0, b.tokens()};
  std::vector<std::vector<float>> all;
  model->encoder().forward(b, &all);
  const json& dbg = g["debug_text0"];
  auto diff = [](const std::vector<float>& got, const json& rows) {
    double w = 0;
    size_t k = 0;
    for (const auto& r : rows)
      for (const auto& v : r) w = std::max(w, std::fabs(got.at(k++) - v.get<double>()));
    EXPECT_EQ(k, got.size());
    return w;
  };
  EXPECT_LE(diff(all[0], dbg["embeddings_scaled"]), kTol);
  const json& layers = dbg["layer_outputs_before_final_norm"];
  for (size_t l = 0; l + 1 < layers.size(); ++l) EXPECT_LE(diff(all[l + 1], layers[l]), kTol) << "layer " << l;
  // A long text (sliding and full layers both matter) in a batch with short ones equals alone.
  auto encs = encodings(g["input_ids"]);
  sbert::EncoderOptions one, many;
  one.batch_size = 1;
  many.batch_size = 32;
  const sbert::Matrix a = load(dir, one)->embed(ptrs(encs)), c = load(dir, many)->embed(ptrs(encs));
  for (size_t i = 0; i < a.rows; ++i)
    for (size_t j = 0; j < a.cols; ++j) ASSERT_EQ(a.at(i, j), c.at(i, j)) << "row " << i;
}

}  // namespace

namespace {

double cosine(const float* a, const float* b, size_t n) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < n; ++i) ab += double(a[i]) * b[i], aa += double(a[i]) * a[i], bb += double(b[i]) * b[i];
  return ab / std::sqrt(aa * bb);
}

TEST(RotaryDecoderInt8, QuantizedModelsStayCloseToFloat) {
  SBERT_REQUIRE_SHARED(shared);
  for (const char* name : {"qwen3-embedding-lasttoken", "embeddinggemma-mean-dense"}) {
    SCOPED_TRACE(name);
    const json g = sbert::testing::load_json(shared / "fixtures/golden" / (std::string(name) + ".json"));
    const fs::path dir = shared / "fixtures/models" / name;
    auto encs = encodings(g["input_ids"]);
    sbert::EncoderOptions f, q;
    q.quantize = "int8";
    const sbert::Matrix a = load(dir, f)->embed(ptrs(encs)), b = load(dir, q)->embed(ptrs(encs));
    ASSERT_EQ(a.rows, b.rows);
    double worst = 1, exact = 0;
    for (size_t i = 0; i < a.rows; ++i) {
      worst = std::min(worst, cosine(a.row(i), b.row(i), a.cols));
      for (size_t j = 0; j < a.cols; ++j) exact = std::max(exact, std::fabs(double(a.at(i, j)) - b.at(i, j)));
    }
    std::printf("[int8] %s worst cosine to float32 %.5f (max abs diff %.3g)\n", name, worst, exact);
    EXPECT_GT(worst, 0.99);
    EXPECT_GT(exact, 0.0) << "int8 gave float32's exact vectors: was it quantized at all?";
  }
}

// Config errors are one line naming config.json and the key.
TEST(RotaryDecoderConfig, MissingOrBadKeysNameTheField) {
  SBERT_REQUIRE_SHARED(shared);
  const json base = sbert::testing::load_json(shared / "fixtures/models/embeddinggemma-mean-dense/config.json");
  struct Case {
    const char* key;
    json value;  // null: removed
    const char* expect;
  } cases[] = {
      {"query_pre_attn_scalar", json(), "'query_pre_attn_scalar' missing"},
      {"sliding_window", json(-4), "'sliding_window' must be positive"},
      {"layer_types", json::array({"full_attention"}), "'layer_types' must list one type per layer"},
      {"num_key_value_heads", json(3), "'num_key_value_heads' (3) must divide"},
      {"rope_scaling", json{{"rope_type", "linear"}, {"factor", 2.0}}, "'rope_scaling'"},
      {"use_bidirectional_attention", json("yes"), "'use_bidirectional_attention' is not true or false"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.key);
    json j = base;
    if (c.value.is_null()) j.erase(c.key);
    else j[c.key] = c.value;
    try {
      sbert::cpu::ModelConfig::from_json(j, "x/config.json");
      ADD_FAILURE() << "accepted";
    } catch (const sbert::Error& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find("x/config.json: "), std::string::npos) << m;
      EXPECT_NE(m.find(c.expect), std::string::npos) << m;
      EXPECT_EQ(m.find('\n'), std::string::npos) << m;
    }
  }
}

// The window rules as the references state them, on the configs' own numbers: Gemma's
// bidirectional sliding layers see |i - j| <= sliding_window / 2, its full layers everything;
// Qwen3 with use_sliding_window is causal with i - j < sliding_window from max_window_layers on.
TEST(RotaryDecoderConfig, WindowsAndBasesPerLayer) {
  SBERT_REQUIRE_SHARED(shared);
  json gj = sbert::testing::load_json(shared / "fixtures/models/embeddinggemma-mean-dense/config.json");
  const auto g = sbert::cpu::ModelConfig::from_json(gj, "gemma");
  ASSERT_EQ(g.layers.size(), 4u);
  for (size_t l = 0; l < 3; ++l) {
    EXPECT_EQ(g.layers[l].left, 8);
    EXPECT_EQ(g.layers[l].right, 8);
    EXPECT_EQ(g.layers[l].rope_theta, 10000.0);
  }
  EXPECT_EQ(g.layers[3].left, -1);
  EXPECT_EQ(g.layers[3].right, -1);
  EXPECT_EQ(g.layers[3].rope_theta, 1000000.0);
  EXPECT_FLOAT_EQ(g.scale(), static_cast<float>(1.0 / std::sqrt(20.0)));
  gj["use_bidirectional_attention"] = false;
  gj.erase("layer_types");  // then the pattern: every 4th layer full
  const auto causal = sbert::cpu::ModelConfig::from_json(gj, "gemma");
  EXPECT_EQ(causal.layers[0].left, 15);
  EXPECT_EQ(causal.layers[0].right, 0);
  EXPECT_EQ(causal.layers[3].left, -1);
  EXPECT_EQ(causal.layers[3].right, 0);

  json qj = sbert::testing::load_json(shared / "fixtures/models/qwen3-embedding-lasttoken/config.json");
  const auto q = sbert::cpu::ModelConfig::from_json(qj, "qwen");
  for (const auto& l : q.layers) {
    EXPECT_EQ(l.left, -1);
    EXPECT_EQ(l.right, 0);
  }
  EXPECT_EQ(q.head_dim(), 16);
  EXPECT_EQ(q.num_kv_heads, 2);
  qj["use_sliding_window"] = true;
  qj["sliding_window"] = 5;
  qj["max_window_layers"] = 1;
  const auto qs = sbert::cpu::ModelConfig::from_json(qj, "qwen");
  EXPECT_EQ(qs.layers[0].left, -1);
  EXPECT_EQ(qs.layers[1].left, 4);
  EXPECT_EQ(qs.layers[1].right, 0);
}

}  // namespace
