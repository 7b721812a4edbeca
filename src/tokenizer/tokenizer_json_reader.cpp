#include "tokenizer/tokenizer_json_reader.h"

#include "sbert/json_parse.h"

namespace sbert::tok {

namespace {

using nlohmann::json;

// A SAX handler that builds the value as nlohmann's DOM parser does, diverting root.model.vocab
// and root.model.merges (when the model's "type", written before them, is "BPE"; the vocab of a
// "WordPiece" one too) into tables.
// Returning false stops the parse; the caller then falls back to the plain parser.
class Reader {
 public:
  Reader(json& root, BpeTables& t) : dom_(root, false), t_(t) {}

  bool null() { return !capturing() && dom_.null(); }
  bool boolean(bool v) { return !capturing() && dom_.boolean(v); }
  bool number_integer(json::number_integer_t v) { return capturing() ? id(v) : dom_.number_integer(v); }
  bool number_unsigned(json::number_unsigned_t v) {
    if (!capturing()) return dom_.number_unsigned(v);
    return v <= static_cast<json::number_unsigned_t>(INT64_MAX) && id(static_cast<int64_t>(v));
  }
  bool number_float(json::number_float_t v, const std::string& s) { return !capturing() && dom_.number_float(v, s); }
  bool binary(json::binary_t& v) { return !capturing() && dom_.binary(v); }
  bool string(std::string& v) {
    if (mode_ == Mode::None) {
      if (depth_ == 2 && in_model_ && key_ == "type") bpe_ = v == "BPE", wordpiece_ = v == "WordPiece";
      return dom_.string(v);
    }
    if (mode_ == Mode::Merges && depth_ == 3) {  // "a b"
      const size_t sp = v.find(' ');
      if (sp == std::string::npos || sp == 0 || sp + 1 == v.size() || v.find(' ', sp + 1) != std::string::npos)
        return false;
      t_.merges.emplace_back(v.substr(0, sp), v.substr(sp + 1));
      return true;
    }
    if (mode_ == Mode::Merges && depth_ == 4 && pair_n_ < 2) {  // ["a", "b"]
      (pair_n_++ == 0 ? pair_.first : pair_.second) = std::move(v);
      return true;
    }
    return false;
  }
  bool key(std::string& k) {
    if (mode_ == Mode::Vocab) {
      key_ = std::move(k);
      return true;
    }
    if (capturing()) return false;
    if (depth_ == 2 && in_model_ && ((bpe_ && (k == "vocab" || k == "merges")) || (wordpiece_ && k == "vocab"))) {
      pending_ = k == "vocab" ? Mode::Vocab : Mode::Merges;
      return true;  // not given to the DOM: the value goes to the tables
    }
    key_ = k;
    return dom_.key(k);
  }
  bool start_object(std::size_t n) {
    if (++depth_ > kMaxJsonDepth) return false;
    if (pending_ == Mode::Vocab) return begin(Mode::Vocab, t_.has_vocab);
    if (pending_ != Mode::None || capturing()) return false;
    if (depth_ == 2) in_model_ = key_ == "model";
    return dom_.start_object(n);
  }
  bool end_object() {
    --depth_;
    if (mode_ == Mode::Vocab) return end();
    if (depth_ == 1) in_model_ = false;
    return dom_.end_object();
  }
  bool start_array(std::size_t n) {
    if (++depth_ > kMaxJsonDepth) return false;
    if (pending_ == Mode::Merges) return begin(Mode::Merges, t_.has_merges);
    if (mode_ == Mode::Merges && depth_ == 4) {
      pair_n_ = 0;
      return true;
    }
    if (pending_ != Mode::None || capturing()) return false;
    return dom_.start_array(n);
  }
  bool end_array() {
    --depth_;
    if (mode_ == Mode::Merges && depth_ == 3) {
      if (pair_n_ != 2) return false;
      t_.merges.push_back(std::move(pair_));
      pair_ = {};
      return true;
    }
    if (mode_ == Mode::Merges) return end();
    return dom_.end_array();
  }
  template <class E>
  bool parse_error(std::size_t, const std::string&, const E&) {
    return false;
  }

 private:
  enum class Mode { None, Vocab, Merges };
  bool capturing() const { return mode_ != Mode::None; }
  bool begin(Mode m, bool& seen) {
    if (seen) return false;  // a second "vocab": let the plain parser decide
    seen = true;
    mode_ = m;
    pending_ = Mode::None;
    return true;
  }
  bool end() {
    mode_ = Mode::None;
    return true;
  }
  bool id(int64_t v) {
    if (mode_ != Mode::Vocab || depth_ != 3) return false;
    t_.vocab.emplace_back(std::move(key_), v);
    return true;
  }

  nlohmann::detail::json_sax_dom_parser<json> dom_;
  BpeTables& t_;
  int depth_ = 0;
  bool in_model_ = false, bpe_ = false, wordpiece_ = false;
  std::string key_;
  Mode mode_ = Mode::None, pending_ = Mode::None;
  std::pair<std::string, std::string> pair_;
  int pair_n_ = 0;
};

}  // namespace

json read_tokenizer_json(const std::string& text, const std::string& where, BpeTables& tables) {
  json root;
  Reader reader(root, tables);
  bool ok = false;
  try {
    ok = json::sax_parse(text, &reader, json::input_format_t::json, true);
  } catch (const json::exception&) {
    ok = false;
  }
  if (ok && !root.is_discarded()) return root;
  tables = BpeTables{};
  return parse_json(text, where);
}

}  // namespace sbert::tok
