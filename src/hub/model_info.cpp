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
#include "sbert/model_folder.h"

namespace sbert::hub {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

size_t size_field(const json& j, std::initializer_list<const char*> keys) {
  for (const char* k : keys) {
    if (j.contains(k) && j[k].is_number_unsigned()) return j[k].get<size_t>();
  }
  return 0;
}

}  // namespace

ModelInfo describe_model(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error("model folder not found: " + dir.string());
  ModelInfo info;
  info.path = dir;

  // Leniently: a folder that could not be loaded is still described as far as it goes.
  const model::ModelFolder folder = model::read_model_folder(dir, model::ReadOptions{false});
  const fs::path& transformer = folder.transformer_dir;
  std::vector<fs::path> module_dirs;  // folders that may hold weights of their own
  size_t dense_out = 0;
  for (const auto& m : folder.modules) {
    info.modules.push_back(m.short_type());
    if (m.kind == model::ModuleKind::Dense) {
      dense_out = static_cast<size_t>(std::max<int64_t>(0, folder.dense[m.dense_index].out_features));
      module_dirs.push_back(m.dir);
    } else if (m.kind == model::ModuleKind::Other && !m.path.empty()) {
      module_dirs.push_back(m.dir);
    }
  }
  info.normalize = folder.has_normalize();

  if (!fs::exists(transformer / "config.json")) throw Error((transformer / "config.json").string() + ": missing");
  const model::TransformerBasics basics = model::read_transformer_basics(transformer / "config.json");
  info.model_type = basics.model_type;
  info.architecture = basics.architectures.empty() ? info.model_type : basics.architectures[0];
  info.hidden_size = basics.hidden_size;

  info.pooling = "mean";
  if (folder.pooling_from_config) {
    info.pooling_from_config = true;
    const auto& modes = folder.pooling.modes;
    if (!modes.empty()) {
      info.pooling.clear();
      for (const auto& m : modes) info.pooling += (info.pooling.empty() ? "" : "+") + m;
    }
    const size_t wed = static_cast<size_t>(std::max<int64_t>(0, folder.pooling.word_embedding_dimension));
    info.dimension = (wed ? wed : info.hidden_size) * std::max<size_t>(1, modes.size());
  } else {
    info.dimension = info.hidden_size;
  }
  if (dense_out) info.dimension = dense_out;

  const size_t max_pos = basics.max_input_length();
  info.max_length = folder.max_seq_length;
  auto tok_cfg = model::read_json_if_exists(transformer / "tokenizer_config.json");
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
  if (auto tj = model::read_json_if_exists(transformer / "tokenizer.json")) {
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
    for (const auto& f : model::weight_shards(mdir)) {
      info.weight_files.push_back(fs::relative(f, dir, ec).generic_string());
      if (f.extension() == ".safetensors") {
        auto s = model::read_safetensors_summary(f);
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
