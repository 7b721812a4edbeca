// How load_tokenizer chooses and opens a tokenizer file (factory.cpp).
#pragma once
#include <filesystem>
#include <memory>

#include "sbert/tokenizer.h"

namespace sbert::tok {

// (Which file a folder's tokenizer is read from: sbert::model::find_model_tokenizer.)

// Opens `file` by its kind (tokenizer.json / *.json, *.model, vocab.txt / *.txt); configs
// (tokenizer_config.json, special_tokens_map.json, a KoBERT vocab) are read from `dir`.
std::unique_ptr<Tokenizer> load_tokenizer_file(const std::filesystem::path& file,
                                               const std::filesystem::path& dir,
                                               const TokenizerOptions& options);

}  // namespace sbert::tok
