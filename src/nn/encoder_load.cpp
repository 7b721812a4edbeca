// SentenceEncoder::load: model + the folder's tokenizer. Kept apart from the rest of the nn
// component so that code using EmbeddingModel alone does not need the tokenizer library.
#include "nn/embedding_model.h"
#include "sbert/error.h"

namespace sbert {

std::unique_ptr<SentenceEncoder> SentenceEncoder::load(const std::filesystem::path& model_dir,
                                                       const EncoderOptions& options) {
  auto model = nn::EmbeddingModel::load(model_dir, options);
  TokenizerOptions topts = options.tokenizer;
  // sentence_bert_config do_lower_case = true lower-cases the input (false leaves the tokenizer's
  // own setting alone, as sentence-transformers does).
  if (!topts.lowercase && model->layout().do_lower_case.value_or(false)) topts.lowercase = true;
  auto tokenizer = load_tokenizer(model_dir, topts);
  return nn::make_sentence_encoder(std::move(model), std::move(tokenizer), options);
}

}  // namespace sbert
