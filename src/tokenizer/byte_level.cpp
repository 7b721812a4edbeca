// Byte-level BPE support (GPT-2 style), with the semantics of the Hugging Face `tokenizers`
// ByteLevel pre-tokenizer and post-processor: every UTF-8 byte of the text is spelled as one
// printable character, so the vocabulary needs no unknown token.
#include <algorithm>
#include <array>

#include "tokenizer/pipeline.h"

namespace sbert::tok {

namespace {

// GPT-2's bytes_to_unicode: the printable bytes ! .. ~, 0xA1 .. 0xAC and 0xAE .. 0xFF stand for
// themselves; the other 68 bytes, in order, become U+0100, U+0101, ...
std::array<char32_t, 256> make_byte_map() {
  std::array<char32_t, 256> m{};
  char32_t next = 0x100;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
    m[b] = printable ? static_cast<char32_t>(b) : next++;
  }
  return m;
}
const std::array<char32_t, 256> kByteMap = make_byte_map();

const char* const kGpt2Pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

class ByteLevelPreTokenizer : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(bool add_prefix_space, bool use_regex) : add_prefix_space_(add_prefix_space) {
    if (use_regex)
      split_ = make_split_pre_tokenizer({{}, std::make_shared<UnicodeRegex>(kGpt2Pattern, "ByteLevel")},
                                        SplitBehavior::Isolated, false);
  }

  void split(std::vector<CharSeq>& pieces) const override {
    if (add_prefix_space_)
      for (CharSeq& p : pieces)
        if (!p.empty() && p[0].cp != U' ') p.insert(p.begin(), Char{U' ', p[0].begin, p[0].begin});
    if (split_) split_->split(pieces);
    std::string utf8;
    for (CharSeq& p : pieces) {
      if (std::all_of(p.begin(), p.end(), [](const Char& c) { return c.cp < 0x80; })) {
        for (Char& c : p) c.cp = kByteMap[c.cp];  // one byte each: in place
        continue;
      }
      CharSeq out;
      out.reserve(p.size() + p.size() / 2);
      for (const Char& c : p) {
        if (c.cp < 0x80) {
          out.push_back({kByteMap[c.cp], c.begin, c.end});
          continue;
        }
        utf8.clear();
        append_utf8(utf8, c.cp);
        for (unsigned char b : utf8) out.push_back({kByteMap[b], c.begin, c.end});
      }
      p.swap(out);
    }
  }

 private:
  bool add_prefix_space_;
  PreTokenizerPtr split_;
};

class ByteLevelProcessing : public PostProcessor {
 public:
  ByteLevelProcessing(bool trim_offsets, bool add_prefix_space)
      : trim_(trim_offsets), add_prefix_space_(add_prefix_space) {}

  // Adds nothing: the sequences one after the other (the second with type id 1).
  Encoding process(const Encoding& a, const Encoding* b) const override {
    Encoding out = a;
    if (!b) return out;
    out.ids.insert(out.ids.end(), b->ids.begin(), b->ids.end());
    out.type_ids.insert(out.type_ids.end(), b->ids.size(), 1);
    out.tokens.insert(out.tokens.end(), b->tokens.begin(), b->tokens.end());
    out.offsets.insert(out.offsets.end(), b->offsets.begin(), b->offsets.end());
    out.special_mask.insert(out.special_mask.end(), b->ids.size(), 0);
    out.sequence_ids.insert(out.sequence_ids.end(), b->ids.size(), 1);
    return out;
  }
  size_t added_tokens(bool) const override { return 0; }

  void adjust(Encoding& e) const override {
    if (!trim_) return;
    for (size_t i = 0; i < e.tokens.size() && i < e.offsets.size(); ++i) {
      const CharSeq t = decode_utf8(e.tokens[i]);
      size_t lead = 0, trail = 0;
      while (lead < t.size() && is_space(t[lead].cp)) ++lead;
      while (trail < t.size() && is_space(t[t.size() - 1 - trail].cp)) ++trail;
      auto& [b, end] = e.offsets[i];
      if (lead > 0 && add_prefix_space_ && lead == 1 && (i == 0 || b == 0)) lead = 0;  // the added one
      if (lead > 0) b = std::min<size_t>(b + lead, end);
      if (trail > 0 && end >= trail) end = std::max<size_t>(end - trail, b);
    }
  }

 private:
  static bool is_space(char32_t c) { return c == kByteMap[' '] || is_whitespace(c); }
  bool trim_, add_prefix_space_;
};

}  // namespace

char32_t byte_level_char(uint8_t byte) { return kByteMap[byte]; }

PreTokenizerPtr make_byte_level_pre_tokenizer(bool add_prefix_space, bool use_regex) {
  return std::make_unique<ByteLevelPreTokenizer>(add_prefix_space, use_regex);
}

PostProcessorPtr make_byte_level_processing(bool trim_offsets, bool add_prefix_space) {
  return std::make_unique<ByteLevelProcessing>(trim_offsets, add_prefix_space);
}

}  // namespace sbert::tok
