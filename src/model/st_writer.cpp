// Writers for the sentence-transformers layout files (modules.json, 1_Pooling/config.json,
// N_Dense/config.json, sentence_bert_config.json, config_sentence_transformers.json).
#include <algorithm>

#include "sbert/error.h"
#include "sbert/model_folder.h"
#include "sbert/output_file.h"

namespace sbert::model {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const char* torch_activation(const std::string& a) {
  if (a.empty() || a == "identity") return "torch.nn.modules.linear.Identity";
  if (a == "tanh") return "torch.nn.modules.activation.Tanh";
  if (a == "relu") return "torch.nn.modules.activation.ReLU";
  if (a == "sigmoid") return "torch.nn.modules.activation.Sigmoid";
  if (a == "gelu") return "torch.nn.modules.activation.GELU";
  throw Error("dense activation '" + a + "' unknown (identity, tanh, relu, sigmoid, gelu)");
}

struct Planned {
  std::string type, path;
};

// Module folders as sentence-transformers names them: <index>_<Type>.
std::vector<Planned> plan(const StLayout& l) {
  std::vector<Planned> out;
  out.push_back({"sentence_transformers.models.Transformer", l.transformer_path});
  out.push_back({"sentence_transformers.models.Pooling", "1_Pooling"});
  for (size_t i = 0; i < l.dense.size(); ++i)
    out.push_back({"sentence_transformers.models.Dense", std::to_string(out.size()) + "_Dense"});
  if (l.normalize)
    out.push_back({"sentence_transformers.models.Normalize", std::to_string(out.size()) + "_Normalize"});
  return out;
}

}  // namespace

void write_json_atomic(const fs::path& path, const json& j) {
  AtomicOutput out(path.string());
  out.write(j.dump(2) + "\n");
  out.commit();
}

json modules_json(const StLayout& layout) {
  json modules = json::array();
  const auto planned = plan(layout);
  for (size_t i = 0; i < planned.size(); ++i)
    modules.push_back({{"idx", i}, {"name", std::to_string(i)}, {"path", planned[i].path},
                       {"type", planned[i].type}});
  return modules;
}

json pooling_config_json(const PoolingSpec& p) {
  static const char* kKnown[] = {"cls", "max", "mean", "mean_sqrt_len", "weightedmean", "lasttoken"};
  for (const auto& m : p.modes) {
    bool ok = false;
    for (const char* k : kKnown) ok = ok || m == k;
    if (!ok)
      throw Error("unknown pooling mode '" + m +
                  "' (cls, mean, max, mean_sqrt_len, weightedmean, lasttoken)");
  }
  if (p.modes.empty()) throw Error("pooling config: no pooling mode");
  if (p.word_embedding_dimension <= 0) throw Error("pooling config: word_embedding_dimension not set");
  auto on = [&](const char* m) { return std::find(p.modes.begin(), p.modes.end(), m) != p.modes.end(); };
  return {{"word_embedding_dimension", p.word_embedding_dimension},
          {"pooling_mode_cls_token", on("cls")},
          {"pooling_mode_mean_tokens", on("mean")},
          {"pooling_mode_max_tokens", on("max")},
          {"pooling_mode_mean_sqrt_len_tokens", on("mean_sqrt_len")},
          {"pooling_mode_weightedmean_tokens", on("weightedmean")},
          {"pooling_mode_lasttoken", on("lasttoken")},
          {"include_prompt", p.include_prompt}};
}

json dense_config_json(const DenseSpec& d) {
  if (d.in_features <= 0 || d.out_features <= 0)
    throw Error("dense config: in_features/out_features must be positive");
  return {{"in_features", d.in_features},
          {"out_features", d.out_features},
          {"bias", d.bias},
          {"activation_function", torch_activation(d.activation)}};
}

json sentence_bert_config_json(const StLayout& l) {
  json j = json::object();
  if (l.max_seq_length > 0) j["max_seq_length"] = l.max_seq_length;
  j["do_lower_case"] = l.do_lower_case;
  return j;
}

json config_sentence_transformers_json(const StLayout& l) {
  const std::string& s = l.similarity_fn;
  if (s != "cosine" && s != "dot" && s != "euclidean" && s != "manhattan")
    throw Error("similarity function '" + s + "' unknown (cosine, dot, euclidean, manhattan)");
  json prompts = json::object();
  for (const auto& [k, v] : l.prompts) prompts[k] = v;
  if (!l.default_prompt_name.empty() && !l.prompts.count(l.default_prompt_name))
    throw Error("default prompt '" + l.default_prompt_name + "' is not one of the prompts");
  json j = {{"prompts", prompts}, {"similarity_fn_name", s}};
  j["default_prompt_name"] = l.default_prompt_name.empty() ? json(nullptr) : json(l.default_prompt_name);
  return j;
}

void write_st_layout(const fs::path& dir, const StLayout& layout) {
  // Everything is built (and checked) before the first file is written.
  const json modules = modules_json(layout);
  const json pooling = pooling_config_json(layout.pooling);
  std::vector<json> dense;
  for (const auto& d : layout.dense) dense.push_back(dense_config_json(d));
  const json sbert_cfg = sentence_bert_config_json(layout);
  const json st_cfg = config_sentence_transformers_json(layout);
  const auto planned = plan(layout);

  fs::create_directories(dir);
  for (const auto& p : planned)
    if (!p.path.empty()) fs::create_directories(dir / p.path);
  write_json_atomic(dir / "1_Pooling" / "config.json", pooling);
  for (size_t i = 0; i < dense.size(); ++i) write_json_atomic(dir / planned[2 + i].path / "config.json", dense[i]);
  const fs::path tdir = layout.transformer_path.empty() ? dir : dir / layout.transformer_path;
  write_json_atomic(tdir / "sentence_bert_config.json", sbert_cfg);
  write_json_atomic(dir / "config_sentence_transformers.json", st_cfg);
  write_json_atomic(dir / "modules.json", modules);  // last: the folder reads as ST once it exists
}

}  // namespace sbert::model
