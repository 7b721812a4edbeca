// The building blocks of a Hugging Face style tokenization pipeline:
//   added tokens -> Normalizer -> PreTokenizer -> Model -> PostProcessor.
// Every stage works on CharSeq (code points carrying their original byte span), so offsets
// into the caller's text survive any rewrite. One family per file: normalizers.cpp,
// pre_tokenizers.cpp, split_pre_tokenizer.cpp, byte_level.cpp, wordpiece_model.cpp,
// unigram_model.cpp, bpe_model.cpp, post_processors.cpp; regexes in unicode_regex.h (PCRE2).
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "sbert/tokenizer.h"
#include "tokenizer/unicode_regex.h"
#include "tokenizer/unicode_text.h"

namespace sbert::tok {

// A Split / Replace pattern: a literal string, or a regex when `regex` is set.
struct TextPattern {
  std::u32string literal;
  std::shared_ptr<const UnicodeRegex> regex;
  // Non-overlapping matches, left to right, as [begin, end) indices into `text`; an empty
  // literal matches nothing.
  std::vector<std::pair<size_t, size_t>> matches(const std::u32string& text) const;
};

// ---- normalizers ----
// Thrown by a normalizer whose output would pass `max_chars` code points (a hostile
// tokenizer.json: 40 chained Replace o -> oo double a text 40 times); PipelineTokenizer turns it
// into an sbert::Error naming the tokenizer file.
struct NormalizedTooLong {
  size_t max_chars;
};
// Throws NormalizedTooLong when a text of `n` code points passes `max_chars`.
inline void check_normalized_length(size_t n, size_t max_chars) {
  if (n > max_chars) throw NormalizedTooLong{max_chars};
}

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  // Rewrites `s`; an output longer than `max_chars` code points throws NormalizedTooLong
  // (checked as it grows, so a runaway rewrite stops before it allocates).
  virtual void normalize(CharSeq& s, size_t max_chars) const = 0;
};
using NormalizerPtr = std::unique_ptr<Normalizer>;

struct BertNormalizerOptions {
  bool clean_text = true;
  bool handle_chinese_chars = true;
  std::optional<bool> strip_accents;  // unset: follows lowercase
  bool lowercase = true;
};
NormalizerPtr make_bert_normalizer(const BertNormalizerOptions& o);
NormalizerPtr make_lowercase_normalizer();
NormalizerPtr make_unicode_normalizer(NormForm form);
NormalizerPtr make_strip_accents_normalizer();
NormalizerPtr make_strip_normalizer(bool left, bool right);
NormalizerPtr make_replace_normalizer(std::string pattern, std::string content);
// Replace with a regex (or literal) pattern: every match, empty ones included, becomes `content`.
NormalizerPtr make_pattern_replace_normalizer(TextPattern pattern, std::string content);
NormalizerPtr make_prepend_normalizer(std::string prefix);
NormalizerPtr make_sequence_normalizer(std::vector<NormalizerPtr> parts);
// `blob` is the decoded sentencepiece precompiled_charsmap (see precompiled_charsmap.h).
NormalizerPtr make_precompiled_normalizer(std::string blob);

// ---- pre-tokenizers ----
class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Splits each piece further; empty pieces may be dropped.
  virtual void split(std::vector<CharSeq>& pieces) const = 0;
};
using PreTokenizerPtr = std::unique_ptr<PreTokenizer>;

enum class PrependScheme { Always, First, Never };
PreTokenizerPtr make_bert_pre_tokenizer();
PreTokenizerPtr make_whitespace_pre_tokenizer();        // \w+|[^\w\s]+
PreTokenizerPtr make_whitespace_split_pre_tokenizer();  // split on whitespace
PreTokenizerPtr make_punctuation_pre_tokenizer();       // isolate punctuation
PreTokenizerPtr make_digits_pre_tokenizer(bool individual_digits);
PreTokenizerPtr make_metaspace_pre_tokenizer(char32_t replacement, PrependScheme scheme, bool split);
PreTokenizerPtr make_sequence_pre_tokenizer(std::vector<PreTokenizerPtr> parts);
// Split (split_pre_tokenizer.cpp): what happens to the matches of the pattern (the non-matches
// with `invert`), as the reference's SplitDelimiterBehavior.
enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };
PreTokenizerPtr make_split_pre_tokenizer(TextPattern pattern, SplitBehavior behavior, bool invert);
// ByteLevel (byte_level.cpp): optional leading space, optional GPT-2 regex split, then every
// UTF-8 byte becomes its GPT-2 printable character, keeping the span of the character it is from.
PreTokenizerPtr make_byte_level_pre_tokenizer(bool add_prefix_space, bool use_regex);
// The GPT-2 byte -> printable character map (byte_level.cpp).
char32_t byte_level_char(uint8_t byte);

// ---- models ----
struct Token {
  int64_t id;
  std::string value;
  uint32_t begin;  // original byte span
  uint32_t end;
};

class Model {
 public:
  virtual ~Model() = default;
  virtual void tokenize(const CharSeq& word, std::vector<Token>& out) const = 0;
  virtual std::optional<int64_t> token_to_id(std::string_view token) const = 0;
  virtual std::string id_to_token(int64_t id) const = 0;
  virtual size_t vocab_size() const = 0;
  virtual std::string name() const = 0;
};
using ModelPtr = std::unique_ptr<Model>;

// vocab[i] is the token with id i (ids must be dense; gaps are filled with "").
ModelPtr make_wordpiece_model(std::vector<std::string> vocab, std::string unk_token,
                              std::string continuing_prefix = "##",
                              size_t max_input_chars_per_word = 100);
struct UnigramPiece {
  std::string piece;
  double score;
};
ModelPtr make_unigram_model(std::vector<UnigramPiece> pieces, std::optional<int64_t> unk_id,
                            bool byte_fallback);
// Byte-pair encoding (bpe_model.cpp), as the reference BPE model without dropout.
struct BpeOptions {
  std::optional<std::string> unk_token;
  std::string continuing_subword_prefix, end_of_word_suffix;  // "" = none
  bool fuse_unk = false;
  bool byte_fallback = false;  // an unknown character becomes its <0xXX> byte tokens
  bool ignore_merges = false;  // a word that is in the vocabulary is one token
};
// `vocab` maps token -> id; `merges` are token pairs by rank. A merge naming a token outside the
// vocabulary (or whose result is outside it) throws sbert::Error "<where>: merges[i]: ...".
ModelPtr make_bpe_model(std::unordered_map<std::string, int64_t> vocab,
                        const std::vector<std::pair<std::string, std::string>>& merges, const BpeOptions& o,
                        const std::string& where);

// ---- post-processors ----
class PostProcessor {
 public:
  virtual ~PostProcessor() = default;
  virtual Encoding process(const Encoding& a, const Encoding* b) const = 0;
  virtual size_t added_tokens(bool pair) const = 0;
  // Adjusts one sequence's encoding, with or without special tokens (ByteLevel trims offsets).
  virtual void adjust(Encoding& e) const {}
};
using PostProcessorPtr = std::unique_ptr<PostProcessor>;

struct SpecialToken {
  std::string token;
  int64_t id;
};
// Template pieces: a special token, or sequence A (0) / B (1), each with a type id.
struct TemplatePiece {
  bool is_sequence;
  int sequence;  // 0 = A, 1 = B
  std::vector<SpecialToken> special;  // the ids a special token expands to
  int64_t type_id;
};
PostProcessorPtr make_template_processing(std::vector<TemplatePiece> single,
                                          std::vector<TemplatePiece> pair);
PostProcessorPtr make_bert_processing(SpecialToken cls, SpecialToken sep);
PostProcessorPtr make_roberta_processing(SpecialToken cls, SpecialToken sep);
// ByteLevel: adds no tokens; with trim_offsets, a token's offsets leave out its leading and
// trailing spaces (a first token keeps the one space add_prefix_space put there).
PostProcessorPtr make_byte_level_processing(bool trim_offsets, bool add_prefix_space);
// Sequence: every part adjusts each encoding; at most one part may add tokens. Throws
// sbert::Error otherwise (the caller names the file).
PostProcessorPtr make_sequence_processing(std::vector<PostProcessorPtr> parts);

// ---- added tokens ----
struct AddedToken {
  std::string content;
  int64_t id = 0;
  bool special = true;
  bool normalized = false;  // matched in normalized text instead of raw text
  bool lstrip = false;
  bool rstrip = false;
  bool single_word = false;
};

// Finds added tokens (leftmost, longest) in a character sequence, through a trie of their
// characters: one walk per position however many tokens there are (Gemma 3 has 6,415).
class AddedTokenMatcher {
 public:
  AddedTokenMatcher() : node_token_(1, -1) {}
  void add(const AddedToken& t);
  bool empty() const { return tokens_.empty(); }
  struct Match {
    size_t begin, end;  // char index range in the sequence (including stripped whitespace)
    const AddedToken* token;
  };
  std::vector<Match> find(const CharSeq& s) const;

 private:
  struct Entry {
    std::u32string chars;
    AddedToken token;
  };
  std::vector<Entry> tokens_;
  std::vector<int32_t> node_token_;               // trie node -> the token ending there, or -1
  std::unordered_map<uint64_t, uint32_t> edges_;  // (node << 32 | character) -> child node
};

// A tokenizer assembled from the stages above (tokenizer.json, or vocab.txt + configs).
class PipelineTokenizer : public Tokenizer {
 public:
  PipelineTokenizer(std::string description, std::vector<AddedToken> added, NormalizerPtr normalizer,
                    PreTokenizerPtr pre_tokenizer, ModelPtr model, PostProcessorPtr post);

  Encoding encode_plain(std::string_view text) const override;
  Encoding add_special_tokens(const Encoding& first, const Encoding* second) const override;
  size_t num_special_tokens(bool pair) const override;
  int64_t pad_id() const override { return pad_id_; }
  size_t vocab_size() const override;
  std::optional<int64_t> token_to_id(std::string_view token) const override;
  std::string id_to_token(int64_t id) const override;
  std::string describe() const override { return description_; }

  void set_pad_id(int64_t id) { pad_id_ = id; }
  // Bounds the normalized text at `growth` times its input (in code points; inputs under 16
  // count as 16; 0: no bound). `source` names the tokenizer file in the error.
  void set_growth_limit(size_t growth, std::string source);
  // Lower-cases the text before the normalizer (sentence-transformers do_lower_case).
  void force_lowercase();

 private:
  void encode_segment(CharSeq seg, std::vector<Token>& out) const;

  std::string description_;
  std::vector<AddedToken> added_;
  AddedTokenMatcher raw_matcher_, normalized_matcher_;
  NormalizerPtr normalizer_, lowercase_;
  PreTokenizerPtr pre_tokenizer_;
  ModelPtr model_;
  PostProcessorPtr post_;
  int64_t pad_id_ = 0;
  size_t growth_ = 16;
  std::string source_;
};

// Builders (tokenizer_json.cpp, bert_vocab.cpp).
// A component list (a Sequence's normalizers or pre-tokenizers, counted through nested
// Sequences; a template's pieces; a special token's ids) longer than this is refused: real
// tokenizer files hold a handful, and each entry costs time on every text.
constexpr size_t kMaxTokenizerComponents = 256;
std::unique_ptr<PipelineTokenizer> load_tokenizer_json(const std::string& path);
struct BertVocabOptions {
  bool lowercase = true;
  std::optional<bool> strip_accents;
  bool tokenize_chinese_chars = true;
  std::string unk = "[UNK]", sep = "[SEP]", pad = "[PAD]", cls = "[CLS]", mask = "[MASK]";
  std::vector<std::string> never_split;
};
// Reads vocab.txt (one token per line, line index = id).
std::vector<std::string> read_vocab_txt(const std::string& path);
std::unique_ptr<PipelineTokenizer> make_bert_wordpiece_tokenizer(const std::string& vocab_path,
                                                                 const BertVocabOptions& o);
// Reads tokenizer_config.json / special_tokens_map.json beside vocab.txt.
BertVocabOptions read_bert_config(const std::string& dir);

}  // namespace sbert::tok
