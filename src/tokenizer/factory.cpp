#include "tokenizer/factory.h"

#include <algorithm>
#include <vector>

#include "sbert/error.h"
#include "sbert/model_folder.h"
#include "tokenizer/pipeline.h"
#include "tokenizer/sentencepiece_tokenizer.h"
#include "tokenizer/spm_convert.h"

namespace sbert::tok {

namespace fs = std::filesystem;

std::optional<fs::path> find_tokenizer_file(const fs::path& dir, TokenizerBackend backend) {
  return model::find_tokenizer_file(dir, backend == TokenizerBackend::SentencePiece);
}

std::unique_ptr<Tokenizer> load_tokenizer_file(const fs::path& file, const fs::path& dir,
                                               const TokenizerOptions& options) {
  const std::string ext = file.extension().string();
  if (options.backend == TokenizerBackend::SentencePiece && ext != ".model")
    throw Error(file.string() + ": tokenizer backend 'sentencepiece' needs a sentencepiece *.model file");
  if (ext == ".json") {
    auto tok = load_tokenizer_json(file.string());
    if (options.lowercase.value_or(false)) tok->force_lowercase();
    tok->set_growth_limit(options.max_normalized_growth, file.string());
    return tok;
  }
  if (ext == ".model") {
    // The reference converts the model into its fast tokenizer unless a separate vocabulary
    // (KoBERT) or a tokenizer class without a conversion keeps it on sentencepiece.
    if (options.backend == TokenizerBackend::Auto && !has_separate_spm_vocab(dir)) {
      const std::string cls = configured_tokenizer_class(dir);
      if (spm_class_is_convertible(cls))
        if (auto tok = convert_spm_model(file, dir, cls)) {
          if (options.lowercase.value_or(false)) tok->force_lowercase();
          tok->set_growth_limit(options.max_normalized_growth, file.string());
          return tok;
        }
    }
    return load_sentencepiece_tokenizer(file, dir, options.lowercase.value_or(false));
  }
  if (ext == ".txt") {
    BertVocabOptions o = read_bert_config(dir.string());
    auto tok = make_bert_wordpiece_tokenizer(file.string(), o);
    if (options.lowercase.value_or(false)) tok->force_lowercase();
    tok->set_growth_limit(options.max_normalized_growth, file.string());
    return tok;
  }
  throw Error(file.string() + ": unsupported tokenizer file (expected tokenizer.json, *.model or vocab.txt)");
}

}  // namespace sbert::tok
