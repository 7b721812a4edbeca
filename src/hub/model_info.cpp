// describe_model: what a model folder holds, from its configs and safetensors headers only.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "hub/cache_layout.h"
#include "sbert/json_parse.h"
#include "sbert/error.h"
#include "sbert/hub.h"

namespace sbert::hub {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::optional<json> load_json_opt(const fs::path& p) {
  auto text = detail::read_text(p);
  if (!text) return std::nullopt;
  try {
    return parse_json(*text);
  } catch (const std::exception& e) {
    throw Error(p.string() + ": invalid JSON (" + e.what() + ")");
  }
}

size_t size_field(const json& j, std::initializer_list<const char*> keys) {
  for (const char* k : keys) {
    if (j.contains(k) && j[k].is_number_unsigned()) return j[k].get<size_t>();
  }
  return 0;
}

struct SafetensorsSummary {
  std::uint64_t parameters = 0;
  std::set<std::string> dtypes;
};

// The header is an 8-byte little-endian length followed by JSON {name: {dtype, shape, ...}}.
SafetensorsSummary read_safetensors_header(const fs::path& p) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(p.c_str(), "rb"), &std::fclose);
  if (!f) throw Error(p.string() + ": cannot open");
  unsigned char len_bytes[8];
  if (std::fread(len_bytes, 1, 8, f.get()) != 8) throw Error(p.string() + ": truncated header");
  std::uint64_t len = 0;
  for (int i = 7; i >= 0; --i) len = (len << 8) | len_bytes[i];
  std::error_code ec;
  std::uint64_t file_size = fs::file_size(p, ec);
  if (len == 0 || len > (100u << 20) || len > file_size - 8) {
    throw Error(p.string() + ": invalid safetensors header length " + std::to_string(len));
  }
  std::string header(len, '\0');
  if (std::fread(header.data(), 1, len, f.get()) != len) {
    throw Error(p.string() + ": truncated header");
  }
  SafetensorsSummary s;
  try {
    auto j = parse_json(header, p.string());
    for (auto& [name, t] : j.items()) {
      if (name == "__metadata__") continue;
      std::uint64_t n = 1;
      for (const auto& d : t.at("shape")) n *= d.get<std::uint64_t>();
      s.parameters += n;
      s.dtypes.insert(t.at("dtype").get<std::string>());
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(p.string() + ": invalid safetensors header (" + e.what() + ")");
  }
  return s;
}

std::string short_type(const std::string& type) {
  auto dot = type.rfind('.');
  return dot == std::string::npos ? type : type.substr(dot + 1);
}

}  // namespace

ModelInfo describe_model(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error("model folder not found: " + dir.string());
  ModelInfo info;
  info.path = dir;

  fs::path transformer = dir;
  std::vector<fs::path> module_dirs;
  std::optional<json> pooling_cfg;
  size_t dense_out = 0;
  if (auto modules = load_json_opt(dir / "modules.json")) {
    if (!modules->is_array()) throw Error((dir / "modules.json").string() + ": not a list");
    for (const auto& m : *modules) {
      std::string type = m.value("type", "");
      std::string path = m.value("path", "");
      info.modules.push_back(short_type(type));
      fs::path mdir = path.empty() ? dir : dir / path;
      if (type.find("Transformer") != std::string::npos) {
        transformer = mdir;
      } else if (type.find("Pooling") != std::string::npos) {
        pooling_cfg = load_json_opt(mdir / "config.json");
      } else if (type.find("Dense") != std::string::npos) {
        if (auto c = load_json_opt(mdir / "config.json")) {
          dense_out = size_field(*c, {"out_features"});
        }
        module_dirs.push_back(mdir);
      } else if (type.find("Normalize") != std::string::npos) {
        info.normalize = true;
      } else if (!path.empty()) {
        module_dirs.push_back(mdir);
      }
    }
  }

  auto config = load_json_opt(transformer / "config.json");
  if (!config) throw Error((transformer / "config.json").string() + ": missing");
  if (config->contains("architectures") && (*config)["architectures"].is_array() &&
      !(*config)["architectures"].empty()) {
    info.architecture = (*config)["architectures"][0].get<std::string>();
  }
  info.model_type = config->value("model_type", "");
  if (info.architecture.empty()) info.architecture = info.model_type;
  info.hidden_size = size_field(*config, {"hidden_size", "dim", "d_model"});

  info.pooling = "mean";
  if (pooling_cfg) {
    info.pooling_from_config = true;
    std::vector<std::string> modes;
    if (pooling_cfg->contains("pooling_mode") && (*pooling_cfg)["pooling_mode"].is_string()) {
      modes.push_back((*pooling_cfg)["pooling_mode"].get<std::string>());
    } else {
      const std::pair<const char*, const char*> keys[] = {
          {"pooling_mode_cls_token", "cls"},
          {"pooling_mode_mean_tokens", "mean"},
          {"pooling_mode_max_tokens", "max"},
          {"pooling_mode_mean_sqrt_len_tokens", "mean_sqrt_len"},
          {"pooling_mode_weightedmean_tokens", "weightedmean"},
          {"pooling_mode_lasttoken", "lasttoken"}};
      for (auto [key, name] : keys) {
        if (pooling_cfg->value(key, false)) modes.push_back(name);
      }
    }
    if (!modes.empty()) {
      info.pooling.clear();
      for (const auto& m : modes) info.pooling += (info.pooling.empty() ? "" : "+") + m;
    }
    size_t wed = size_field(*pooling_cfg, {"word_embedding_dimension"});
    info.dimension = (wed ? wed : info.hidden_size) * std::max<size_t>(1, modes.size());
  } else {
    info.dimension = info.hidden_size;
  }
  if (dense_out) info.dimension = dense_out;

  size_t max_pos = size_field(*config, {"max_position_embeddings", "n_positions"});
  if (max_pos && (info.model_type == "roberta" || info.model_type == "xlm-roberta" ||
                  info.model_type == "camembert")) {
    size_t pad = size_field(*config, {"pad_token_id"});
    if (max_pos > pad + 1) max_pos -= pad + 1;  // positions start after the padding index
  }
  std::optional<json> st_cfg = load_json_opt(transformer / "sentence_bert_config.json");
  if (!st_cfg) st_cfg = load_json_opt(dir / "sentence_bert_config.json");
  if (st_cfg) info.max_length = size_field(*st_cfg, {"max_seq_length"});
  auto tok_cfg = load_json_opt(transformer / "tokenizer_config.json");
  if (!info.max_length && tok_cfg) {
    size_t m = size_field(*tok_cfg, {"model_max_length"});
    if (m > 0 && m < 1000000) info.max_length = m;
  }
  if (!info.max_length) info.max_length = max_pos;
  if (max_pos && info.max_length > max_pos) info.max_length = max_pos;

  // The tokenizer kind, by which files exist (tokenizer.json says which model it holds).
  std::string spm;
  for (const auto& e : fs::directory_iterator(transformer, ec)) {
    std::string n = e.path().filename().string();
    if (n.size() > 6 && n.compare(n.size() - 6, 6, ".model") == 0) spm = n;
  }
  if (auto tj = load_json_opt(transformer / "tokenizer.json")) {
    std::string type = "unknown";
    if (tj->contains("model") && (*tj)["model"].is_object()) {
      type = (*tj)["model"].value("type", "unknown");
    }
    info.tokenizer = type + " (tokenizer.json)";
  } else if (!spm.empty()) {
    info.tokenizer = "SentencePiece (" + spm + ")";
    if (fs::exists(transformer / "vocab.txt", ec)) info.tokenizer += " + vocab.txt";
  } else if (fs::exists(transformer / "vocab.txt", ec)) {
    info.tokenizer = "WordPiece (vocab.txt)";
  } else if (fs::exists(transformer / "vocab.json", ec) &&
             fs::exists(transformer / "merges.txt", ec)) {
    info.tokenizer = "BPE (vocab.json + merges.txt)";
  } else {
    info.tokenizer = "none found";
  }

  // Weights: per folder, the file a loader would pick.
  std::uint64_t params = 0;
  bool params_known = true;
  std::set<std::string> dtypes;
  module_dirs.insert(module_dirs.begin(), transformer);
  for (const auto& mdir : module_dirs) {
    std::vector<fs::path> files;
    if (fs::is_regular_file(mdir / "model.safetensors", ec)) {
      files.push_back(mdir / "model.safetensors");
    } else if (auto idx = load_json_opt(mdir / "model.safetensors.index.json")) {
      std::set<std::string> shards;
      if (idx->contains("weight_map")) {
        for (auto& [k, v] : (*idx)["weight_map"].items()) shards.insert(v.get<std::string>());
      }
      for (const auto& s : shards) files.push_back(mdir / s);
    } else if (fs::is_regular_file(mdir / "pytorch_model.bin", ec)) {
      files.push_back(mdir / "pytorch_model.bin");
    } else if (fs::is_regular_file(mdir / "pytorch_model.bin.index.json", ec)) {
      files.push_back(mdir / "pytorch_model.bin.index.json");
    }
    for (const auto& f : files) {
      info.weight_files.push_back(fs::relative(f, dir, ec).generic_string());
      std::string ext = f.extension().string();
      if (ext == ".safetensors") {
        auto s = read_safetensors_header(f);
        params += s.parameters;
        dtypes.insert(s.dtypes.begin(), s.dtypes.end());
      } else {
        params_known = false;  // a torch pickle: counting would mean unpickling it
      }
    }
  }
  if (params_known && !info.weight_files.empty()) info.parameters = params;
  info.dtypes.assign(dtypes.begin(), dtypes.end());

  for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::follow_directory_symlink, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (it->is_regular_file(ec)) info.size_bytes += it->file_size(ec);
  }
  return info;
}

}  // namespace sbert::hub
