// The Split pre-tokenizer and the pattern matching it shares with the Replace normalizer, with
// the semantics of the Hugging Face `tokenizers` library (SplitDelimiterBehavior).
#include <algorithm>

#include "tokenizer/pipeline.h"

namespace sbert::tok {

std::vector<std::pair<size_t, size_t>> TextPattern::matches(const std::u32string& text) const {
  if (regex) return regex->find_all(text.data(), text.size());
  std::vector<std::pair<size_t, size_t>> out;
  if (literal.empty()) return out;
  for (size_t at = text.find(literal); at != std::u32string::npos; at = text.find(literal, at + literal.size()))
    out.emplace_back(at, at + literal.size());
  return out;
}

namespace {

struct Span {
  size_t b, e;
  bool match;
};

class SplitPreTokenizer : public PreTokenizer {
 public:
  SplitPreTokenizer(TextPattern pattern, SplitBehavior behavior, bool invert)
      : pattern_(std::move(pattern)), behavior_(behavior), invert_(invert) {}

  void split(std::vector<CharSeq>& pieces) const override {
    std::vector<CharSeq> out;
    out.reserve(pieces.size());
    std::u32string text;
    for (const CharSeq& p : pieces) {
      text.clear();
      for (const Char& c : p) text.push_back(c.cp);
      for (const Span& s : keep(intervals(text)))
        if (s.e > s.b) out.emplace_back(p.begin() + s.b, p.begin() + s.e);
    }
    pieces.swap(out);
  }

 private:
  // Matches and the text between them, covering all of `text`, flagged as matches.
  std::vector<Span> intervals(const std::u32string& text) const {
    std::vector<Span> all;
    size_t prev = 0;
    for (const auto& [b, e] : pattern_.matches(text)) {
      if (b > prev) all.push_back({prev, b, false});
      all.push_back({b, e, true});
      prev = e;
    }
    if (prev < text.size()) all.push_back({prev, text.size(), false});
    if (invert_)
      for (Span& s : all) s.match = !s.match;
    return all;
  }

  // The pieces to keep (their `match` flag no longer matters).
  std::vector<Span> keep(std::vector<Span> all) const {
    std::vector<Span> out;
    out.reserve(all.size());
    bool prev_match = false;
    switch (behavior_) {
      case SplitBehavior::Isolated:
        return all;
      case SplitBehavior::Removed:
        for (const Span& s : all)
          if (!s.match) out.push_back(s);
        return out;
      case SplitBehavior::Contiguous:
        // Runs of matches (and runs of non-matches) become one piece.
        for (const Span& s : all) {
          if (!out.empty() && s.match == prev_match)
            out.back().e = s.e;
          else
            out.push_back(s);
          prev_match = s.match;
        }
        return out;
      case SplitBehavior::MergedWithPrevious:
        // A match joins the piece before it, unless that piece is a match itself.
        for (const Span& s : all) {
          if (!out.empty() && s.match && !prev_match)
            out.back().e = s.e;
          else
            out.push_back(s);
          prev_match = s.match;
        }
        return out;
      case SplitBehavior::MergedWithNext:
        // A match joins the piece after it, unless that piece is a match itself.
        for (auto it = all.rbegin(); it != all.rend(); ++it) {
          if (!out.empty() && it->match && !prev_match)
            out.back().b = it->b;
          else
            out.push_back(*it);
          prev_match = it->match;
        }
        std::reverse(out.begin(), out.end());
        return out;
    }
    return all;
  }

  TextPattern pattern_;
  SplitBehavior behavior_;
  bool invert_;
};

}  // namespace

PreTokenizerPtr make_split_pre_tokenizer(TextPattern pattern, SplitBehavior behavior, bool invert) {
  return std::make_unique<SplitPreTokenizer>(std::move(pattern), behavior, invert);
}

}  // namespace sbert::tok
