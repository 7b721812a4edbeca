// A bounded reader of SentencePiece .model files (a serialized sentencepiece ModelProto), for
// building the same fast tokenizer Hugging Face converts such a file into (spm_convert.cpp).
// Only the fields that conversion needs are kept; every length and varint is checked against
// the bytes that remain, so a corrupt or truncated file is an sbert::Error, never a crash.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace sbert::tok {

struct SpmModelProto {
  // sentencepiece ModelProto.SentencePiece.Type
  enum PieceType { Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 };
  // TrainerSpec.ModelType
  enum ModelType { Unigram = 1, Bpe = 2, Word = 3, Char = 4 };

  struct Piece {
    std::string piece;
    float score = 0;
    int type = Normal;
  };
  std::vector<Piece> pieces;

  // trainer_spec
  int model_type = Unigram;
  int unk_id = 0, bos_id = 1, eos_id = 2, pad_id = -1;
  bool byte_fallback = false;

  // normalizer_spec
  std::string normalizer_name;
  std::string precompiled_charsmap;  // raw bytes (the layout precompiled_charsmap.h reads)
  bool add_dummy_prefix = true;
  bool remove_extra_whitespaces = true;
  bool escape_whitespaces = true;
};

// Parses the serialized proto; `what` names the source in errors. Throws sbert::Error.
SpmModelProto parse_spm_model(std::string_view bytes, const std::string& what);
// Reads and parses a .model file. Throws sbert::Error naming the file.
SpmModelProto read_spm_model(const std::filesystem::path& file);

}  // namespace sbert::tok
