#include "nn/st_modules.h"

#include <fstream>

#include "nn/weight_store.h"
#include "sbert/json_parse.h"
#include "sbert/error.h"

namespace sbert::nn {
namespace fs = std::filesystem;

nlohmann::json read_json_file(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw Error(path.string() + ": cannot open");
  try {
    nlohmann::json j;
    j = parse_json(in);
    return j;
  } catch (const std::exception& e) {
    std::string what = e.what();
    throw Error(path.string() + ": invalid JSON: " + what.substr(0, what.find('\n')));
  }
}

bool ModelLayout::has_normalize() const {
  for (const auto& p : post)
    if (p.kind == PostModule::Normalize) return true;
  return false;
}

at::Tensor DenseModule::apply(const at::Tensor& x) const {
  at::Tensor y = at::linear(x, weight, bias_tensor);
  if (activation == "tanh") return at::tanh(y);
  if (activation == "relu") return at::relu(y);
  if (activation == "sigmoid") return at::sigmoid(y);
  if (activation == "gelu") return at::gelu(y);
  return y;
}

namespace {

PoolingConfig read_pooling(const fs::path& file) {
  nlohmann::json j = read_json_file(file);
  PoolingConfig p;
  auto flag = [&](const char* key) {
    if (!j.contains(key) || j[key].is_null()) return false;
    if (!j[key].is_boolean()) throw Error(file.string() + ": field '" + key + "' is not a boolean");
    return j[key].get<bool>();
  };
  if (j.contains("pooling_mode") && j["pooling_mode"].is_string()) {
    std::string m = j["pooling_mode"].get<std::string>();
    if (m == "mean_tokens") m = "mean";
    else if (m == "max_tokens") m = "max";
    else if (m == "cls_token") m = "cls";
    try {
      p.modes.push_back(parse_pooling_mode(m));
    } catch (const Error& e) {
      throw Error(file.string() + ": " + e.what());
    }
  } else {
    if (flag("pooling_mode_cls_token")) p.modes.push_back(PoolingMode::Cls);
    if (flag("pooling_mode_max_tokens")) p.modes.push_back(PoolingMode::Max);
    if (flag("pooling_mode_mean_tokens")) p.modes.push_back(PoolingMode::Mean);
    if (flag("pooling_mode_mean_sqrt_len_tokens")) p.modes.push_back(PoolingMode::MeanSqrtLen);
    if (flag("pooling_mode_weightedmean_tokens")) p.modes.push_back(PoolingMode::WeightedMean);
    if (flag("pooling_mode_lasttoken")) p.modes.push_back(PoolingMode::LastToken);
  }
  if (p.modes.empty()) throw Error(file.string() + ": no pooling mode enabled");
  if (j.contains("include_prompt") && j["include_prompt"].is_boolean())
    p.include_prompt = j["include_prompt"].get<bool>();
  if (j.contains("word_embedding_dimension") && j["word_embedding_dimension"].is_number_integer())
    p.word_embedding_dimension = j["word_embedding_dimension"].get<int64_t>();
  return p;
}

std::string dense_activation(const std::string& name, const fs::path& file) {
  if (name.empty() || name == "torch.nn.modules.linear.Identity") return "identity";
  if (name == "torch.nn.modules.activation.Tanh") return "tanh";
  if (name == "torch.nn.modules.activation.ReLU") return "relu";
  if (name == "torch.nn.modules.activation.Sigmoid") return "sigmoid";
  if (name == "torch.nn.modules.activation.GELU") return "gelu";
  throw Error(file.string() + ": unsupported activation_function '" + name + "'");
}

DenseModule read_dense(const fs::path& dir, at::Device device) {
  const fs::path cfg = dir / "config.json";
  nlohmann::json j = read_json_file(cfg);
  DenseModule d;
  d.dir = dir;
  if (!j.contains("in_features") || !j["in_features"].is_number_integer() ||
      !j.contains("out_features") || !j["out_features"].is_number_integer())
    throw Error(cfg.string() + ": fields 'in_features'/'out_features' missing");
  d.in_features = j["in_features"].get<int64_t>();
  d.out_features = j["out_features"].get<int64_t>();
  d.bias = j.value("bias", true);
  d.activation = dense_activation(j.value("activation_function", std::string()), cfg);
  auto store = open_model_weights(dir);
  const std::string where =
      store->contains("linear.weight") ? store->source("linear.weight") : dir.string();
  WeightLoader w(*store, "", at::TensorOptions().dtype(at::kFloat).device(device), where);
  d.weight = w.take("linear.weight", {d.out_features, d.in_features});
  if (d.bias) d.bias_tensor = w.take("linear.bias", {d.out_features});
  w.finish();
  // Own the data: the store (and its memory map) goes away with this function.
  d.weight = d.weight.clone();
  if (d.bias_tensor.defined()) d.bias_tensor = d.bias_tensor.clone();
  return d;
}

void read_sbert_config(const fs::path& file, ModelLayout& layout) {
  nlohmann::json j = read_json_file(file);
  if (j.contains("max_seq_length") && j["max_seq_length"].is_number_integer() &&
      j["max_seq_length"].get<int64_t>() > 0)
    layout.max_seq_length = j["max_seq_length"].get<size_t>();
  if (j.contains("do_lower_case") && j["do_lower_case"].is_boolean())
    layout.do_lower_case = j["do_lower_case"].get<bool>();
}

}  // namespace

ModelLayout read_model_layout(const fs::path& dir, at::Device device) {
  if (!fs::is_directory(dir)) throw Error(dir.string() + ": model folder not found");
  ModelLayout layout;
  layout.root = dir;
  layout.transformer_dir = dir;
  layout.pooling.modes = {PoolingMode::Mean};
  const fs::path modules = dir / "modules.json";
  if (fs::exists(modules)) {
    layout.sentence_transformers = true;
    nlohmann::json j = read_json_file(modules);
    if (!j.is_array()) throw Error(modules.string() + ": not a JSON array");
    bool have_pooling = false;
    for (const auto& m : j) {
      if (!m.is_object() || !m.contains("type") || !m["type"].is_string())
        throw Error(modules.string() + ": module entry without 'type'");
      const std::string type = m["type"].get<std::string>();
      const std::string path = m.value("path", std::string());
      const fs::path mdir = path.empty() ? dir : dir / path;
      auto is = [&](const char* suffix) {
        const std::string s = suffix;
        return type.size() >= s.size() && type.compare(type.size() - s.size(), s.size(), s) == 0;
      };
      if (is("models.Transformer")) {
        layout.transformer_dir = mdir;
      } else if (is("models.Pooling")) {
        layout.pooling = read_pooling(mdir / "config.json");
        have_pooling = true;
      } else if (is("models.Dense")) {
        layout.dense.push_back(read_dense(mdir, device));
        layout.post.push_back({PostModule::Dense, layout.dense.size() - 1});
      } else if (is("models.Normalize")) {
        layout.post.push_back({PostModule::Normalize, 0});
      } else {
        throw Error(modules.string() + ": unsupported module type '" + type + "'");
      }
    }
    if (!have_pooling) layout.pooling.modes = {PoolingMode::Cls};  // unusual; ST would fail
  }
  for (const fs::path& p : {layout.transformer_dir / "sentence_bert_config.json",
                            dir / "sentence_bert_config.json"}) {
    if (fs::exists(p)) {
      read_sbert_config(p, layout);
      break;
    }
  }
  const fs::path st_cfg = dir / "config_sentence_transformers.json";
  if (fs::exists(st_cfg)) {
    nlohmann::json j = read_json_file(st_cfg);
    if (j.contains("similarity_fn_name") && j["similarity_fn_name"].is_string()) {
      std::string s = j["similarity_fn_name"].get<std::string>();
      if (s == "cos_sim") s = "cosine";
      if (s == "dot_product") s = "dot";
      if (s != "cosine" && s != "dot" && s != "euclidean" && s != "manhattan")
        throw Error(st_cfg.string() + ": unknown similarity_fn_name '" + s + "'");
      layout.similarity_fn = s;
    }
    if (j.contains("prompts") && j["prompts"].is_object())
      for (auto it = j["prompts"].begin(); it != j["prompts"].end(); ++it)
        if (it.value().is_string()) layout.prompts[it.key()] = it.value().get<std::string>();
    if (j.contains("default_prompt_name") && j["default_prompt_name"].is_string())
      layout.default_prompt_name = j["default_prompt_name"].get<std::string>();
  }
  if (!fs::exists(layout.transformer_dir / "config.json"))
    throw Error((layout.transformer_dir / "config.json").string() +
                ": not found (not a transformer model folder)");
  return layout;
}

}  // namespace sbert::nn
