// XLMRobertaTokenizer's conversion (transformers 5): Unigram over
//   <s> <pad> </s> <unk> | the .model's pieces from index 3 on, with their scores | <mask>
// (so sentencepiece id i >= 3 becomes i + 1, the fairseq layout), unk id 3, no byte fallback;
// the model's control / user-defined pieces as special / plain added tokens;
// normalizer Precompiled(the model's precompiled_charsmap) when it has one; pre-tokenizer
// WhitespaceSplit then Metaspace(U+2581, prepend always, split); post-processor
// <s> A </s> and <s> A </s></s> B </s> (type ids 0); the specials are added tokens matched
// in the raw text. The .model's own normalizer flags (add_dummy_prefix, remove_extra_whitespaces)
// are not applied, as in the reference: the pre-tokenizer splits on whitespace and prepends.
#include "tokenizer/spm_convert.h"

#include <fstream>
#include <nlohmann/json.hpp>

#include "sbert/error.h"
#include "sbert/model_folder.h"
#include "sbert/json_parse.h"
#include "tokenizer/spm_model_proto.h"

namespace sbert::tok {

namespace fs = std::filesystem;

namespace {


// "<s>" or {"content": "<s>", ...}; the fallback when absent or of another shape.
std::string token_name(const nlohmann::json& cfg, const nlohmann::json& map, const char* key,
                       const std::string& fallback) {
  for (const nlohmann::json* j : {&cfg, &map}) {
    auto it = j->find(key);
    if (it == j->end()) continue;
    if (it->is_string()) return it->get<std::string>();
    if (it->is_object() && it->contains("content") && (*it)["content"].is_string())
      return (*it)["content"].get<std::string>();
  }
  return fallback;
}

}  // namespace

std::string configured_tokenizer_class(const fs::path& dir) {
  const nlohmann::json cfg = model::read_json_object(dir / "tokenizer_config.json");
  auto it = cfg.find("tokenizer_class");
  if (it == cfg.end() || !it->is_string()) return "";
  std::string c = it->get<std::string>();
  if (c.size() > 4 && c.compare(c.size() - 4, 4, "Fast") == 0) c.resize(c.size() - 4);
  return c;
}

bool spm_class_is_convertible(const std::string& tokenizer_class) {
  return tokenizer_class.empty() || tokenizer_class == "XLMRobertaTokenizer";
}

std::unique_ptr<PipelineTokenizer> convert_spm_model(const fs::path& model_file, const fs::path& dir,
                                                     const std::string& tokenizer_class) {
  if (!spm_class_is_convertible(tokenizer_class))
    throw Error(model_file.string() + ": no conversion for tokenizer_class '" + tokenizer_class + "'");
  SpmModelProto proto = read_spm_model(model_file);
  if (proto.model_type != SpmModelProto::Unigram) return nullptr;
  if (proto.pieces.size() < 4)
    throw Error(model_file.string() + ": malformed sentencepiece model (" + std::to_string(proto.pieces.size()) +
                " pieces; an XLM-R model has <unk> <s> </s> and at least one more)");

  const nlohmann::json cfg = model::read_json_object(dir / "tokenizer_config.json");
  const nlohmann::json map = model::read_json_object(dir / "special_tokens_map.json");

  // The converter's vocabulary: fixed fairseq specials, then the pieces after sentencepiece's
  // own <unk> <s> </s>, then <mask>.
  std::vector<UnigramPiece> vocab;
  vocab.reserve(proto.pieces.size() + 2);
  for (const char* s : {"<s>", "<pad>", "</s>", "<unk>"}) vocab.push_back({s, 0.0});
  for (size_t i = 3; i < proto.pieces.size(); ++i)
    vocab.push_back({std::move(proto.pieces[i].piece), static_cast<double>(proto.pieces[i].score)});
  vocab.push_back({"<mask>", 0.0});

  // The class's special tokens, by the names the config gives; one that the vocabulary lacks is
  // added after it, as Hugging Face adds tokens.
  std::vector<AddedToken> added;
  int64_t next_id = static_cast<int64_t>(vocab.size());
  auto special = [&](const char* key, const char* fallback) -> SpecialToken {
    const std::string name = token_name(cfg, map, key, fallback);
    for (const AddedToken& t : added)
      if (t.content == name) return {name, t.id};
    int64_t id = -1;
    for (size_t i = 0; i < vocab.size() && id < 0; ++i)
      if (vocab[i].piece == name) id = static_cast<int64_t>(i);
    if (id < 0) id = next_id++;
    AddedToken t;
    t.content = name;
    t.id = id;
    t.special = true;
    t.normalized = false;
    added.push_back(t);
    return {name, id};
  };
  const SpecialToken bos = special("bos_token", "<s>");
  const SpecialToken pad = special("pad_token", "<pad>");
  const SpecialToken eos = special("eos_token", "</s>");
  special("unk_token", "<unk>");
  special("mask_token", "<mask>");
  special("cls_token", "<s>");
  special("sep_token", "</s>");

  // As the converter does: the model's control pieces become special added tokens and its
  // user-defined pieces plain ones, all matched in the raw text (ids are their vocabulary ids).
  for (size_t i = 3; i < proto.pieces.size(); ++i) {
    const int type = proto.pieces[i].type;
    if (type != SpmModelProto::Control && type != SpmModelProto::UserDefined) continue;
    const std::string& content = vocab[i + 1].piece;
    bool known = false;
    for (const AddedToken& t : added) known |= t.content == content;
    if (known) continue;
    AddedToken t;
    t.content = content;
    t.id = static_cast<int64_t>(i + 1);
    t.special = type == SpmModelProto::Control;
    t.normalized = false;
    added.push_back(t);
  }

  bool add_prefix_space = proto.add_dummy_prefix;
  if (cfg.contains("add_prefix_space") && cfg["add_prefix_space"].is_boolean())
    add_prefix_space = cfg["add_prefix_space"].get<bool>();

  NormalizerPtr normalizer;
  if (!proto.precompiled_charsmap.empty()) {
    try {
      normalizer = make_precompiled_normalizer(proto.precompiled_charsmap);
    } catch (const Error& e) {
      throw Error(model_file.string() + ": malformed sentencepiece model (precompiled_charsmap: " + e.what() + ")");
    }
  }
  std::vector<PreTokenizerPtr> pre;
  pre.push_back(make_whitespace_split_pre_tokenizer());
  pre.push_back(make_metaspace_pre_tokenizer(U'\u2581', add_prefix_space ? PrependScheme::Always : PrependScheme::Never,
                                             true));
  auto tp = [](const SpecialToken& t) { return TemplatePiece{false, 0, {t}, 0}; };
  const TemplatePiece a{true, 0, {}, 0}, b{true, 1, {}, 0};
  std::vector<TemplatePiece> single{tp(bos), a, tp(eos)};
  std::vector<TemplatePiece> pair{tp(bos), a, tp(eos), tp(eos), b, tp(eos)};

  const std::string desc = "sentencepiece converted (" + model_file.filename().string() + ", Unigram, " +
                           (tokenizer_class.empty() ? std::string("XLMRobertaTokenizer") : tokenizer_class) + ")";
  auto tok = std::make_unique<PipelineTokenizer>(
      desc, std::move(added), std::move(normalizer), make_sequence_pre_tokenizer(std::move(pre)),
      make_unigram_model(std::move(vocab), 3, false), make_template_processing(std::move(single), std::move(pair)));
  tok->set_pad_id(pad.id);
  return tok;
}

}  // namespace sbert::tok
