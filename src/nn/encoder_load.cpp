// SentenceEncoder::load: model + the folder's tokenizer. Kept apart from the rest of the nn
// component so that code using EmbeddingModel alone does not need the tokenizer library.
#include "cpu/runtime.h"
#include "cpu/sentence_encoder.h"
#include "nn/embedding_model.h"
#include "sbert/error.h"

namespace sbert {

std::unique_ptr<SentenceEncoder> SentenceEncoder::load(const std::filesystem::path& model_dir,
                                                       const EncoderOptions& options) {
  if (cpu::serves(options)) return cpu::load_encoder(model_dir, options);
  return cpu::with_folder_tokenizer(nn::EmbeddingModel::load(model_dir, options), model_dir, options);
}

}  // namespace sbert
