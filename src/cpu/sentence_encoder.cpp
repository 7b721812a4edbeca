// SentenceEncoder over EmbeddingModel + a Tokenizer: truncation as sentence-transformers does it
// (the text's tokens cut to max_length minus the special tokens), chunking of long texts, prompts
// and per-token outputs.
#include <chrono>
#include <cmath>

#include "cpu/sentence_encoder.h"
#include "sbert/error.h"

namespace sbert::cpu {

std::string_view strip_like_python(std::string_view text) {
  // The code points of Python's str.isspace(), as UTF-8.
  auto space_at = [&](size_t i, bool backwards) -> size_t {  // its length, or 0
    static const char* const kSpaces[] = {"\t", "\n", "\v", "\f", "\r", "\x1c", "\x1d", "\x1e", "\x1f", " ",
                                          "\u0085", "\u00a0", "\u1680", "\u2000", "\u2001", "\u2002", "\u2003",
                                          "\u2004", "\u2005", "\u2006", "\u2007", "\u2008", "\u2009", "\u200a",
                                          "\u2028", "\u2029", "\u202f", "\u205f", "\u3000"};
    for (const char* sp : kSpaces) {
      const std::string_view w(sp);
      if (backwards ? (i >= w.size() && text.substr(i - w.size(), w.size()) == w)
                    : text.substr(i, w.size()) == w)
        return w.size();
    }
    return 0;
  };
  size_t b = 0, e = text.size();
  while (b < e)
    if (const size_t n = space_at(b, false)) b += n;
    else break;
  while (e > b)
    if (const size_t n = space_at(e, true)) e -= n;
    else break;
  return text.substr(b, e - b);
}

namespace {

Encoding slice(const Encoding& e, size_t begin, size_t end) {
  Encoding s;
  auto cut = [&](const auto& v, auto& out) {
    if (v.size() == e.ids.size()) out.assign(v.begin() + begin, v.begin() + end);
  };
  cut(e.ids, s.ids);
  cut(e.type_ids, s.type_ids);
  cut(e.tokens, s.tokens);
  cut(e.offsets, s.offsets);
  cut(e.special_mask, s.special_mask);
  cut(e.sequence_ids, s.sequence_ids);
  return s;
}

class TokenizingEncoder final : public SentenceEncoder {
 public:
  TokenizingEncoder(std::unique_ptr<TokenModel> model, std::unique_ptr<Tokenizer> tokenizer,
                       const EncoderOptions& options)
      : model_(std::move(model)), tokenizer_(std::move(tokenizer)), options_(options) {
    const size_t specials = tokenizer_->num_special_tokens(false);
    if (model_->max_length() <= specials)
      throw Error("max_length " + std::to_string(model_->max_length()) +
                  " leaves no room for text next to the special tokens");
    window_ = model_->max_length() - specials;
    if (options_.chunk_overlap >= window_)
      throw Error("chunk_overlap " + std::to_string(options_.chunk_overlap) +
                  " must be smaller than the window of " + std::to_string(window_) + " tokens");
  }

  Matrix encode(const std::vector<std::string>& texts, EncodeStats* stats) override {
    if (options_.chunk) return encode_chunked(texts, stats);
    std::vector<Encoding> encs;
    encs.reserve(texts.size());
    for (const auto& t : texts) encs.push_back(tokenize(t, stats));
    return model_->embed(pointers(encs), stats);
  }

  Encoding model_input(const std::string& text, EncodeStats* stats) const override { return tokenize(text, stats); }

  Matrix encode_tokenized(const std::vector<Encoding>& encodings, EncodeStats* stats) override {
    return model_->embed(pointers(encodings), stats);
  }

  Matrix encode_with_prompt(const std::vector<std::string>& texts, const std::string& prompt,
                            EncodeStats* stats) override {
    std::vector<Encoding> encs;
    for (const auto& t : texts) encs.push_back(tokenize(prompt + t, stats));
    if (model_->folder().pooling.include_prompt || prompt.empty())
      return model_->embed(pointers(encs), stats);
    // As sentence-transformers: prompt_length = tokens of the prompt with specials, minus one,
    // masked from the start of each input for pooling.
    const size_t prompt_len =
        tokenizer_->encode_plain(prompt).size() + tokenizer_->num_special_tokens(false) - 1;
    std::vector<size_t> skip(encs.size(), prompt_len);
    return model_->embed(pointers(encs), stats, &skip);
  }

  std::vector<ChunkEmbedding> encode_chunks(const std::vector<std::string>& texts,
                                            EncodeStats* stats) override {
    std::vector<Encoding> windows;
    std::vector<ChunkEmbedding> out;
    for (size_t t = 0; t < texts.size(); ++t) {
      const std::string_view stripped = strip_like_python(texts[t]);
      Encoding plain = tokenizer_->encode_plain(stripped);
      shift_offsets(plain, static_cast<size_t>(stripped.data() - texts[t].data()));
      const size_t n = plain.size();
      const size_t stride = window_ - options_.chunk_overlap;
      size_t begin = 0, c = 0;
      while (true) {
        const size_t end = std::min(n, begin + window_);
        Encoding w = slice(plain, begin, end);
        windows.push_back(tokenizer_->add_special_tokens(w, nullptr));
        ChunkEmbedding ce;
        ce.text = t;
        ce.chunk = c++;
        ce.token_begin = begin;
        ce.token_end = end;
        out.push_back(std::move(ce));
        if (end >= n) break;
        begin += stride;
      }
    }
    Matrix m = model_->embed(pointers(windows), stats);
    if (stats) stats->texts = stats->texts - windows.size() + texts.size();
    for (size_t i = 0; i < out.size(); ++i) out[i].vector.assign(m.row(i), m.row(i) + m.cols);
    return out;
  }

  std::vector<TokenEmbeddings> encode_tokens(const std::vector<std::string>& texts, int layer,
                                             EncodeStats* stats) override {
    std::vector<TokenEmbeddings> out(texts.size());
    for (size_t i = 0; i < texts.size(); ++i) out[i].encoding = tokenize(texts[i], stats);
    std::vector<const Encoding*> ptrs;
    for (const auto& o : out) ptrs.push_back(&o.encoding);
    std::vector<Matrix> states = model_->token_states(ptrs, layer, stats);
    for (size_t i = 0; i < out.size(); ++i) out[i].vectors = std::move(states[i]);
    return out;
  }

  size_t max_length() const override { return model_->max_length(); }
  const ModelInfo& info() const override { return model_->info(); }
  size_t dimension() const override { return model_->dimension(); }
  bool normalizes() const override { return model_->normalizes(); }
  std::string similarity_function() const override { return model_->folder().similarity_fn; }
  std::optional<std::string> prompt(const std::string& name) const override {
    const auto& p = model_->folder().prompts;
    auto it = p.find(name);
    if (it == p.end()) return std::nullopt;
    return it->second;
  }
  const Tokenizer& tokenizer() const override { return *tokenizer_; }

 private:
  static void shift_offsets(Encoding& e, size_t by) {
    if (by == 0) return;
    for (auto& [b, en] : e.offsets)
      if (en > b) b += by, en += by;
  }

  static std::vector<const Encoding*> pointers(const std::vector<Encoding>& v) {
    std::vector<const Encoding*> p;
    p.reserve(v.size());
    for (const auto& e : v) p.push_back(&e);
    return p;
  }

  // As sentence-transformers' Transformer.tokenize: the text stripped (str.strip()) first; the
  // offsets still index `text`.
  Encoding tokenize(const std::string& text, EncodeStats* stats) const {
    const auto t0 = std::chrono::steady_clock::now();
    const std::string_view stripped = strip_like_python(text);
    Encoding plain = tokenizer_->encode_plain(stripped);
    shift_offsets(plain, static_cast<size_t>(stripped.data() - text.data()));
    if (plain.size() > window_) {
      plain = slice(plain, 0, window_);
      if (stats) ++stats->truncated;
    }
    Encoding e = tokenizer_->add_special_tokens(plain, nullptr);
    if (stats) stats->tokenize_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return e;
  }

  Matrix encode_chunked(const std::vector<std::string>& texts, EncodeStats* stats) {
    std::vector<ChunkEmbedding> chunks = encode_chunks(texts, stats);
    Matrix result(texts.size(), model_->dimension());
    std::vector<size_t> count(texts.size(), 0);
    for (const auto& c : chunks) {
      float* row = result.row(c.text);
      for (size_t j = 0; j < result.cols; ++j) row[j] += c.vector[j];
      ++count[c.text];
    }
    for (size_t i = 0; i < texts.size(); ++i) {
      float* row = result.row(i);
      double norm = 0;
      for (size_t j = 0; j < result.cols; ++j) {
        row[j] /= static_cast<float>(count[i]);
        norm += static_cast<double>(row[j]) * row[j];
      }
      if (model_->normalizes()) {
        const float inv = static_cast<float>(1.0 / std::max(std::sqrt(norm), 1e-12));
        for (size_t j = 0; j < result.cols; ++j) row[j] *= inv;
      }
    }
    return result;
  }

  std::unique_ptr<TokenModel> model_;
  std::unique_ptr<Tokenizer> tokenizer_;
  EncoderOptions options_;
  size_t window_ = 0;
};

}  // namespace

std::unique_ptr<SentenceEncoder> make_sentence_encoder(std::unique_ptr<TokenModel> model,
                                                       std::unique_ptr<Tokenizer> tokenizer,
                                                       const EncoderOptions& options) {
  return std::make_unique<TokenizingEncoder>(std::move(model), std::move(tokenizer), options);
}

std::unique_ptr<SentenceEncoder> with_folder_tokenizer(std::unique_ptr<TokenModel> model,
                                                       const std::filesystem::path& model_dir,
                                                       const EncoderOptions& options) {
  TokenizerOptions topts = options.tokenizer;
  if (!topts.lowercase && model->folder().do_lower_case.value_or(false)) topts.lowercase = true;
  auto tokenizer = load_tokenizer(model_dir, topts);
  return make_sentence_encoder(std::move(model), std::move(tokenizer), options);
}

}  // namespace sbert::cpu
