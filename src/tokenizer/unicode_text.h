// Code points with their byte span in the original text: the unit every normalizer,
// pre-tokenizer and model works on, so that offsets survive any rewrite of the text.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sbert::tok {

struct Char {
  char32_t cp;
  uint32_t begin;  // byte span [begin, end) in the original text
  uint32_t end;
};
using CharSeq = std::vector<Char>;

// Decodes UTF-8; each invalid byte becomes U+FFFD (counted in *invalid when given).
CharSeq decode_utf8(std::string_view text, size_t* invalid = nullptr);
void append_utf8(std::string& out, char32_t cp);
std::string to_utf8(const CharSeq& chars, size_t from = 0, size_t to = SIZE_MAX);
// Replaces invalid UTF-8 with U+FFFD; returns how many replacements were made.
size_t sanitize_utf8(std::string& text);

// Character classes with the semantics of the Hugging Face `tokenizers` (Rust) library.
bool is_whitespace(char32_t c);      // White_Space property plus \t \n \r
bool is_other(char32_t c);           // general category C* (control, format, surrogate, ...)
bool is_punctuation(char32_t c);     // ASCII punctuation or general category P*
bool is_cjk_ideograph(char32_t c);   // the ranges BERT splits into single characters
bool is_nonspacing_mark(char32_t c); // Mn
int combining_class(char32_t c);

// Full lower-case mapping of one code point (may be several code points, e.g. U+0130).
void lowercase_into(char32_t c, std::u32string& out);

enum class NormForm { NFC, NFD, NFKC, NFKD };
// Unicode normalization of a sequence; output characters keep the span of the input
// characters they came from (composed characters span their parts).
CharSeq normalize(const CharSeq& in, NormForm form);

}  // namespace sbert::tok
