// Normalizers with the semantics of the Hugging Face `tokenizers` library. Each output
// character keeps the original byte span of the input character(s) it came from.
#include <utf8proc.h>

#include "sbert/error.h"
#include "tokenizer/pipeline.h"
#include "tokenizer/precompiled_charsmap.h"

namespace sbert::tok {

namespace {

void lowercase_seq(CharSeq& s, size_t max_chars) {
  // In place unless some character lower-cases to several (only U+0130 does).
  bool expands = false;
  std::u32string one;
  for (Char& c : s) {
    if (c.cp < 0x80) {
      if (c.cp >= 'A' && c.cp <= 'Z') c.cp += 32;
      continue;
    }
    if (c.cp == 0x130) {
      expands = true;
      break;
    }
    one.clear();
    lowercase_into(c.cp, one);
    c.cp = one[0];
  }
  if (!expands) return;
  CharSeq out;
  out.reserve(s.size());
  std::u32string buf;
  for (const Char& c : s) {
    buf.clear();
    lowercase_into(c.cp, buf);
    for (char32_t l : buf) out.push_back({l, c.begin, c.end});
  }
  check_normalized_length(out.size(), max_chars);
  s.swap(out);
}

class BertNormalizer : public Normalizer {
 public:
  explicit BertNormalizer(const BertNormalizerOptions& o) : o_(o) {}
  void normalize(CharSeq& s, size_t max_chars) const override {
    CharSeq out;
    out.reserve(s.size() + 8);
    for (const Char& c : s) {
      char32_t cp = c.cp;
      if (o_.clean_text) {
        if (cp == 0 || cp == 0xFFFD) continue;
        const bool ws = is_whitespace(cp);
        if (!ws && is_other(cp)) continue;
        if (ws) cp = U' ';
      }
      if (o_.handle_chinese_chars && is_cjk_ideograph(cp)) {
        check_normalized_length(out.size() + 3, max_chars);
        out.push_back({U' ', c.begin, c.end});
        out.push_back({cp, c.begin, c.end});
        out.push_back({U' ', c.begin, c.end});
        continue;
      }
      out.push_back({cp, c.begin, c.end});
    }
    bool non_ascii = false;
    for (const Char& c : out) non_ascii |= c.cp >= 0xC0;
    if (non_ascii && o_.strip_accents.value_or(o_.lowercase)) {
      CharSeq d = tok::normalize(out, NormForm::NFD);
      out.clear();
      for (const Char& c : d)
        if (!is_nonspacing_mark(c.cp)) out.push_back(c);
      check_normalized_length(out.size(), max_chars);
    }
    if (o_.lowercase) lowercase_seq(out, max_chars);
    s.swap(out);
  }

 private:
  BertNormalizerOptions o_;
};

class LowercaseNormalizer : public Normalizer {
 public:
  void normalize(CharSeq& s, size_t max_chars) const override { lowercase_seq(s, max_chars); }
};

class UnicodeNormalizer : public Normalizer {
 public:
  explicit UnicodeNormalizer(NormForm f) : form_(f) {}
  void normalize(CharSeq& s, size_t max_chars) const override {
    s = tok::normalize(s, form_);  // at most 18 code points per input code point (U+FDFA, NFKD)
    check_normalized_length(s.size(), max_chars);
  }

 private:
  NormForm form_;
};

class StripAccentsNormalizer : public Normalizer {
 public:
  void normalize(CharSeq& s, size_t) const override {
    CharSeq out;
    out.reserve(s.size());
    for (const Char& c : s) {
      if (c.cp >= 0x300) {
        auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(c.cp));
        if (cat == UTF8PROC_CATEGORY_MN || cat == UTF8PROC_CATEGORY_MC || cat == UTF8PROC_CATEGORY_ME)
          continue;
      }
      out.push_back(c);
    }
    s.swap(out);
  }
};

class StripNormalizer : public Normalizer {
 public:
  StripNormalizer(bool l, bool r) : left_(l), right_(r) {}
  void normalize(CharSeq& s, size_t) const override {
    size_t b = 0, e = s.size();
    if (left_)
      while (b < e && is_whitespace(s[b].cp)) ++b;
    if (right_)
      while (e > b && is_whitespace(s[e - 1].cp)) --e;
    s = CharSeq(s.begin() + b, s.begin() + e);
  }

 private:
  bool left_, right_;
};

class ReplaceNormalizer : public Normalizer {
 public:
  ReplaceNormalizer(const std::string& pattern, const std::string& content) {
    for (const Char& c : decode_utf8(pattern)) pattern_.push_back(c.cp);
    for (const Char& c : decode_utf8(content)) content_.push_back(c.cp);
  }
  void normalize(CharSeq& s, size_t max_chars) const override {
    if (pattern_.empty()) return;
    CharSeq out;
    out.reserve(s.size());
    size_t i = 0;
    while (i < s.size()) {
      bool match = i + pattern_.size() <= s.size();
      for (size_t k = 0; match && k < pattern_.size(); ++k) match = s[i + k].cp == pattern_[k];
      if (!match) {
        out.push_back(s[i++]);
        continue;
      }
      // out + the rest of s is what this step makes if nothing else matched; every match of one
      // Replace changes it by the same amount, so this is exact for growing replacements.
      const uint32_t b = s[i].begin, e = s[i + pattern_.size() - 1].end;
      check_normalized_length(out.size() + content_.size() + (s.size() - i - pattern_.size()), max_chars);
      for (char32_t c : content_) out.push_back({c, b, e});
      i += pattern_.size();
    }
    s.swap(out);
  }

 private:
  std::u32string pattern_, content_;
};

// Replace over the matches of a regex (or literal) pattern; an empty match inserts `content`.
class PatternReplaceNormalizer : public Normalizer {
 public:
  PatternReplaceNormalizer(TextPattern pattern, const std::string& content) : pattern_(std::move(pattern)) {
    for (const Char& c : decode_utf8(content)) content_.push_back(c.cp);
  }
  void normalize(CharSeq& s, size_t max_chars) const override {
    if (s.empty()) return;  // as the reference: an empty text has no match, not even an empty one
    std::u32string text;
    text.reserve(s.size());
    for (const Char& c : s) text.push_back(c.cp);
    const auto found = pattern_.matches(text);
    if (found.empty()) return;
    CharSeq out;
    out.reserve(s.size());
    size_t pos = 0;
    for (const auto& [b, e] : found) {
      out.insert(out.end(), s.begin() + pos, s.begin() + b);
      check_normalized_length(out.size() + content_.size() + (s.size() - e), max_chars);
      // The replacement spans what it replaces; an empty match, the point where it is.
      const uint32_t ob = b < s.size() ? s[b].begin : s.back().end;
      const uint32_t oe = e > b ? s[e - 1].end : ob;
      for (char32_t c : content_) out.push_back({c, ob, oe});
      pos = e;
    }
    out.insert(out.end(), s.begin() + pos, s.end());
    s.swap(out);
  }

 private:
  TextPattern pattern_;
  std::u32string content_;
};

class PrependNormalizer : public Normalizer {
 public:
  explicit PrependNormalizer(const std::string& p) {
    for (const Char& c : decode_utf8(p)) prefix_.push_back(c.cp);
  }
  void normalize(CharSeq& s, size_t max_chars) const override {
    if (s.empty()) return;
    check_normalized_length(s.size() + prefix_.size(), max_chars);
    CharSeq out;
    out.reserve(s.size() + prefix_.size());
    for (char32_t c : prefix_) out.push_back({c, s[0].begin, s[0].begin});
    out.insert(out.end(), s.begin(), s.end());
    s.swap(out);
  }

 private:
  std::u32string prefix_;
};

class SequenceNormalizer : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<NormalizerPtr> parts) : parts_(std::move(parts)) {}
  void normalize(CharSeq& s, size_t max_chars) const override {
    for (const auto& p : parts_) p->normalize(s, max_chars);  // each step bounded, not only the end
  }

 private:
  std::vector<NormalizerPtr> parts_;
};

// sentencepiece's normalization table, applied the way the Hugging Face Precompiled
// normalizer does: per extended grapheme cluster when it is shorter than 6 bytes, else per
// character; the shortest matching trie key decides the replacement.
class PrecompiledNormalizer : public Normalizer {
 public:
  explicit PrecompiledNormalizer(std::string blob) : map_(blob) {}
  void normalize(CharSeq& s, size_t max_chars) const override {
    if (map_.empty() || s.empty()) return;
    CharSeq out;
    out.reserve(s.size());
    std::string bytes;
    size_t i = 0;
    while (i < s.size()) {
      // One extended grapheme cluster: [i, j).
      size_t j = i + 1;
      utf8proc_int32_t state = 0;
      while (j < s.size() && !utf8proc_grapheme_break_stateful(static_cast<utf8proc_int32_t>(s[j - 1].cp),
                                                                static_cast<utf8proc_int32_t>(s[j].cp),
                                                                &state))
        ++j;
      bytes.clear();
      for (size_t k = i; k < j; ++k) append_utf8(bytes, s[k].cp);
      if (bytes.size() < 6) {
        if (auto rep = map_.transform(bytes)) {
          check_normalized_length(out.size() + rep->size(), max_chars);  // bytes >= code points
          emit(*rep, s[i].begin, s[j - 1].end, out);
          i = j;
          continue;
        }
      }
      for (size_t k = i; k < j; ++k) {
        bytes.clear();
        append_utf8(bytes, s[k].cp);
        if (auto rep = map_.transform(bytes)) {
          check_normalized_length(out.size() + rep->size(), max_chars);
          emit(*rep, s[k].begin, s[k].end, out);
        }
        else
          out.push_back(s[k]);
      }
      i = j;
    }
    check_normalized_length(out.size(), max_chars);
    s.swap(out);
  }

 private:
  static void emit(std::string_view rep, uint32_t b, uint32_t e, CharSeq& out) {
    for (const Char& c : decode_utf8(rep)) out.push_back({c.cp, b, e});
  }
  PrecompiledCharsmap map_;
};

}  // namespace

NormalizerPtr make_bert_normalizer(const BertNormalizerOptions& o) {
  return std::make_unique<BertNormalizer>(o);
}
NormalizerPtr make_lowercase_normalizer() { return std::make_unique<LowercaseNormalizer>(); }
NormalizerPtr make_unicode_normalizer(NormForm form) { return std::make_unique<UnicodeNormalizer>(form); }
NormalizerPtr make_strip_accents_normalizer() { return std::make_unique<StripAccentsNormalizer>(); }
NormalizerPtr make_strip_normalizer(bool left, bool right) {
  return std::make_unique<StripNormalizer>(left, right);
}
NormalizerPtr make_replace_normalizer(std::string pattern, std::string content) {
  return std::make_unique<ReplaceNormalizer>(pattern, content);
}
NormalizerPtr make_pattern_replace_normalizer(TextPattern pattern, std::string content) {
  return std::make_unique<PatternReplaceNormalizer>(std::move(pattern), content);
}
NormalizerPtr make_prepend_normalizer(std::string prefix) {
  return std::make_unique<PrependNormalizer>(prefix);
}
NormalizerPtr make_sequence_normalizer(std::vector<NormalizerPtr> parts) {
  return std::make_unique<SequenceNormalizer>(std::move(parts));
}
NormalizerPtr make_precompiled_normalizer(std::string blob) {
  return std::make_unique<PrecompiledNormalizer>(std::move(blob));
}

}  // namespace sbert::tok
