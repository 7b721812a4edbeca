// SentencePiece .model files through libsentencepiece, in the two id layouts models use:
//  - Fairseq (XLM-R, sentencepiece.bpe.model): <s>=0 <pad>=1 </s>=2 <unk>=3, every other
//    piece = sentencepiece id + 1, <mask> after the last piece; pairs <s> a </s></s> b </s>.
//  - Vocab (KoBERT): pieces looked up in a separate vocabulary (vocab.txt line index = id, or
//    a gluonnlp vocab json with idx_to_token), BERT specials [CLS] a [SEP] b [SEP].
#pragma once
#include <filesystem>
#include <memory>

#include "sbert/tokenizer.h"

namespace sbert::tok {

// Whether `dir` holds a separate vocabulary for the pieces (vocab.txt, or a gluonnlp vocab json
// with idx_to_token): the KoBERT layout.
bool has_separate_spm_vocab(const std::filesystem::path& dir);

std::unique_ptr<Tokenizer> load_sentencepiece_tokenizer(const std::filesystem::path& model_file,
                                                        const std::filesystem::path& dir,
                                                        bool force_lowercase);

}  // namespace sbert::tok
