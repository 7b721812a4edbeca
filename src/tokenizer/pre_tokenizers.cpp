// Pre-tokenizers with the semantics of the Hugging Face `tokenizers` library.
#include <utf8proc.h>

#include "tokenizer/pipeline.h"

namespace sbert::tok {

namespace {

enum class Cut { Keep, Remove, Isolate };

// Splits every piece at characters for which `classify` says Remove (dropped) or Isolate
// (a piece of its own).
template <typename F>
void split_by(std::vector<CharSeq>& pieces, F classify) {
  std::vector<CharSeq> out;
  out.reserve(pieces.size() * 2);
  for (CharSeq& p : pieces) {
    CharSeq cur;
    for (const Char& c : p) {
      Cut k = classify(c.cp);
      if (k == Cut::Keep) {
        cur.push_back(c);
        continue;
      }
      if (!cur.empty()) out.push_back(std::move(cur)), cur.clear();
      if (k == Cut::Isolate) out.push_back(CharSeq{c});
    }
    if (!cur.empty()) out.push_back(std::move(cur));
  }
  pieces.swap(out);
}

bool is_word_char(char32_t c) {
  if (c < 0x80) return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  if (c == 0x200C || c == 0x200D) return true;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME: case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO: case UTF8PROC_CATEGORY_PC:
      return true;
    default:
      return false;
  }
}

class BertPreTokenizer : public PreTokenizer {
 public:
  void split(std::vector<CharSeq>& pieces) const override {
    split_by(pieces, [](char32_t c) {
      if (is_whitespace(c)) return Cut::Remove;
      if (is_punctuation(c)) return Cut::Isolate;
      return Cut::Keep;
    });
  }
};

class WhitespaceSplitPreTokenizer : public PreTokenizer {
 public:
  void split(std::vector<CharSeq>& pieces) const override {
    split_by(pieces, [](char32_t c) { return is_whitespace(c) ? Cut::Remove : Cut::Keep; });
  }
};

class PunctuationPreTokenizer : public PreTokenizer {
 public:
  void split(std::vector<CharSeq>& pieces) const override {
    split_by(pieces, [](char32_t c) { return is_punctuation(c) ? Cut::Isolate : Cut::Keep; });
  }
};

// \w+|[^\w\s]+ : runs of word characters and runs of other non-space characters.
class WhitespacePreTokenizer : public PreTokenizer {
 public:
  void split(std::vector<CharSeq>& pieces) const override {
    std::vector<CharSeq> out;
    for (const CharSeq& p : pieces) {
      CharSeq cur;
      int cur_kind = -1;
      for (const Char& c : p) {
        int kind = is_whitespace(c.cp) ? 0 : (is_word_char(c.cp) ? 1 : 2);
        if (kind != cur_kind && !cur.empty()) out.push_back(std::move(cur)), cur.clear();
        cur_kind = kind;
        if (kind != 0) cur.push_back(c);
      }
      if (!cur.empty()) out.push_back(std::move(cur));
    }
    pieces.swap(out);
  }
};

class DigitsPreTokenizer : public PreTokenizer {
 public:
  explicit DigitsPreTokenizer(bool individual) : individual_(individual) {}
  void split(std::vector<CharSeq>& pieces) const override {
    std::vector<CharSeq> out;
    for (const CharSeq& p : pieces) {
      CharSeq cur;
      int cur_digit = -1;
      for (const Char& c : p) {
        const int digit = utf8proc_category(static_cast<utf8proc_int32_t>(c.cp)) == UTF8PROC_CATEGORY_ND;
        if (!cur.empty() && (digit != cur_digit || (digit && individual_)))
          out.push_back(std::move(cur)), cur.clear();
        cur_digit = digit;
        cur.push_back(c);
      }
      if (!cur.empty()) out.push_back(std::move(cur));
    }
    pieces.swap(out);
  }

 private:
  bool individual_;
};

class MetaspacePreTokenizer : public PreTokenizer {
 public:
  MetaspacePreTokenizer(char32_t rep, PrependScheme scheme, bool split)
      : rep_(rep), scheme_(scheme), split_(split) {}
  void split(std::vector<CharSeq>& pieces) const override {
    std::vector<CharSeq> out;
    bool first = true;
    for (CharSeq& p : pieces) {
      const bool is_first = first;
      first = false;
      if (p.empty()) continue;
      for (Char& c : p)
        if (c.cp == U' ') c.cp = rep_;
      const bool prepend = p[0].cp != rep_ &&
                           (scheme_ == PrependScheme::Always ||
                            (scheme_ == PrependScheme::First && is_first && p[0].begin == 0));
      if (prepend) p.insert(p.begin(), Char{rep_, p[0].begin, p[0].begin});
      if (!split_) {
        out.push_back(std::move(p));
        continue;
      }
      // Each replacement character starts a new piece (merged with what follows it).
      CharSeq cur;
      for (const Char& c : p) {
        if (c.cp == rep_ && !cur.empty()) out.push_back(std::move(cur)), cur.clear();
        cur.push_back(c);
      }
      if (!cur.empty()) out.push_back(std::move(cur));
    }
    pieces.swap(out);
  }

 private:
  char32_t rep_;
  PrependScheme scheme_;
  bool split_;
};

class SequencePreTokenizer : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<PreTokenizerPtr> parts) : parts_(std::move(parts)) {}
  void split(std::vector<CharSeq>& pieces) const override {
    for (const auto& p : parts_) p->split(pieces);
  }

 private:
  std::vector<PreTokenizerPtr> parts_;
};

}  // namespace

PreTokenizerPtr make_bert_pre_tokenizer() { return std::make_unique<BertPreTokenizer>(); }
PreTokenizerPtr make_whitespace_pre_tokenizer() { return std::make_unique<WhitespacePreTokenizer>(); }
PreTokenizerPtr make_whitespace_split_pre_tokenizer() {
  return std::make_unique<WhitespaceSplitPreTokenizer>();
}
PreTokenizerPtr make_punctuation_pre_tokenizer() { return std::make_unique<PunctuationPreTokenizer>(); }
PreTokenizerPtr make_digits_pre_tokenizer(bool individual_digits) {
  return std::make_unique<DigitsPreTokenizer>(individual_digits);
}
PreTokenizerPtr make_metaspace_pre_tokenizer(char32_t replacement, PrependScheme scheme, bool split) {
  return std::make_unique<MetaspacePreTokenizer>(replacement, scheme, split);
}
PreTokenizerPtr make_sequence_pre_tokenizer(std::vector<PreTokenizerPtr> parts) {
  return std::make_unique<SequencePreTokenizer>(std::move(parts));
}

}  // namespace sbert::tok
