// Tokenizers: one interface, several models (WordPiece, tokenizer.json, SentencePiece),
// chosen from the files in a model folder by load_tokenizer().
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sbert {

// The result of tokenizing one text or one pair of texts.
struct Encoding {
  std::vector<int64_t> ids;
  std::vector<int64_t> type_ids;       // token_type_ids (0 for the first segment, 1 for the second)
  std::vector<std::string> tokens;     // the token strings (vocabulary pieces)
  // Byte offsets [begin, end) into the original UTF-8 text of the token's segment; (0, 0) for
  // special tokens.
  std::vector<std::pair<size_t, size_t>> offsets;
  std::vector<uint8_t> special_mask;   // 1 for added special tokens
  std::vector<int8_t> sequence_ids;    // -1 special token, 0 first text, 1 second text

  size_t size() const { return ids.size(); }
};

enum class Truncation { LongestFirst, OnlyFirst, OnlySecond };
// "longest_first" | "only_first" | "only_second"; throws sbert::Error otherwise.
Truncation parse_truncation(const std::string& name);

// Units of token offsets in outputs: Unicode code points (what Hugging Face reports: Python
// str indexes) unless bytes are asked for.
enum class OffsetUnit { CodePoints, Bytes };
// "chars" (or "codepoints") | "bytes"; throws sbert::Error otherwise.
OffsetUnit parse_offset_unit(const std::string& name);
// The offsets of `encoding` in `unit`: those of the first segment index into `first`, those of
// the second (sequence id 1) into `second`. Special tokens keep (0, 0).
std::vector<std::pair<size_t, size_t>> offsets_in(const Encoding& encoding, std::string_view first,
                                                  OffsetUnit unit, std::string_view second = {});

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Tokens of one text, without special tokens and without truncation.
  virtual Encoding encode_plain(std::string_view text) const = 0;

  // Adds the model's special tokens around one segment or a pair (e.g. [CLS] a [SEP] b [SEP],
  // or <s> a </s></s> b </s>) and sets type ids.
  virtual Encoding add_special_tokens(const Encoding& first, const Encoding* second) const = 0;

  // How many special tokens add_special_tokens adds for a single text (pair=false) or a pair.
  virtual size_t num_special_tokens(bool pair) const = 0;

  // One text with special tokens, truncated to max_length tokens in total (0 = no limit).
  Encoding encode(std::string_view text, bool add_special = true, size_t max_length = 0) const;

  // A pair of texts, truncated to max_length tokens in total (0 = no limit).
  Encoding encode_pair(std::string_view first, std::string_view second, size_t max_length = 0,
                       Truncation truncation = Truncation::LongestFirst,
                       bool add_special = true) const;

  virtual int64_t pad_id() const = 0;
  virtual size_t vocab_size() const = 0;
  virtual std::optional<int64_t> token_to_id(std::string_view token) const = 0;
  virtual std::string id_to_token(int64_t id) const = 0;

  // A short description of the model, e.g. "wordpiece (vocab.txt)", "tokenizer.json (Unigram)".
  virtual std::string describe() const = 0;
};

// How a SentencePiece *.model is run. Auto: as the reference does — converted into the fast
// tokenizer (Unigram + precompiled charsmap) for XLM-R-style models, libsentencepiece where the
// reference itself uses sentencepiece (KoBERT with its separate vocabulary, non-Unigram models,
// tokenizer classes sbert does not convert). SentencePiece: always libsentencepiece on the
// folder's *.model (also when tokenizer.json is there).
enum class TokenizerBackend { Auto, SentencePiece };
// "auto" | "sentencepiece"; throws sbert::Error otherwise.
TokenizerBackend parse_tokenizer_backend(std::string_view name);

struct TokenizerOptions {
  // Use this file instead of choosing one from the folder (tokenizer.json, vocab.txt, *.model).
  std::string tokenizer_file;
  TokenizerBackend backend = TokenizerBackend::Auto;
  // sentence-transformers' do_lower_case (sentence_bert_config.json): true lower-cases the text
  // before the tokenizer's own normalizer (added/special tokens are still matched first);
  // false or unset leaves the tokenizer's own setting (an uncased BERT stays uncased).
  std::optional<bool> lowercase;
  // A tokenizer file's normalizer may make a text at most this many times longer (in code
  // points; texts under 16 count as 16); beyond it encoding throws sbert::Error naming the file
  // (a hostile tokenizer.json, e.g. chained Replace o -> oo, would otherwise allocate until
  // memory runs out). 0: no bound. Real text stays far below: NFKD expands one code point to at
  // most 18 (U+FDFA), BERT's CJK spacing to 3, so only text made mostly of such characters
  // comes near it.
  size_t max_normalized_growth = 16;
};

// Loads the tokenizer of a model folder (plain Hugging Face folder, or a sentence-transformers
// folder where the tokenizer may sit in 0_Transformer/). Preference: tokenizer.json (what
// Hugging Face uses), then a sentencepiece *.model, then vocab.txt. An XLM-R folder gives the
// fast tokenizer's ids with or without tokenizer.json (also for decomposed Hangul jamo, where
// libsentencepiece differs); options.backend = SentencePiece gives sentencepiece's. Throws
// sbert::Error naming the folder and what is missing or malformed.
std::unique_ptr<Tokenizer> load_tokenizer(const std::filesystem::path& model_dir,
                                          const TokenizerOptions& options = {});

}  // namespace sbert
