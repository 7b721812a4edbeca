// SentenceEncoder over any embedding model of tokenized inputs (TokenModel: sbert's CPU runtime,
// cpu/embedding_model.h, or libtorch's nn::EmbeddingModel) and a Tokenizer: truncation as
// sentence-transformers does it (the text's tokens cut to max_length minus the special tokens),
// chunking of long texts, prompts and per-token outputs. Torch-free.
#pragma once
#include <memory>
#include <string_view>
#include <vector>

#include "sbert/encoder.h"
#include "sbert/model_folder.h"

namespace sbert::cpu {

// `text` without the leading and trailing characters Python's str.isspace() accepts (what
// sentence-transformers' Transformer.tokenize does to every input, prompt included).
std::string_view strip_like_python(std::string_view text);

class TokenModel {
 public:
  virtual ~TokenModel() = default;
  // Embeds inputs that already hold special tokens (at most max_length() tokens each); rows in
  // input order. pool_skip (optional, one per input): leading tokens left out of pooling.
  virtual Matrix embed(const std::vector<const Encoding*>& inputs, EncodeStats* stats = nullptr,
                       const std::vector<size_t>* pool_skip = nullptr) const = 0;
  // Per-token hidden states of `layer` (python-style index into [embeddings, layer 1..N]).
  virtual std::vector<Matrix> token_states(const std::vector<const Encoding*>& inputs, int layer,
                                           EncodeStats* stats = nullptr) const = 0;
  virtual size_t dimension() const = 0;
  virtual bool normalizes() const = 0;
  virtual size_t max_length() const = 0;
  virtual const model::ModelFolder& folder() const = 0;
  virtual const ModelInfo& info() const = 0;
};

std::unique_ptr<SentenceEncoder> make_sentence_encoder(std::unique_ptr<TokenModel> model,
                                                       std::unique_ptr<Tokenizer> tokenizer,
                                                       const EncoderOptions& options);
// The folder's tokenizer for `model` (sentence_bert_config do_lower_case = true lower-cases the
// input; false leaves the tokenizer's own setting alone, as sentence-transformers does), then
// make_sentence_encoder.
std::unique_ptr<SentenceEncoder> with_folder_tokenizer(std::unique_ptr<TokenModel> model,
                                                       const std::filesystem::path& model_dir,
                                                       const EncoderOptions& options);

}  // namespace sbert::cpu
