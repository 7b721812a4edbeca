// WordPiece: greedy longest-match-first over a vocabulary, continuation pieces prefixed
// with "##"; a word that cannot be covered, or is longer than max_input_chars_per_word
// characters, becomes a single unknown token.
#include <algorithm>

#include "sbert/error.h"
#include "tokenizer/pipeline.h"

namespace sbert::tok {

namespace {

size_t utf8_chars(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

class WordPieceModel : public Model {
 public:
  WordPieceModel(std::vector<std::string> vocab, std::string unk, std::string prefix, size_t max_chars)
      : vocab_(std::move(vocab)), unk_(std::move(unk)), prefix_(std::move(prefix)), max_chars_(max_chars) {
    ids_.reserve(vocab_.size() * 2);
    for (size_t i = 0; i < vocab_.size(); ++i) {
      if (vocab_[i].empty()) continue;
      ids_.insert_or_assign(vocab_[i], static_cast<int64_t>(i));  // a repeated token keeps its last id
      longest_ = std::max(longest_, utf8_chars(vocab_[i]));
    }
    auto it = ids_.find(unk_);
    if (it == ids_.end()) throw Error("WordPiece: unknown token '" + unk_ + "' is not in the vocabulary");
    unk_id_ = it->second;
  }

  void tokenize(const CharSeq& word, std::vector<Token>& out) const override {
    if (word.empty()) return;
    if (word.size() > max_chars_) {
      out.push_back({unk_id_, unk_, word.front().begin, word.back().end});
      return;
    }
    // UTF-8 of the word with the byte position of every character.
    std::string text;
    std::vector<size_t> at(word.size() + 1);
    for (size_t i = 0; i < word.size(); ++i) {
      at[i] = text.size();
      append_utf8(text, word[i].cp);
    }
    at[word.size()] = text.size();

    const size_t first = out.size();
    std::string key;
    size_t start = 0;
    while (start < word.size()) {
      size_t end = std::min(word.size(), start + longest_);
      int64_t found = -1;
      for (; end > start; --end) {
        key.clear();
        if (start > 0) key += prefix_;
        key.append(text, at[start], at[end] - at[start]);
        auto it = ids_.find(key);
        if (it != ids_.end()) {
          found = it->second;
          break;
        }
      }
      if (found < 0) {
        out.resize(first);
        out.push_back({unk_id_, unk_, word.front().begin, word.back().end});
        return;
      }
      uint32_t b = word[start].begin, e = word[start].end;
      for (size_t k = start; k < end; ++k) b = std::min(b, word[k].begin), e = std::max(e, word[k].end);
      out.push_back({found, key, b, e});
      start = end;
    }
  }

  std::optional<int64_t> token_to_id(std::string_view token) const override {
    auto it = ids_.find(std::string(token));
    if (it == ids_.end()) return std::nullopt;
    return it->second;
  }
  std::string id_to_token(int64_t id) const override {
    if (id < 0 || static_cast<size_t>(id) >= vocab_.size()) return {};
    return vocab_[static_cast<size_t>(id)];
  }
  size_t vocab_size() const override { return vocab_.size(); }
  std::string name() const override { return "WordPiece"; }

 private:
  std::vector<std::string> vocab_;
  std::unordered_map<std::string, int64_t> ids_;
  std::string unk_, prefix_;
  size_t max_chars_;
  size_t longest_ = 1;
  int64_t unk_id_ = 0;
};

}  // namespace

ModelPtr make_wordpiece_model(std::vector<std::string> vocab, std::string unk_token,
                              std::string continuing_prefix, size_t max_input_chars_per_word) {
  return std::make_unique<WordPieceModel>(std::move(vocab), std::move(unk_token),
                                          std::move(continuing_prefix), max_input_chars_per_word);
}

}  // namespace sbert::tok
