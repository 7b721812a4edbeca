#include "tokenizer/sentencepiece_tokenizer.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "sbert/error.h"
#include "sbert/json_parse.h"
#include "tokenizer/pipeline.h"
#include "tokenizer/spm_library.h"

namespace sbert::tok {

namespace fs = std::filesystem;

namespace {

class SentencePieceTokenizer : public Tokenizer {
 public:
  enum class Layout { Fairseq, Vocab };

  SentencePieceTokenizer(const fs::path& model_file, Layout layout, std::vector<std::string> vocab,
                         const BertVocabOptions& names, bool lowercase)
      : layout_(layout), vocab_(std::move(vocab)), lowercase_(lowercase) {
    sp_.load(model_file.string());
    description_ = "sentencepiece (" + model_file.filename().string() + ", " +
                   (layout == Layout::Fairseq ? "fairseq ids" : "vocab ids") + ")";
    if (layout_ == Layout::Fairseq) {
      cls_ = {"<s>", 0};
      pad_ = {"<pad>", 1};
      sep_ = {"</s>", 2};
      unk_ = {"<unk>", 3};
      mask_ = {"<mask>", static_cast<int64_t>(sp_.piece_size()) + 1};
    } else {
      for (size_t i = 0; i < vocab_.size(); ++i) ids_.insert_or_assign(vocab_[i], static_cast<int64_t>(i));
      auto id_of = [&](const std::string& t) -> SpecialToken {
        auto it = ids_.find(t);
        if (it == ids_.end())
          throw Error(model_file.string() + ": special token '" + t + "' is not in the vocabulary");
        return {t, it->second};
      };
      unk_ = id_of(names.unk);
      cls_ = id_of(names.cls);
      sep_ = id_of(names.sep);
      pad_ = id_of(names.pad);
      mask_ = ids_.count(names.mask) ? id_of(names.mask) : SpecialToken{names.mask, -1};
    }
    // XLM-R's tokenizer splits special tokens out of the text; the KoBERT reference
    // (gluonnlp BERTSPTokenizer) does not: "[CLS]" in a text is ordinary characters there.
    for (const SpecialToken* t : {&cls_, &pad_, &sep_, &unk_, &mask_}) {
      if (t->id < 0 || layout_ != Layout::Fairseq) continue;
      AddedToken a;
      a.content = t->token;
      a.id = t->id;
      matcher_.add(a);
    }
  }

  Encoding encode_plain(std::string_view text) const override {
    CharSeq chars = decode_utf8(text);
    Encoding e;
    size_t pos = 0;
    auto push = [&](int64_t id, std::string tok, uint32_t b, uint32_t en) {
      e.ids.push_back(id);
      e.tokens.push_back(std::move(tok));
      e.offsets.emplace_back(b, en);
    };
    for (const auto& m : matcher_.find(chars)) {
      if (m.begin > pos) encode_segment(chars, pos, m.begin, push);
      push(m.token->id, m.token->content, chars[m.begin].begin, chars[m.end - 1].end);
      pos = m.end;
    }
    if (pos < chars.size()) encode_segment(chars, pos, chars.size(), push);
    e.type_ids.assign(e.ids.size(), 0);
    e.special_mask.assign(e.ids.size(), 0);
    e.sequence_ids.assign(e.ids.size(), 0);
    return e;
  }

  Encoding add_special_tokens(const Encoding& first, const Encoding* second) const override {
    Encoding out;
    auto special = [&](const SpecialToken& t, int64_t type) {
      out.ids.push_back(t.id);
      out.type_ids.push_back(type);
      out.tokens.push_back(t.token);
      out.offsets.emplace_back(0, 0);
      out.special_mask.push_back(1);
      out.sequence_ids.push_back(-1);
    };
    auto seq = [&](const Encoding& e, int64_t type, int8_t s) {
      for (size_t i = 0; i < e.ids.size(); ++i) {
        out.ids.push_back(e.ids[i]);
        out.type_ids.push_back(type);
        out.tokens.push_back(i < e.tokens.size() ? e.tokens[i] : std::string());
        out.offsets.push_back(i < e.offsets.size() ? e.offsets[i] : std::make_pair(size_t{0}, size_t{0}));
        out.special_mask.push_back(0);
        out.sequence_ids.push_back(s);
      }
    };
    special(cls_, 0);
    seq(first, 0, 0);
    special(sep_, 0);
    if (second) {
      const int64_t t = layout_ == Layout::Fairseq ? 0 : 1;
      if (layout_ == Layout::Fairseq) special(sep_, 0);
      seq(*second, t, 1);
      special(sep_, t);
    }
    return out;
  }

  size_t num_special_tokens(bool pair) const override {
    if (!pair) return 2;
    return layout_ == Layout::Fairseq ? 4 : 3;
  }
  int64_t pad_id() const override { return pad_.id; }
  size_t vocab_size() const override {
    return layout_ == Layout::Fairseq ? static_cast<size_t>(sp_.piece_size()) + 2 : vocab_.size();
  }
  std::optional<int64_t> token_to_id(std::string_view token) const override {
    for (const SpecialToken* t : {&cls_, &pad_, &sep_, &unk_, &mask_})
      if (t->token == token && t->id >= 0) return t->id;
    if (layout_ == Layout::Vocab) {
      auto it = ids_.find(std::string(token));
      if (it == ids_.end()) return std::nullopt;
      return it->second;
    }
    const int id = sp_.piece_to_id(token);
    if (id == sp_.unk_id() && token != sp_.id_to_piece(id)) return std::nullopt;
    return map_spm_id(id);
  }
  std::string id_to_token(int64_t id) const override {
    for (const SpecialToken* t : {&cls_, &pad_, &sep_, &unk_, &mask_})
      if (t->id == id) return t->token;
    if (layout_ == Layout::Vocab)
      return id >= 0 && static_cast<size_t>(id) < vocab_.size() ? vocab_[static_cast<size_t>(id)] : std::string();
    if (id - 1 >= 0 && id - 1 < sp_.piece_size()) return sp_.id_to_piece(static_cast<int>(id - 1));
    return {};
  }
  std::string describe() const override { return description_; }

 private:
  int64_t map_spm_id(int id) const {
    if (id == sp_.unk_id()) return unk_.id;
    return static_cast<int64_t>(id) + 1;
  }

  template <typename Push>
  void encode_segment(const CharSeq& chars, size_t from, size_t to, Push& push) const {
    // Re-encode the segment (invalid bytes are U+FFFD by now) with each byte's source span.
    std::string seg;
    std::vector<uint32_t> char_of_byte;
    std::u32string low;
    for (size_t i = from; i < to; ++i) {
      const size_t before = seg.size();
      if (lowercase_) {
        low.clear();
        lowercase_into(chars[i].cp, low);
        for (char32_t c : low) append_utf8(seg, c);
      } else {
        append_utf8(seg, chars[i].cp);
      }
      char_of_byte.insert(char_of_byte.end(), seg.size() - before, static_cast<uint32_t>(i));
    }
    for (const SpmPiece& p : sp_.encode(seg)) {
      uint32_t b = 0, e = 0;
      if (p.end > p.begin && p.end <= char_of_byte.size()) {
        b = chars[char_of_byte[p.begin]].begin;
        e = chars[char_of_byte[p.end - 1]].end;
      } else if (p.begin < char_of_byte.size()) {
        b = e = chars[char_of_byte[p.begin]].begin;
      } else if (to > from) {
        b = e = chars[to - 1].end;
      }
      int64_t id;
      if (layout_ == Layout::Fairseq) {
        id = map_spm_id(p.id);
      } else {
        auto it = ids_.find(p.piece);
        id = it == ids_.end() ? unk_.id : it->second;
      }
      push(id, p.piece, b, e);
    }
  }

  SpmProcessor sp_;
  Layout layout_;
  std::vector<std::string> vocab_;
  std::unordered_map<std::string, int64_t> ids_;
  bool lowercase_;
  std::string description_;
  SpecialToken cls_, pad_, sep_, unk_, mask_;
  AddedTokenMatcher matcher_;
};

// A gluonnlp vocab json (KoBERT): {"idx_to_token": [...], ...}.
std::optional<std::vector<std::string>> read_gluonnlp_vocab(const fs::path& p) {
  std::ifstream in(p);
  nlohmann::json j;
  try {
    j = parse_json(in, p.string());
  } catch (const nlohmann::json::exception& e) {
    throw Error(p.string() + ": malformed JSON (" + std::string(e.what()) + ")");
  }
  if (!j.is_object() || !j.contains("idx_to_token") || !j["idx_to_token"].is_array()) return std::nullopt;
  std::vector<std::string> out;
  for (const auto& t : j["idx_to_token"]) {
    if (!t.is_string()) throw Error(p.string() + ": idx_to_token holds a non-string entry");
    out.push_back(t.get<std::string>());
  }
  return out;
}

// A separate vocabulary beside the model (KoBERT): vocab.txt, else a gluonnlp vocab json.
std::vector<std::string> separate_vocab(const fs::path& dir) {
  if (fs::is_regular_file(dir / "vocab.txt")) return read_vocab_txt((dir / "vocab.txt").string());
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && entry.path().extension() == ".json" && name.find("vocab") != std::string::npos)
      if (auto v = read_gluonnlp_vocab(entry.path())) return std::move(*v);
  }
  return {};
}

}  // namespace

bool has_separate_spm_vocab(const fs::path& dir) { return !separate_vocab(dir).empty(); }

std::unique_ptr<Tokenizer> load_sentencepiece_tokenizer(const fs::path& model_file, const fs::path& dir,
                                                        bool force_lowercase) {
  // A separate vocabulary beside the model means KoBERT-style ids.
  std::vector<std::string> vocab = separate_vocab(dir);
  const auto layout = vocab.empty() ? SentencePieceTokenizer::Layout::Fairseq
                                    : SentencePieceTokenizer::Layout::Vocab;
  const BertVocabOptions names = read_bert_config(dir.string());
  return std::make_unique<SentencePieceTokenizer>(model_file, layout, std::move(vocab), names,
                                                  force_lowercase);
}

}  // namespace sbert::tok
