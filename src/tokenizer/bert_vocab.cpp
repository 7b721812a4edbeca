// BERT WordPiece from vocab.txt + tokenizer_config.json / special_tokens_map.json, built the
// way Hugging Face converts a BertTokenizer into a fast tokenizer.
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "sbert/json_parse.h"
#include "sbert/error.h"
#include "sbert/model_folder.h"
#include "tokenizer/pipeline.h"

namespace sbert::tok {

namespace fs = std::filesystem;

std::vector<std::string> read_vocab_txt(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open vocabulary file");
  std::vector<std::string> vocab;
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
      line.pop_back();
    vocab.push_back(line);
  }
  if (vocab.empty()) throw Error(path + ": empty vocabulary");
  return vocab;
}

namespace {


// A special token entry is either "[CLS]" or {"content": "[CLS]", ...}.
void read_token(const nlohmann::json& j, const char* key, std::string& out) {
  auto it = j.find(key);
  if (it == j.end()) return;
  if (it->is_string()) out = it->get<std::string>();
  else if (it->is_object() && it->contains("content") && (*it)["content"].is_string())
    out = (*it)["content"].get<std::string>();
}

}  // namespace

BertVocabOptions read_bert_config(const std::string& dir) {
  BertVocabOptions o;
  const nlohmann::json cfg = model::read_json_object(fs::path(dir) / "tokenizer_config.json");
  const nlohmann::json map = model::read_json_object(fs::path(dir) / "special_tokens_map.json");
  if (cfg.contains("do_lower_case") && cfg["do_lower_case"].is_boolean()) o.lowercase = cfg["do_lower_case"];
  if (cfg.contains("strip_accents") && cfg["strip_accents"].is_boolean()) o.strip_accents = cfg["strip_accents"].get<bool>();
  if (cfg.contains("tokenize_chinese_chars") && cfg["tokenize_chinese_chars"].is_boolean())
    o.tokenize_chinese_chars = cfg["tokenize_chinese_chars"];
  if (cfg.contains("never_split") && cfg["never_split"].is_array())
    for (const auto& t : cfg["never_split"])
      if (t.is_string()) o.never_split.push_back(t);
  for (const nlohmann::json* j : {&cfg, &map}) {
    read_token(*j, "unk_token", o.unk);
    read_token(*j, "sep_token", o.sep);
    read_token(*j, "pad_token", o.pad);
    read_token(*j, "cls_token", o.cls);
    read_token(*j, "mask_token", o.mask);
  }
  return o;
}

std::unique_ptr<PipelineTokenizer> make_bert_wordpiece_tokenizer(const std::string& vocab_path,
                                                                 const BertVocabOptions& o) {
  std::vector<std::string> vocab = read_vocab_txt(vocab_path);
  std::unordered_map<std::string, int64_t> ids;
  for (size_t i = 0; i < vocab.size(); ++i) ids[vocab[i]] = static_cast<int64_t>(i);
  int64_t next_id = static_cast<int64_t>(vocab.size());
  std::vector<AddedToken> added;
  auto add = [&](const std::string& tok, bool special) -> int64_t {
    for (const AddedToken& t : added)
      if (t.content == tok) return t.id;
    auto it = ids.find(tok);
    const int64_t id = it != ids.end() ? it->second : next_id++;
    AddedToken t;
    t.content = tok;
    t.id = id;
    t.special = special;
    added.push_back(t);
    return id;
  };
  const int64_t pad_id = add(o.pad, true);
  if (!ids.count(o.unk))
    throw Error(vocab_path + ": unknown token '" + o.unk + "' is not in the vocabulary");
  add(o.unk, true);
  const int64_t cls_id = add(o.cls, true);
  const int64_t sep_id = add(o.sep, true);
  add(o.mask, true);
  for (const std::string& t : o.never_split)
    if (ids.count(t)) add(t, false);

  BertNormalizerOptions n;
  n.clean_text = true;
  n.handle_chinese_chars = o.tokenize_chinese_chars;
  n.strip_accents = o.strip_accents;
  n.lowercase = o.lowercase;
  std::string desc = std::string("wordpiece (vocab.txt, ") + (o.lowercase ? "uncased" : "cased") + ")";
  auto tok = std::make_unique<PipelineTokenizer>(
      desc, std::move(added), make_bert_normalizer(n), make_bert_pre_tokenizer(),
      make_wordpiece_model(std::move(vocab), o.unk, "##", 100),
      make_bert_processing({o.cls, cls_id}, {o.sep, sep_id}));
  tok->set_pad_id(pad_id);
  return tok;
}

}  // namespace sbert::tok
