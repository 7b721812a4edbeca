// Reading a model folder's layout and configs (no libtorch): see include/sbert/model_folder.h.
#include "sbert/model_folder.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>

#include "sbert/error.h"
#include "sbert/json_parse.h"

namespace sbert::model {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

size_t size_field(const json& j, std::initializer_list<const char*> keys) {
  for (const char* k : keys)
    if (j.contains(k) && j[k].is_number_unsigned()) return j[k].get<size_t>();
  return 0;
}

bool is_inside(const fs::path& path, const fs::path& folder) {
  auto p = path.begin(), f = folder.begin();
  for (; f != folder.end(); ++f, ++p)
    if (p == path.end() || *p != *f) return false;
  return true;
}

// The folder of a modules.json entry. sentence-transformers' layouts (a saved model, the hub
// cache's snapshot folders) keep every module inside the model folder, so a path that is
// absolute, climbs out with "..", or resolves outside through a symbolic link is refused rather
// than loaded from wherever it points.
fs::path module_dir(const fs::path& root, const std::string& path, const fs::path& modules_file) {
  if (path.empty()) return root;
  const fs::path p(path);
  auto refuse = [&](const std::string& why) {
    throw Error(modules_file.string() + ": module path '" + path + "' " + why +
                " (module folders must lie inside the model folder)");
  };
  if (p.is_absolute() || p.has_root_name() || p.has_root_directory()) refuse("is absolute");
  for (const fs::path& part : p)
    if (part == "..") refuse("climbs out with '..'");
  std::error_code ec;
  const fs::path base = fs::weakly_canonical(fs::absolute(root, ec), ec);
  const fs::path resolved = fs::weakly_canonical(fs::absolute(root / p, ec), ec);
  if (ec) refuse("cannot be resolved: " + ec.message());
  if (!is_inside(resolved, base)) refuse("resolves to " + resolved.string() + ", outside " + base.string());
  return root / p;
}

ModuleKind module_kind(const std::string& type, bool strict) {
  // Strict: sentence_transformers' own module classes (any package prefix); lenient: any type
  // naming one of them.
  auto is = [&](const char* name) {
    return strict ? ends_with(type, std::string("models.") + name) : type.find(name) != std::string::npos;
  };
  if (is("Transformer")) return ModuleKind::Transformer;
  if (is("Pooling")) return ModuleKind::Pooling;
  if (is("Dense")) return ModuleKind::Dense;
  if (is("Normalize")) return ModuleKind::Normalize;
  return ModuleKind::Other;
}

void read_sbert_config(const fs::path& file, ModelFolder& folder) {
  json j = read_json(file);
  if (j.contains("max_seq_length") && j["max_seq_length"].is_number_integer() &&
      j["max_seq_length"].get<int64_t>() > 0)
    folder.max_seq_length = j["max_seq_length"].get<size_t>();
  if (j.contains("do_lower_case") && j["do_lower_case"].is_boolean())
    folder.do_lower_case = j["do_lower_case"].get<bool>();
}

std::optional<fs::path> sbert_config_path(const fs::path& transformer_dir, const fs::path& root) {
  for (const fs::path& p : {transformer_dir / "sentence_bert_config.json", root / "sentence_bert_config.json"})
    if (fs::exists(p)) return p;
  return std::nullopt;
}

void read_st_config(const fs::path& file, ModelFolder& folder, bool strict) {
  json j = read_json(file);
  if (j.contains("similarity_fn_name") && j["similarity_fn_name"].is_string()) {
    std::string s = j["similarity_fn_name"].get<std::string>();
    if (s == "cos_sim") s = "cosine";
    if (s == "dot_product") s = "dot";
    if (s == "cosine" || s == "dot" || s == "euclidean" || s == "manhattan") folder.similarity_fn = s;
    else if (strict) throw Error(file.string() + ": unknown similarity_fn_name '" + s + "'");
  }
  if (j.contains("prompts") && j["prompts"].is_object())
    for (auto it = j["prompts"].begin(); it != j["prompts"].end(); ++it)
      if (it.value().is_string()) folder.prompts[it.key()] = it.value().get<std::string>();
  if (j.contains("default_prompt_name") && j["default_prompt_name"].is_string())
    folder.default_prompt_name = j["default_prompt_name"].get<std::string>();
}

}  // namespace

// ---- JSON ----

json read_json(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw Error(path.string() + ": cannot open");
  try {
    return parse_json(in, path.string());
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    std::string what = e.what();
    throw Error(path.string() + ": invalid JSON: " + what.substr(0, what.find('\n')));
  }
}

std::optional<json> read_json_if_exists(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::nullopt;
  return read_json(path);
}

json read_json_object(const fs::path& path) {
  std::optional<json> j = read_json_if_exists(path);
  return j && j->is_object() ? *j : json::object();
}

// ---- weights ----

const std::vector<std::string>& weight_file_names() {
  static const std::vector<std::string> names = {"model.safetensors", "model.safetensors.index.json",
                                                 "pytorch_model.bin", "pytorch_model.bin.index.json"};
  return names;
}

std::optional<fs::path> find_weight_file(const fs::path& dir) {
  for (const std::string& n : weight_file_names())
    if (is_file(dir / n)) return dir / n;
  return std::nullopt;
}

bool is_index_file(const fs::path& file) { return ends_with(file.filename().string(), ".index.json"); }

std::vector<fs::path> weight_shards(const fs::path& dir) {
  auto file = find_weight_file(dir);
  if (!file) return {};
  if (!is_index_file(*file)) return {*file};
  json j = read_json(*file);
  if (!j.contains("weight_map") || !j["weight_map"].is_object())
    throw Error(file->string() + ": field 'weight_map' missing or not an object");
  std::set<std::string> shards;
  for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
    if (!it.value().is_string())
      throw Error(file->string() + ": weight_map['" + it.key() + "'] is not a file name");
    shards.insert(it.value().get<std::string>());
  }
  std::vector<fs::path> out;
  for (const auto& s : shards) out.push_back(dir / s);
  return out;
}

SafetensorsSummary read_safetensors_summary(const fs::path& p) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(p.c_str(), "rb"), &std::fclose);
  if (!f) throw Error(p.string() + ": cannot open");
  unsigned char len_bytes[8];
  if (std::fread(len_bytes, 1, 8, f.get()) != 8) throw Error(p.string() + ": truncated header");
  std::uint64_t len = 0;
  for (int i = 7; i >= 0; --i) len = (len << 8) | len_bytes[i];
  std::error_code ec;
  const std::uint64_t file_size = fs::file_size(p, ec);
  if (ec || len == 0 || len > (100u << 20) || len > file_size - 8)
    throw Error(p.string() + ": invalid safetensors header length " + std::to_string(len));
  std::string header(len, '\0');
  if (std::fread(header.data(), 1, len, f.get()) != len) throw Error(p.string() + ": truncated header");
  SafetensorsSummary s;
  try {
    json j = parse_json(header, p.string());
    for (auto& [name, t] : j.items()) {
      if (name == "__metadata__") continue;
      std::uint64_t n = 1;
      for (const auto& d : t.at("shape"))
        if (__builtin_mul_overflow(n, json_integer<std::uint64_t>(d, "tensor '" + name + "' shape"), &n))
          throw Error("tensor '" + name + "' has an impossible shape " + t.at("shape").dump());
      s.parameters += n;
      ++s.tensors;
      s.dtypes.insert(t.at("dtype").get<std::string>());
    }
  } catch (const std::exception& e) {
    throw Error(p.string() + ": invalid safetensors header (" + e.what() + ")");
  }
  return s;
}

// ---- tokenizer ----

std::optional<fs::path> find_tokenizer_file(const fs::path& dir, bool sentencepiece_only) {
  if (!sentencepiece_only && is_file(dir / "tokenizer.json")) return dir / "tokenizer.json";
  std::vector<fs::path> models;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (entry.is_regular_file() && entry.path().extension() == ".model") models.push_back(entry.path());
  std::sort(models.begin(), models.end());
  if (!models.empty()) return models.front();
  if (!sentencepiece_only && is_file(dir / "vocab.txt")) return dir / "vocab.txt";
  return std::nullopt;
}

std::vector<fs::path> tokenizer_search_dirs(const fs::path& model_dir) {
  return {model_dir, model_dir / "0_Transformer"};
}

std::optional<fs::path> find_model_tokenizer(const fs::path& model_dir, bool sentencepiece_only) {
  for (const fs::path& dir : tokenizer_search_dirs(model_dir)) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) continue;
    if (auto f = find_tokenizer_file(dir, sentencepiece_only)) return f;
  }
  return std::nullopt;
}

// ---- config.json ----

size_t TransformerBasics::max_input_length() const {
  size_t n = max_position_embeddings;
  if (n && (model_type == "roberta" || model_type == "xlm-roberta" || model_type == "camembert") &&
      n > pad_token_id + 1)
    n -= pad_token_id + 1;  // positions start after the padding index
  return n;
}

TransformerBasics read_transformer_basics(const fs::path& config_json) {
  json j = read_json(config_json);
  if (!j.is_object()) throw Error(config_json.string() + ": not a JSON object");
  TransformerBasics b;
  if (j.contains("architectures") && j["architectures"].is_array())
    for (const auto& a : j["architectures"])
      if (a.is_string()) b.architectures.push_back(a.get<std::string>());
  if (j.contains("model_type") && j["model_type"].is_string()) b.model_type = j["model_type"].get<std::string>();
  b.hidden_size = size_field(j, {"hidden_size", "dim", "d_model"});
  b.max_position_embeddings = size_field(j, {"max_position_embeddings", "n_positions"});
  b.pad_token_id = size_field(j, {"pad_token_id"});
  return b;
}

// ---- the ST layout ----

std::string ModuleEntry::short_type() const {
  auto dot = type.rfind('.');
  return dot == std::string::npos ? type : type.substr(dot + 1);
}

bool ModelFolder::has_normalize() const {
  for (const auto& m : modules)
    if (m.kind == ModuleKind::Normalize) return true;
  return false;
}

std::vector<const ModuleEntry*> ModelFolder::post_modules() const {
  std::vector<const ModuleEntry*> out;
  for (const auto& m : modules)
    if (m.kind == ModuleKind::Dense || m.kind == ModuleKind::Normalize) out.push_back(&m);
  return out;
}

PoolingSpec read_pooling_config(const fs::path& file, bool strict) {
  json j = read_json(file);
  PoolingSpec p;
  p.file = file;
  auto flag = [&](const char* key) {
    if (!j.contains(key) || j[key].is_null()) return false;
    if (!j[key].is_boolean() && !strict) return false;
    if (!j[key].is_boolean()) throw Error(file.string() + ": field '" + key + "' is not a boolean");
    return j[key].get<bool>();
  };
  if (j.contains("pooling_mode") && j["pooling_mode"].is_string()) {
    std::string m = j["pooling_mode"].get<std::string>();
    if (m == "mean_tokens") m = "mean";
    else if (m == "max_tokens") m = "max";
    else if (m == "cls_token") m = "cls";
    p.modes.push_back(m);  // checked by whoever maps it to a pooling implementation
  } else {
    // sentence-transformers concatenates in this order.
    const std::pair<const char*, const char*> keys[] = {
        {"pooling_mode_cls_token", "cls"},
        {"pooling_mode_max_tokens", "max"},
        {"pooling_mode_mean_tokens", "mean"},
        {"pooling_mode_mean_sqrt_len_tokens", "mean_sqrt_len"},
        {"pooling_mode_weightedmean_tokens", "weightedmean"},
        {"pooling_mode_lasttoken", "lasttoken"}};
    for (auto [key, name] : keys)
      if (flag(key)) p.modes.push_back(name);
  }
  if (p.modes.empty() && strict) throw Error(file.string() + ": no pooling mode enabled");
  if (j.contains("include_prompt") && j["include_prompt"].is_boolean())
    p.include_prompt = j["include_prompt"].get<bool>();
  if (j.contains("word_embedding_dimension") && j["word_embedding_dimension"].is_number_integer())
    p.word_embedding_dimension = j["word_embedding_dimension"].get<int64_t>();
  return p;
}

std::string dense_activation_name(const std::string& name, const fs::path& file) {
  if (name.empty() || name == "torch.nn.modules.linear.Identity") return "identity";
  if (name == "torch.nn.modules.activation.Tanh") return "tanh";
  if (name == "torch.nn.modules.activation.ReLU") return "relu";
  if (name == "torch.nn.modules.activation.Sigmoid") return "sigmoid";
  if (name == "torch.nn.modules.activation.GELU") return "gelu";
  throw Error(file.string() + ": unsupported activation_function '" + name + "'");
}

DenseSpec read_dense_config(const fs::path& dir, bool strict) {
  const fs::path cfg = dir / "config.json";
  DenseSpec d;
  d.dir = dir;
  std::optional<json> j = strict ? std::optional<json>(read_json(cfg)) : read_json_if_exists(cfg);
  if (!j) return d;
  auto has_int = [&](const char* k) { return j->contains(k) && (*j)[k].is_number_integer(); };
  if (has_int("in_features")) d.in_features = (*j)["in_features"].get<int64_t>();
  if (has_int("out_features")) d.out_features = (*j)["out_features"].get<int64_t>();
  if (strict && (!has_int("in_features") || !has_int("out_features")))
    throw Error(cfg.string() + ": fields 'in_features'/'out_features' missing");
  if (j->contains("bias") && (*j)["bias"].is_boolean()) d.bias = (*j)["bias"].get<bool>();
  std::string act;
  if (j->contains("activation_function") && (*j)["activation_function"].is_string())
    act = (*j)["activation_function"].get<std::string>();
  try {
    d.activation = dense_activation_name(act, cfg);
  } catch (const Error&) {
    if (strict) throw;
    d.activation = act;
  }
  return d;
}

std::optional<bool> read_do_lower_case(const fs::path& model_dir) {
  // Only modules.json's transformer path is needed: the other module configs are not read.
  fs::path transformer = model_dir;
  if (auto j = read_json_if_exists(model_dir / "modules.json"); j && j->is_array())
    for (const auto& m : *j)
      if (m.is_object() && m.contains("type") && m["type"].is_string() &&
          module_kind(m["type"].get<std::string>(), false) == ModuleKind::Transformer &&
          m.contains("path") && m["path"].is_string() && !m["path"].get<std::string>().empty())
        transformer = module_dir(model_dir, m["path"].get<std::string>(), model_dir / "modules.json");
  ModelFolder f;
  if (auto p = sbert_config_path(transformer, model_dir)) read_sbert_config(*p, f);
  return f.do_lower_case;
}

ModelFolder read_model_folder(const fs::path& dir, const ReadOptions& options) {
  const bool strict = options.strict;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error(dir.string() + ": model folder not found");
  ModelFolder folder;
  folder.root = dir;
  folder.transformer_dir = dir;
  folder.pooling.modes = {"mean"};
  const fs::path modules = dir / "modules.json";
  if (auto j = read_json_if_exists(modules)) {
    folder.sentence_transformers = true;
    if (!j->is_array()) throw Error(modules.string() + ": not a JSON array");
    for (const auto& m : *j) {
      const bool typed = m.is_object() && m.contains("type") && m["type"].is_string();
      if (!typed && strict) throw Error(modules.string() + ": module entry without 'type'");
      ModuleEntry e;
      if (typed) e.type = m["type"].get<std::string>();
      if (m.is_object() && m.contains("path") && m["path"].is_string()) e.path = m["path"].get<std::string>();
      e.dir = module_dir(dir, e.path, modules);
      e.kind = module_kind(e.type, strict);
      switch (e.kind) {
        case ModuleKind::Transformer:
          folder.transformer_dir = e.dir;
          break;
        case ModuleKind::Pooling:
          if (strict || fs::exists(e.dir / "config.json")) {
            folder.pooling = read_pooling_config(e.dir / "config.json", strict);
            folder.pooling_from_config = true;
          }
          break;
        case ModuleKind::Dense:
          folder.dense.push_back(read_dense_config(e.dir, strict));
          e.dense_index = folder.dense.size() - 1;
          break;
        case ModuleKind::Normalize:
          break;
        case ModuleKind::Other:
          if (strict) throw Error(modules.string() + ": unsupported module type '" + e.type + "'");
          break;
      }
      folder.modules.push_back(std::move(e));
    }
    // Unusual (sentence-transformers itself would fail); a strict reader pools the CLS token.
    if (!folder.pooling_from_config && strict) folder.pooling.modes = {"cls"};
  }
  if (auto p = sbert_config_path(folder.transformer_dir, dir)) read_sbert_config(*p, folder);
  if (auto p = dir / "config_sentence_transformers.json"; fs::exists(p)) read_st_config(p, folder, strict);
  if (strict && !fs::exists(folder.transformer_dir / "config.json"))
    throw Error((folder.transformer_dir / "config.json").string() +
                ": not found (not a transformer model folder)");
  return folder;
}

}  // namespace sbert::model
