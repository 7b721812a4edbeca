// A bare SentencePiece .model converted into the fast tokenizer Hugging Face builds from it
// (transformers' slow->fast conversion: the model's pieces and precompiled charsmap put into the
// tokenizer class's own pipeline), assembled from sbert's pipeline stages. With it a folder
// without tokenizer.json gives the same ids as the reference, also where libsentencepiece
// itself differs (e.g. decomposed Hangul jamo).
#pragma once
#include <filesystem>
#include <memory>
#include <string>

#include "tokenizer/pipeline.h"

namespace sbert::tok {

// The tokenizer_class of dir/tokenizer_config.json without a "Fast" suffix ("" when absent).
std::string configured_tokenizer_class(const std::filesystem::path& dir);

// Whether convert_spm_model handles this tokenizer_class ("" = a bare model: XLM-R).
bool spm_class_is_convertible(const std::string& tokenizer_class);

// Builds the converted tokenizer for `model_file`, special-token names and add_prefix_space
// from dir/tokenizer_config.json (and special_tokens_map.json). nullptr when the model is not a
// Unigram model (BPE/word/char models stay with libsentencepiece). Throws sbert::Error naming
// the file when it is malformed.
std::unique_ptr<PipelineTokenizer> convert_spm_model(const std::filesystem::path& model_file,
                                                     const std::filesystem::path& dir,
                                                     const std::string& tokenizer_class);

}  // namespace sbert::tok
