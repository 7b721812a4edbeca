// How load_tokenizer chooses and opens a tokenizer file (factory.cpp).
#pragma once
#include <filesystem>
#include <memory>
#include <optional>

#include "sbert/tokenizer.h"

namespace sbert::tok {

// The preferred tokenizer file in `dir`: tokenizer.json, then a sentencepiece *.model, then
// vocab.txt; nullopt when there is none.
std::optional<std::filesystem::path> find_tokenizer_file(const std::filesystem::path& dir);

// Opens `file` by its kind (tokenizer.json / *.json, *.model, vocab.txt / *.txt); configs
// (tokenizer_config.json, special_tokens_map.json, a KoBERT vocab) are read from `dir`.
std::unique_ptr<Tokenizer> load_tokenizer_file(const std::filesystem::path& file,
                                               const std::filesystem::path& dir,
                                               const TokenizerOptions& options);

}  // namespace sbert::tok
