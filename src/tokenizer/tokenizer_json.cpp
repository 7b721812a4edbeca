// Hugging Face tokenizer.json ("fast tokenizer" file) -> PipelineTokenizer. Every component
// type is mapped explicitly; an unknown one is an error naming it, never a silent fallback.
#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "sbert/json_parse.h"
#include "sbert/error.h"
#include "tokenizer/pipeline.h"
#include "tokenizer/precompiled_charsmap.h"
#include "tokenizer/tokenizer_json_reader.h"

namespace sbert::tok {

using nlohmann::json;

namespace {

struct Ctx {
  std::string file;
  mutable size_t normalizers = 0, pre_tokenizers = 0;  // counted through nested Sequences
  [[noreturn]] void fail(const std::string& what) const { throw Error(file + ": " + what); }
  // Counts `n` more entries of a component list, refusing the file past kMaxTokenizerComponents.
  void count(size_t& total, size_t n, const char* what) const {
    total += n;
    if (n > kMaxTokenizerComponents || total > kMaxTokenizerComponents)
      fail(std::string(what) + ": more than " + std::to_string(kMaxTokenizerComponents) + " entries (" +
           std::to_string(total) + " so far); not a tokenizer sbert will run");
  }
};

std::string type_of(const Ctx& c, const json& j, const char* kind) {
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string())
    c.fail(std::string(kind) + " without a \"type\"");
  return j["type"].get<std::string>();
}

template <typename T>
T get_or(const json& j, const char* key, T fallback) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>)
    return json_integer<T>(*it, std::string("\"") + key + "\"");
  else
    return it->get<T>();
}

char32_t single_char(const Ctx& c, const std::string& s, const char* field) {
  CharSeq cs = decode_utf8(s);
  if (cs.size() != 1) c.fail(std::string(field) + " must be one character, got \"" + s + "\"");
  return cs[0].cp;
}

// {"String": "..."} or {"Regex": "..."}.
TextPattern parse_pattern(const Ctx& c, const json& p, const char* component) {
  TextPattern out;
  if (p.is_object() && p.size() == 1 && p.contains("String") && p["String"].is_string()) {
    for (const Char& ch : decode_utf8(p["String"].get<std::string>())) out.literal.push_back(ch.cp);
    return out;
  }
  if (p.is_object() && p.size() == 1 && p.contains("Regex") && p["Regex"].is_string()) {
    out.regex = std::make_shared<UnicodeRegex>(p["Regex"].get<std::string>(), c.file + ": " + component);
    return out;
  }
  c.fail(std::string(component) + ": \"pattern\" must be {\"String\": ...} or {\"Regex\": ...}, got " +
         p.dump().substr(0, 200));
}

NormalizerPtr parse_normalizer(const Ctx& c, const json& j) {
  if (j.is_null()) return nullptr;
  const std::string t = type_of(c, j, "normalizer");
  if (t == "BertNormalizer") {
    BertNormalizerOptions o;
    o.clean_text = get_or(j, "clean_text", true);
    o.handle_chinese_chars = get_or(j, "handle_chinese_chars", true);
    if (j.contains("strip_accents") && j["strip_accents"].is_boolean()) o.strip_accents = j["strip_accents"].get<bool>();
    o.lowercase = get_or(j, "lowercase", true);
    return make_bert_normalizer(o);
  }
  if (t == "Lowercase") return make_lowercase_normalizer();
  if (t == "NFC") return make_unicode_normalizer(NormForm::NFC);
  if (t == "NFD") return make_unicode_normalizer(NormForm::NFD);
  if (t == "NFKC") return make_unicode_normalizer(NormForm::NFKC);
  if (t == "NFKD") return make_unicode_normalizer(NormForm::NFKD);
  if (t == "StripAccents") return make_strip_accents_normalizer();
  if (t == "Strip") return make_strip_normalizer(get_or(j, "strip_left", true), get_or(j, "strip_right", true));
  if (t == "Prepend") return make_prepend_normalizer(get_or<std::string>(j, "prepend", ""));
  if (t == "Replace") {
    const json& p = j.value("pattern", json());
    const std::string content = get_or<std::string>(j, "content", "");
    if (p.is_object() && p.contains("String") && p["String"].is_string())
      return make_replace_normalizer(p["String"].get<std::string>(), content);
    return make_pattern_replace_normalizer(parse_pattern(c, p, "normalizer 'Replace'"), content);
  }
  if (t == "Precompiled") {
    const std::string b64 = get_or<std::string>(j, "precompiled_charsmap", "");
    try {
      return make_precompiled_normalizer(base64_decode(b64));
    } catch (const Error& e) {
      c.fail(std::string("normalizer 'Precompiled': ") + e.what());
    }
  }
  if (t == "Sequence") {
    std::vector<NormalizerPtr> parts;
    const json& list = j.value("normalizers", json::array());
    if (!list.is_array()) c.fail("normalizer 'Sequence': \"normalizers\" must be an array");
    c.count(c.normalizers, list.size(), "normalizer 'Sequence'");
    for (const json& p : list)
      if (auto n = parse_normalizer(c, p)) parts.push_back(std::move(n));
    return make_sequence_normalizer(std::move(parts));
  }
  c.fail("unsupported normalizer '" + t + "'");
}

PrependScheme parse_prepend(const Ctx& c, const json& j) {
  if (j.contains("prepend_scheme") && j["prepend_scheme"].is_string()) {
    const std::string s = j["prepend_scheme"];
    if (s == "always") return PrependScheme::Always;
    if (s == "first") return PrependScheme::First;
    if (s == "never") return PrependScheme::Never;
    c.fail("Metaspace: unknown prepend_scheme '" + s + "'");
  }
  return get_or(j, "add_prefix_space", true) ? PrependScheme::Always : PrependScheme::Never;
}

PreTokenizerPtr parse_pre_tokenizer(const Ctx& c, const json& j) {
  if (j.is_null()) return nullptr;
  const std::string t = type_of(c, j, "pre_tokenizer");
  if (t == "BertPreTokenizer") return make_bert_pre_tokenizer();
  if (t == "Whitespace") return make_whitespace_pre_tokenizer();
  if (t == "WhitespaceSplit") return make_whitespace_split_pre_tokenizer();
  if (t == "Punctuation") {
    if (get_or<std::string>(j, "behavior", "Isolated") != "Isolated")
      c.fail("unsupported pre_tokenizer 'Punctuation' behavior " + j["behavior"].dump());
    return make_punctuation_pre_tokenizer();
  }
  if (t == "Digits") return make_digits_pre_tokenizer(get_or(j, "individual_digits", false));
  if (t == "Metaspace") {
    const char32_t rep = single_char(c, get_or<std::string>(j, "replacement", "\xE2\x96\x81"), "Metaspace.replacement");
    return make_metaspace_pre_tokenizer(rep, parse_prepend(c, j), get_or(j, "split", true));
  }
  if (t == "Split") {
    static const std::pair<const char*, SplitBehavior> kBehaviors[] = {
        {"Removed", SplitBehavior::Removed},
        {"Isolated", SplitBehavior::Isolated},
        {"MergedWithPrevious", SplitBehavior::MergedWithPrevious},
        {"MergedWithNext", SplitBehavior::MergedWithNext},
        {"Contiguous", SplitBehavior::Contiguous}};
    const std::string b = get_or<std::string>(j, "behavior", "");
    const auto* hit = std::find_if(std::begin(kBehaviors), std::end(kBehaviors),
                                   [&](const auto& k) { return b == k.first; });
    if (hit == std::end(kBehaviors)) c.fail("pre_tokenizer 'Split': unknown behavior '" + b + "'");
    return make_split_pre_tokenizer(parse_pattern(c, j.value("pattern", json()), "pre_tokenizer 'Split'"),
                                    hit->second, get_or(j, "invert", false));
  }
  if (t == "ByteLevel")
    return make_byte_level_pre_tokenizer(get_or(j, "add_prefix_space", true), get_or(j, "use_regex", true));
  if (t == "Sequence") {
    std::vector<PreTokenizerPtr> parts;
    const json& list = j.value("pretokenizers", json::array());
    if (!list.is_array()) c.fail("pre_tokenizer 'Sequence': \"pretokenizers\" must be an array");
    c.count(c.pre_tokenizers, list.size(), "pre_tokenizer 'Sequence'");
    for (const json& p : list)
      if (auto n = parse_pre_tokenizer(c, p)) parts.push_back(std::move(n));
    return make_sequence_pre_tokenizer(std::move(parts));
  }
  c.fail("unsupported pre_tokenizer '" + t + "'");
}

// The vocab and merges come from `tables` when the reader streamed them there, else from `j`.
ModelPtr parse_bpe(const Ctx& c, const json& j, BpeTables& tables) {
  std::unordered_map<std::string, int64_t> vocab;
  if (tables.has_vocab) {
    vocab.reserve(tables.vocab.size());
    for (auto& [k, id] : tables.vocab) vocab.emplace(std::move(k), id);
    tables.vocab = {};
  } else {
    const json& v = j.value("vocab", json());
    if (!v.is_object()) c.fail("model 'BPE': \"vocab\" must be a non-empty object");
    vocab.reserve(v.size());
    for (auto it = v.begin(); it != v.end(); ++it) {
      if (!it.value().is_number_integer()) c.fail("model 'BPE': vocab id of '" + it.key() + "' is not an integer");
      vocab.emplace(it.key(), it.value().get<int64_t>());
    }
  }
  if (vocab.empty()) c.fail("model 'BPE': \"vocab\" must be a non-empty object");
  const json& m = tables.has_merges ? json::array() : j.value("merges", json::array());
  if (!m.is_array()) c.fail("model 'BPE': \"merges\" must be an array");
  std::vector<std::pair<std::string, std::string>> merges = std::move(tables.merges);
  merges.reserve(merges.size() + m.size());
  for (size_t i = 0; i < m.size(); ++i) {
    const json& e = m[i];
    if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string()) {
      merges.emplace_back(e[0].get<std::string>(), e[1].get<std::string>());
      continue;
    }
    // The older format: "a b", one space between the two tokens.
    const std::string s = e.is_string() ? e.get<std::string>() : std::string();
    const size_t sp = s.find(' ');
    if (sp == std::string::npos || sp == 0 || sp + 1 == s.size() || s.find(' ', sp + 1) != std::string::npos)
      c.fail("model 'BPE': merges[" + std::to_string(i) + "] is not [\"a\", \"b\"] or \"a b\": " +
             e.dump().substr(0, 200));
    merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
  }
  const json& dropout = j.value("dropout", json());
  if (!dropout.is_null() && (!dropout.is_number() || dropout.get<double>() != 0.0))
    c.fail("model 'BPE': dropout " + dropout.dump() + " is not supported (sbert tokenizes deterministically; "
           "set it to null)");
  BpeOptions o;
  if (j.contains("unk_token") && !j["unk_token"].is_null()) o.unk_token = j["unk_token"].get<std::string>();
  o.continuing_subword_prefix = get_or<std::string>(j, "continuing_subword_prefix", "");
  o.end_of_word_suffix = get_or<std::string>(j, "end_of_word_suffix", "");
  o.fuse_unk = get_or(j, "fuse_unk", false);
  o.byte_fallback = get_or(j, "byte_fallback", false);
  o.ignore_merges = get_or(j, "ignore_merges", false);
  return make_bpe_model(std::move(vocab), merges, o, c.file);
}

ModelPtr parse_model(const Ctx& c, const json& j, BpeTables& tables) {
  if (!j.is_object()) c.fail("missing \"model\"");
  // Old files omit the model type; WordPiece has "continuing_subword_prefix".
  std::string t = j.contains("type") ? type_of(c, j, "model") : "";
  if (t.empty() && j.contains("merges")) t = "BPE";
  if (t.empty() && j.contains("continuing_subword_prefix")) t = "WordPiece";
  if (t == "BPE") return parse_bpe(c, j, tables);
  if (t == "WordPiece") {
    std::vector<std::string> vocab;
    auto place = [&](std::string token, int64_t id) {
      if (id < 0) c.fail("model 'WordPiece': vocab id of '" + token + "' is not a non-negative integer");
      if (id > 50'000'000) c.fail("model 'WordPiece': vocab id " + std::to_string(id) + " out of range");
      if (static_cast<size_t>(id) >= vocab.size()) vocab.resize(static_cast<size_t>(id) + 1);
      vocab[static_cast<size_t>(id)] = std::move(token);
    };
    if (tables.has_vocab) {  // streamed by read_tokenizer_json
      if (tables.vocab.empty()) c.fail("model 'WordPiece': \"vocab\" must be a non-empty object");
      for (auto& [token, id] : tables.vocab) place(std::move(token), id);
      tables.vocab = {};
    } else {
      const json& v = j.value("vocab", json());
      if (!v.is_object() || v.empty()) c.fail("model 'WordPiece': \"vocab\" must be a non-empty object");
      for (auto it = v.begin(); it != v.end(); ++it) {
        if (!it.value().is_number_integer() || it.value().get<int64_t>() < 0)
          c.fail("model 'WordPiece': vocab id of '" + it.key() + "' is not a non-negative integer");
        place(it.key(), it.value().get<int64_t>());
      }
    }
    try {
      return make_wordpiece_model(std::move(vocab), get_or<std::string>(j, "unk_token", "[UNK]"),
                                  get_or<std::string>(j, "continuing_subword_prefix", "##"),
                                  get_or<size_t>(j, "max_input_chars_per_word", 100));
    } catch (const Error& e) {
      c.fail(e.what());
    }
  }
  if (t == "Unigram") {
    const json& v = j.value("vocab", json());
    if (!v.is_array() || v.empty()) c.fail("model 'Unigram': \"vocab\" must be a non-empty array");
    std::vector<UnigramPiece> pieces;
    pieces.reserve(v.size());
    for (size_t i = 0; i < v.size(); ++i) {
      const json& p = v[i];
      if (!p.is_array() || p.size() != 2 || !p[0].is_string() || !p[1].is_number())
        c.fail("model 'Unigram': vocab entry " + std::to_string(i) + " is not [piece, score]");
      pieces.push_back({p[0].get<std::string>(), p[1].get<double>()});
    }
    std::optional<int64_t> unk;
    if (j.contains("unk_id") && j["unk_id"].is_number_integer()) {
      unk = j["unk_id"].get<int64_t>();
      if (*unk < 0 || static_cast<size_t>(*unk) >= pieces.size())
        c.fail("model 'Unigram': unk_id " + std::to_string(*unk) + " out of range");
    }
    return make_unigram_model(std::move(pieces), unk, get_or(j, "byte_fallback", false));
  }
  c.fail("unsupported model '" + (t.empty() ? std::string("(no type)") : t) + "'");
}

SpecialToken special_pair(const Ctx& c, const json& j, const char* field) {
  if (!j.is_array() || j.size() != 2 || !j[0].is_string() || !j[1].is_number_integer())
    c.fail(std::string("post_processor: \"") + field + "\" must be [token, id]");
  return {j[0].get<std::string>(), j[1].get<int64_t>()};
}

// A TemplateProcessing type_id: an unsigned 32-bit integer, as in the reference.
int64_t type_id_of(const Ctx& c, const json& piece) {
  if (!piece.contains("type_id")) return 0;
  const json& t = piece["type_id"];
  if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() > 0xFFFFFFFFll)
    c.fail("TemplateProcessing: type_id " + t.dump() + " is not an unsigned 32-bit integer");
  return t.get<int64_t>();
}

std::vector<TemplatePiece> parse_template(const Ctx& c, const json& tpl, const json& specials,
                                          const char* field) {
  std::vector<TemplatePiece> out;
  if (!tpl.is_array()) c.fail(std::string("TemplateProcessing: \"") + field + "\" must be an array");
  if (tpl.size() > kMaxTokenizerComponents)
    c.fail(std::string("TemplateProcessing: \"") + field + "\" has " + std::to_string(tpl.size()) +
           " pieces, more than " + std::to_string(kMaxTokenizerComponents));
  for (const json& p : tpl) {
    if (p.contains("Sequence")) {
      const json& s = p["Sequence"];
      const std::string id = s.value("id", "A");
      out.push_back({true, id == "B" ? 1 : 0, {}, type_id_of(c, s)});
    } else if (p.contains("SpecialToken")) {
      const json& s = p["SpecialToken"];
      const std::string id = s.value("id", "");
      TemplatePiece piece{false, 0, {}, type_id_of(c, s)};
      const json& def = specials.is_object() ? specials.value(id, json()) : json();
      if (!def.is_object() || !def.contains("ids") || !def["ids"].is_array())
        c.fail("TemplateProcessing: special token '" + id + "' is not defined in special_tokens");
      if (def["ids"].size() > kMaxTokenizerComponents)
        c.fail("TemplateProcessing: special token '" + id + "' has " + std::to_string(def["ids"].size()) +
               " ids, more than " + std::to_string(kMaxTokenizerComponents));
      const json& toks = def.value("tokens", json::array());
      for (size_t k = 0; k < def["ids"].size(); ++k)
        piece.special.push_back({k < toks.size() ? toks[k].get<std::string>() : id, json_integer<int64_t>(def["ids"][k], c.file + ": TemplateProcessing: special token '" + id + "' id")});
      out.push_back(std::move(piece));
    } else {
      c.fail(std::string("TemplateProcessing: unknown piece in \"") + field + "\": " + p.dump());
    }
  }
  return out;
}

PostProcessorPtr parse_post_processor(const Ctx& c, const json& j) {
  if (j.is_null()) return nullptr;
  const std::string t = type_of(c, j, "post_processor");
  if (t == "TemplateProcessing") {
    const json specials = j.value("special_tokens", json::object());
    return make_template_processing(parse_template(c, j.value("single", json()), specials, "single"),
                                    parse_template(c, j.value("pair", json()), specials, "pair"));
  }
  if (t == "BertProcessing")
    return make_bert_processing(special_pair(c, j.value("cls", json()), "cls"),
                                special_pair(c, j.value("sep", json()), "sep"));
  if (t == "RobertaProcessing")
    return make_roberta_processing(special_pair(c, j.value("cls", json()), "cls"),
                                   special_pair(c, j.value("sep", json()), "sep"));
  if (t == "ByteLevel")
    return make_byte_level_processing(get_or(j, "trim_offsets", true), get_or(j, "add_prefix_space", true));
  if (t == "Sequence") {
    const json& list = j.value("processors", json());
    if (!list.is_array()) c.fail("post_processor 'Sequence': \"processors\" must be an array");
    if (list.size() > kMaxTokenizerComponents)
      c.fail("post_processor 'Sequence': more than " + std::to_string(kMaxTokenizerComponents) + " processors");
    std::vector<PostProcessorPtr> parts;
    for (const json& p : list)
      if (auto n = parse_post_processor(c, p)) parts.push_back(std::move(n));
    try {
      return make_sequence_processing(std::move(parts));
    } catch (const Error& e) {
      c.fail(e.what());
    }
  }
  c.fail("unsupported post_processor '" + t + "'");
}

}  // namespace

std::unique_ptr<PipelineTokenizer> load_tokenizer_json(const std::string& path) {
  Ctx c{path};
  std::ifstream in(path, std::ios::binary);
  if (!in) c.fail("cannot open file");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  json j;
  BpeTables tables;
  try {
    j = read_tokenizer_json(text, path, tables);
  } catch (const json::exception& e) {
    c.fail(std::string("malformed JSON: ") + e.what());
  }
  if (!j.is_object()) c.fail("not a JSON object");
  try {
    std::vector<AddedToken> added;
    for (const json& a : j.value("added_tokens", json::array())) {
      if (!a.is_object() || !a.contains("id") || !a.contains("content"))
        c.fail("added_tokens entry without id/content");
      AddedToken t;
      t.id = json_integer<int64_t>(a["id"], c.file + ": added_tokens: \"id\"");
      t.content = a["content"].get<std::string>();
      t.special = get_or(a, "special", false);
      t.normalized = get_or(a, "normalized", !t.special);
      t.lstrip = get_or(a, "lstrip", false);
      t.rstrip = get_or(a, "rstrip", false);
      t.single_word = get_or(a, "single_word", false);
      added.push_back(t);
    }
    auto normalizer = parse_normalizer(c, j.value("normalizer", json()));
    auto pre = parse_pre_tokenizer(c, j.value("pre_tokenizer", json()));
    auto model = parse_model(c, j.value("model", json()), tables);
    auto post = parse_post_processor(c, j.value("post_processor", json()));
    const std::string desc = "tokenizer.json (" + model->name() + ")";
    auto tok = std::make_unique<PipelineTokenizer>(desc, std::move(added), std::move(normalizer),
                                                   std::move(pre), std::move(model), std::move(post));
    // Padding id: the file's padding section, else a conventional pad token.
    const json& pad = j.value("padding", json());
    if (pad.is_object() && pad.contains("pad_id") && pad["pad_id"].is_number_integer()) {
      tok->set_pad_id(pad["pad_id"].get<int64_t>());
    } else {
      for (const char* p : {"[PAD]", "<pad>", "<PAD>"})
        if (auto id = tok->token_to_id(p)) {
          tok->set_pad_id(*id);
          break;
        }
    }
    return tok;
  } catch (const json::exception& e) {
    c.fail(std::string("unexpected value: ") + e.what());
  }
}

}  // namespace sbert::tok
