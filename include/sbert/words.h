// Contextual word vectors: the per-token hidden states of a sentence grouped into words.
// Pieces are grouped by the tokenizer's own markers (WordPiece "##" continues a word;
// SentencePiece "\u2581" and byte-level BPE "\u0120" start one) and by whitespace between the
// tokens' offsets; a word's vector is the mean of its pieces' vectors.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "sbert/matrix.h"
#include "sbert/tokenizer.h"

namespace sbert {

struct Word {
  std::string text;           // the word as it appears in the text
  size_t byte_begin = 0;      // [byte_begin, byte_end) in the UTF-8 text
  size_t byte_end = 0;
  size_t char_begin = 0;      // the same span in Unicode code points (Python str indexes)
  size_t char_end = 0;
  size_t token_begin = 0;     // [token_begin, token_end): its tokens in the encoding
  size_t token_end = 0;
};

// Groups the non-special tokens of `encoding` (of `text`) into words. Tokens with empty offsets
// (e.g. a lone SentencePiece "\u2581") join the word they introduce.
std::vector<Word> group_words(const std::string& text, const Encoding& encoding);

// One row per word: the mean of its tokens' rows of `token_vectors` (one row per token).
Matrix word_vectors(const std::vector<Word>& words, const Matrix& token_vectors);

// How words are compared by surface form: lower-cased (ASCII), punctuation trimmed at both ends.
std::string word_key(const std::string& word);

struct WordPair {
  size_t a = 0, b = 0;  // word indexes, a < b
  std::string key;      // the shared surface form (or the --word target that matched both)
  float cosine = 0.0f;
};

// Every pair of occurrences of the same word in one sentence, with their cosine. With
// `targets`, words are grouped by target instead: a word belongs to target T when its key
// equals T or starts with T (so Korean 배를/배가 both match 배).
std::vector<WordPair> same_word_pairs(const std::vector<Word>& words, const Matrix& vectors,
                                      const std::vector<std::string>& targets = {});

}  // namespace sbert
