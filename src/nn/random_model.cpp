#include "sbert/random_model.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "cpu/architecture.h"
#include "sbert/error.h"
#include "sbert/model_folder.h"
#include "sbert/safetensors_writer.h"

namespace sbert {
namespace fs = std::filesystem;
namespace {

void write_text(const fs::path& p, const std::string& s) {
  std::ofstream out(p, std::ios::binary);
  if (!out) throw Error(p.string() + ": cannot open for writing");
  out << s;
  if (!out) throw Error(p.string() + ": write failed");
}

size_t count_lines(const fs::path& p) {
  std::ifstream in(p);
  size_t n = 0;
  std::string line;
  while (std::getline(in, line)) ++n;
  return n;
}

std::string small_vocab() {
  std::string v = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n";
  const char* words[] = {"the", "a", "an", "is", "are", "was", "of", "in", "on", "and", "to",
                         "man", "woman", "girl", "boy", "dog", "cat", "play", "playing", "eat",
                         "eating", "food", "guitar", "piano", "car", "street", "water", "run",
                         "running", "beach", "soccer", "hair", "river", "bank", "money"};
  for (const char* w : words) v += std::string(w) + "\n";
  for (char c = 'a'; c <= 'z'; ++c) v += std::string(1, c) + "\n##" + std::string(1, c) + "\n";
  for (char c = '0'; c <= '9'; ++c) v += std::string(1, c) + "\n##" + std::string(1, c) + "\n";
  for (const char* p : {".", ",", "!", "?", "'", "-", "(", ")", ":", ";", "\""}) v += std::string(p) + "\n";
  return v;
}

void write_st_files(const fs::path& out, const RandomModelSpec& s);
void write_rotary_decoder(const fs::path& out, const RandomModelSpec& s, const cpu::Architecture& arch, size_t vocab);

}  // namespace

void write_random_model(const fs::path& out, const RandomModelSpec& s) {
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec) throw Error(out.string() + ": cannot create: " + ec.message());
  if (s.heads == 0 || s.hidden % s.heads != 0)
    throw Error("hidden size " + std::to_string(s.hidden) + " is not a multiple of heads " +
                std::to_string(s.heads));

  // Tokenizer files.
  size_t vocab = s.vocab_size;
  if (s.tokenizer_dir.empty()) {
    const std::string v = small_vocab();
    write_text(out / "vocab.txt", v);
    write_text(out / "tokenizer_config.json",
               R"({"do_lower_case": true, "tokenizer_class": "BertTokenizer", "model_max_length": 512})");
    if (vocab == 0) vocab = count_lines(out / "vocab.txt");
  } else {
    if (!fs::is_directory(s.tokenizer_dir))
      throw Error(s.tokenizer_dir.string() + ": tokenizer folder not found");
    bool any = false;
    for (const char* f : {"vocab.txt", "tokenizer.json", "tokenizer_config.json",
                          "special_tokens_map.json", "sentencepiece.bpe.model"}) {
      if (fs::exists(s.tokenizer_dir / f)) {
        fs::copy_file(s.tokenizer_dir / f, out / f, fs::copy_options::overwrite_existing, ec);
        if (ec) throw Error((out / f).string() + ": cannot copy: " + ec.message());
        any = true;
      }
    }
    if (!any) throw Error(s.tokenizer_dir.string() + ": no tokenizer files (vocab.txt, tokenizer.json)");
    if (vocab == 0) {
      if (fs::exists(out / "vocab.txt")) {
        vocab = count_lines(out / "vocab.txt");
      } else {
        std::ifstream in(out / "tokenizer.json");
        nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
        if (j.is_object() && j.contains("model") && j["model"].contains("vocab"))
          vocab = j["model"]["vocab"].size();
        if (j.is_object() && j.contains("added_tokens"))
          for (const auto& t : j["added_tokens"])
            if (t.contains("id")) vocab = std::max(vocab, t["id"].get<size_t>() + 1);
      }
    }
    if (vocab == 0) throw Error(s.tokenizer_dir.string() + ": cannot tell the vocabulary size; pass it");
  }

  const cpu::Architecture* arch = cpu::architecture_for(s.model_type);
  const std::string family = arch ? arch->name : "";
  if (family == "qwen3" || family == "gemma3") {
    write_rotary_decoder(out, s, *arch, vocab);
    write_st_files(out, s);
    return;
  }
  if (family != "bert" && family != "distilbert" && family != "electra")
    throw Error("random model: model type '" + s.model_type +
                "' is not one of bert, distilbert, electra, qwen3, gemma3_text");
  const bool distil = family == "distilbert";
  const size_t E = arch->config.embedding_size && s.embedding_size ? s.embedding_size : s.hidden;
  const cpu::ConfigKeys& k = arch->config;
  nlohmann::json config = {
      {"architectures", {std::string(cpu::model_type_entry(*arch, s.model_type).base_class)}},
      {"model_type", s.model_type}, {"vocab_size", vocab}, {k.hidden_size, s.hidden},
      {k.num_layers, s.layers}, {k.num_heads, s.heads}, {k.intermediate_size, s.intermediate},
      {"max_position_embeddings", s.max_position}, {k.activation, "gelu"}, {"pad_token_id", 0},
      {"initializer_range", s.init_std}};
  if (distil) {
    config.update({{"dropout", 0.1}, {"attention_dropout", 0.1}, {"seq_classif_dropout", 0.2},
                   {"sinusoidal_pos_embds", false}});
  } else {
    config.update({{"type_vocab_size", 2}, {"layer_norm_eps", 1e-12}, {"hidden_dropout_prob", 0.1},
                   {"attention_probs_dropout_prob", 0.1}});
    if (k.embedding_size) config[k.embedding_size] = E;
  }
  write_text(out / "config.json", config.dump(2));

  std::mt19937_64 rng(s.seed);
  std::normal_distribution<float> normal(0.0f, static_cast<float>(s.init_std));
  std::vector<NamedTensor> tensors;
  auto randn = [&](const std::string& name, std::vector<int64_t> shape) {
    NamedTensor t{name, shape, {}};
    size_t n = 1;
    for (int64_t d : shape) n *= static_cast<size_t>(d);
    t.values.resize(n);
    for (float& x : t.values) x = normal(rng);
    tensors.push_back(std::move(t));
  };
  auto fill = [&](const std::string& name, int64_t n, float value) {
    tensors.push_back({name, {n}, std::vector<float>(static_cast<size_t>(n), value)});
  };
  auto linear = [&](const std::string& name, int64_t out_features, int64_t in_features) {
    randn(name + ".weight", {out_features, in_features});
    randn(name + ".bias", {out_features});
  };
  auto norm = [&](const std::string& name, int64_t n) {
    fill(name + ".weight", n, 1.0f);
    fill(name + ".bias", n, 0.0f);
  };
  const cpu::TensorNames& t = arch->tensors;
  const int64_t H = static_cast<int64_t>(s.hidden), I = static_cast<int64_t>(s.intermediate),
                W = static_cast<int64_t>(E);
  const std::string w = ".weight";
  randn(t.word_embeddings + w, {static_cast<int64_t>(vocab), W});
  randn(t.position_embeddings + w, {static_cast<int64_t>(s.max_position), W});
  if (t.token_type_embeddings) randn(t.token_type_embeddings + w, {2, W});
  norm(t.embeddings_norm, W);
  if (t.embeddings_project && W != H) linear(t.embeddings_project, H, W);
  for (size_t l = 0; l < s.layers; ++l) {
    const std::string p = t.layer_prefix + std::to_string(l) + ".";
    for (const char* m : {t.query, t.key, t.value, t.attention_out}) linear(p + m, H, H);
    norm(p + t.attention_norm, H);
    linear(p + t.mlp_up, I, H);
    linear(p + t.mlp_down, H, I);
    norm(p + t.mlp_norm, H);
  }
  if (t.pooler) linear(t.pooler, H, H);
  write_safetensors(out / "model.safetensors", tensors, s.dtype);
  write_st_files(out, s);
}

namespace {

// The sentence-transformers files, from the same builders `sbert train` uses (checked before
// anything is written).
void write_st_files(const fs::path& out, const RandomModelSpec& s) {
  model::StLayout layout;
  layout.pooling.modes = {s.pooling};
  layout.pooling.word_embedding_dimension = static_cast<int64_t>(s.hidden);
  layout.normalize = s.normalize;
  layout.max_seq_length = s.max_seq_length;
  const nlohmann::json pooling = model::pooling_config_json(layout.pooling);
  write_text(out / "modules.json", model::modules_json(layout).dump(2));
  fs::create_directories(out / "1_Pooling");
  write_text(out / "1_Pooling/config.json", pooling.dump(2));
  if (s.normalize) fs::create_directories(out / "2_Normalize");
  write_text(out / "sentence_bert_config.json", model::sentence_bert_config_json(layout).dump(2));
}

// Qwen3 (as Qwen3-Embedding) or Gemma 3 text (as EmbeddingGemma): the published configs' switches
// with the spec's sizes, weights ~ N(0, init_std), norms at identity (Qwen's w = 1, Gemma's
// (1 + w) with w = 0).
void write_rotary_decoder(const fs::path& out, const RandomModelSpec& s, const cpu::Architecture& arch, size_t vocab) {
  const bool gemma = std::string(arch.name) == "gemma3";
  const int64_t H = static_cast<int64_t>(s.hidden), I = static_cast<int64_t>(s.intermediate);
  const int64_t nh = static_cast<int64_t>(s.heads), nkv = static_cast<int64_t>(s.kv_heads ? s.kv_heads : s.heads);
  const int64_t d = static_cast<int64_t>(s.head_dim ? s.head_dim : s.hidden / s.heads);
  const int64_t L = static_cast<int64_t>(s.layers);
  nlohmann::json config = {{"model_type", s.model_type}, {"vocab_size", vocab}, {"hidden_size", H},
                           {"num_hidden_layers", L}, {"num_attention_heads", nh}, {"num_key_value_heads", nkv},
                           {"head_dim", d}, {"intermediate_size", I}, {"max_position_embeddings", s.max_position},
                           {"rms_norm_eps", 1e-6}, {"attention_bias", false}, {"rope_scaling", nullptr},
                           {"initializer_range", s.init_std}, {"torch_dtype", "float32"}};
  if (gemma) {
    nlohmann::json types = nlohmann::json::array();
    for (int64_t l = 0; l < L; ++l) types.push_back((l + 1) % 6 ? "sliding_attention" : "full_attention");
    config.update({{"architectures", {"Gemma3TextModel"}}, {"hidden_activation", "gelu_pytorch_tanh"},
                   {"query_pre_attn_scalar", d}, {"sliding_window", 512}, {"layer_types", types},
                   {"rope_theta", 1000000.0}, {"rope_local_base_freq", 10000.0},
                   {"use_bidirectional_attention", true}, {"pad_token_id", 0}, {"bos_token_id", 2},
                   {"eos_token_id", 1}});
  } else {
    config.update({{"architectures", {"Qwen3ForCausalLM"}}, {"hidden_act", "silu"}, {"rope_theta", 1000000},
                   {"use_sliding_window", false}, {"sliding_window", nullptr}, {"max_window_layers", L},
                   {"tie_word_embeddings", true}});
  }
  write_text(out / "config.json", config.dump(2));
  std::mt19937_64 rng(s.seed);
  std::normal_distribution<float> normal(0.0f, static_cast<float>(s.init_std));
  std::vector<NamedTensor> tensors;
  auto randn = [&](const std::string& name, std::vector<int64_t> shape) {
    NamedTensor t{name + ".weight", shape, {}};
    t.values.resize(static_cast<size_t>(shape[0] * shape[1]));
    for (float& x : t.values) x = normal(rng);
    tensors.push_back(std::move(t));
  };
  auto norm = [&](const std::string& name, int64_t n) {
    tensors.push_back({name + ".weight", {n}, std::vector<float>(static_cast<size_t>(n), gemma ? 0.0f : 1.0f)});
  };
  const cpu::TensorNames& t = arch.tensors;
  randn(t.word_embeddings, {static_cast<int64_t>(vocab), H});
  for (int64_t l = 0; l < L; ++l) {
    const std::string p = t.layer_prefix + std::to_string(l) + ".";
    randn(p + t.query, {nh * d, H});
    randn(p + t.key, {nkv * d, H});
    randn(p + t.value, {nkv * d, H});
    randn(p + t.attention_out, {H, nh * d});
    norm(p + t.q_norm, d);
    norm(p + t.k_norm, d);
    for (const char* n : {t.input_norm, t.post_attention_norm, t.pre_mlp_norm, t.post_mlp_norm})
      if (n) norm(p + n, H);
    randn(p + t.mlp_gate, {I, H});
    randn(p + t.mlp_up, {I, H});
    randn(p + t.mlp_down, {H, I});
  }
  norm(t.final_norm, H);
  write_safetensors(out / "model.safetensors", tensors, s.dtype);
}

}  // namespace

}  // namespace sbert
