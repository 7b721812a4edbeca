#include "sbert/words.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "sbert/error.h"
#include "sbert/similarity.h"

namespace sbert {
namespace {

const std::string kSpmSpace = "\xE2\x96\x81";  // U+2581, SentencePiece word start
const std::string kBpeSpace = "\xC4\xA0";      // U+0120, byte-level BPE word start

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

}  // namespace

std::vector<Word> group_words(const std::string& text, const Encoding& enc) {
  const size_t n = enc.size();
  if (enc.tokens.size() != n || enc.offsets.size() != n)
    throw Error("group_words: the encoding has no tokens/offsets for every id");
  auto special = [&](size_t t) { return t < enc.special_mask.size() && enc.special_mask[t]; };
  bool marker_scheme = false;  // SentencePiece / byte-level BPE: markers start words
  for (size_t t = 0; t < n; ++t)
    if (!special(t) && (starts_with(enc.tokens[t], kSpmSpace) || starts_with(enc.tokens[t], kBpeSpace)))
      marker_scheme = true;

  // Code point index of every byte offset (continuation bytes do not start a character).
  std::vector<size_t> char_at(text.size() + 1, 0);
  for (size_t i = 0, c = 0; i <= text.size(); ++i) {
    char_at[i] = c;
    if (i < text.size() && (static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) ++c;
  }

  std::vector<Word> words;
  bool open = false;
  bool prev_empty_marker = false;  // previous token was a bare word-start marker
  for (size_t t = 0; t < n; ++t) {
    if (special(t)) {
      open = false;  // a special token (e.g. [SEP] between segments) ends the word
      continue;
    }
    const std::string& tok = enc.tokens[t];
    auto [b, e] = enc.offsets[t];
    b = std::min(b, text.size());
    e = std::min(std::max(e, b), text.size());
    bool starts;
    if (!open) starts = true;
    else if (starts_with(tok, "##")) starts = false;
    else if (prev_empty_marker) starts = false;
    else if (marker_scheme)
      starts = starts_with(tok, kSpmSpace) || starts_with(tok, kBpeSpace);
    else starts = true;
    // Whitespace between a word's text so far and the next piece always separates words.
    if (open && !starts && e > b && words.back().byte_begin != std::string::npos &&
        b > words.back().byte_end) {
      bool gap = false;
      for (size_t i = words.back().byte_end; i < b; ++i) gap = gap || is_space(text[i]);
      starts = gap;
    }
    if (starts) {
      words.push_back(Word{});
      words.back().token_begin = t;
      words.back().byte_begin = std::string::npos;
      open = true;
    }
    Word& w = words.back();
    w.token_end = t + 1;
    if (e > b) {
      w.byte_begin = std::min(w.byte_begin, b);
      w.byte_end = std::max(w.byte_end, e);
    }
    // A bare marker ("\u2581" alone, whatever its offsets) introduces the pieces after it.
    prev_empty_marker = tok == kSpmSpace || tok == kBpeSpace;
  }

  std::vector<Word> out;
  for (Word& w : words) {
    if (w.byte_begin == std::string::npos) continue;  // only empty pieces: no surface text
    while (w.byte_begin < w.byte_end && is_space(text[w.byte_begin])) ++w.byte_begin;
    while (w.byte_end > w.byte_begin && is_space(text[w.byte_end - 1])) --w.byte_end;
    if (w.byte_end == w.byte_begin) continue;
    w.text = text.substr(w.byte_begin, w.byte_end - w.byte_begin);
    w.char_begin = char_at[w.byte_begin];
    w.char_end = char_at[w.byte_end];
    out.push_back(std::move(w));
  }
  return out;
}

Matrix word_vectors(const std::vector<Word>& words, const Matrix& token_vectors) {
  Matrix out(words.size(), token_vectors.cols);
  for (size_t w = 0; w < words.size(); ++w) {
    const Word& word = words[w];
    if (word.token_end > token_vectors.rows || word.token_begin >= word.token_end)
      throw Error("word_vectors: word '" + word.text + "' has tokens outside the vectors");
    std::vector<double> sum(token_vectors.cols, 0.0);
    for (size_t t = word.token_begin; t < word.token_end; ++t)
      for (size_t d = 0; d < token_vectors.cols; ++d) sum[d] += token_vectors.at(t, d);
    const double count = static_cast<double>(word.token_end - word.token_begin);
    for (size_t d = 0; d < token_vectors.cols; ++d) out.at(w, d) = static_cast<float>(sum[d] / count);
  }
  return out;
}

std::string word_key(const std::string& word) {
  size_t b = 0, e = word.size();
  auto punct = [](char c) {
    const unsigned char u = static_cast<unsigned char>(c);
    return u < 0x80 && std::ispunct(u);
  };
  while (b < e && punct(word[b])) ++b;
  while (e > b && punct(word[e - 1])) --e;
  std::string key = word.substr(b, e - b);
  if (key.empty()) key = word;  // a word that is only punctuation keeps its form
  for (char& c : key)
    if (static_cast<unsigned char>(c) < 0x80) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return key;
}

std::vector<WordPair> same_word_pairs(const std::vector<Word>& words, const Matrix& vectors,
                                      const std::vector<std::string>& targets) {
  if (vectors.rows != words.size())
    throw Error("same_word_pairs: " + std::to_string(words.size()) + " words but " +
                std::to_string(vectors.rows) + " vectors");
  std::vector<std::pair<std::string, std::vector<size_t>>> groups;
  if (targets.empty()) {
    std::map<std::string, size_t> slot;
    for (size_t i = 0; i < words.size(); ++i) {
      const std::string key = word_key(words[i].text);
      auto [it, fresh] = slot.emplace(key, groups.size());
      if (fresh) groups.push_back({key, {}});
      groups[it->second].second.push_back(i);
    }
  } else {
    for (const std::string& target : targets) {
      const std::string t = word_key(target);
      std::vector<size_t> members;
      for (size_t i = 0; i < words.size(); ++i)
        if (starts_with(word_key(words[i].text), t)) members.push_back(i);
      groups.push_back({t, members});
    }
  }
  std::vector<WordPair> pairs;
  for (const auto& [key, members] : groups)
    for (size_t x = 0; x < members.size(); ++x)
      for (size_t y = x + 1; y < members.size(); ++y)
        pairs.push_back({members[x], members[y], key,
                         similarity(vectors.row(members[x]), vectors.row(members[y]), vectors.cols,
                                    SimilarityFunction::Cosine)});
  return pairs;
}

}  // namespace sbert
