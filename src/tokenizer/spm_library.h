// SentencePiece through libsentencepiece, isolated in libsbert_spm.so (see src/spm_shim/): the
// shim is dlopen'ed locally and deep-bound so that sentencepiece's embedded protobuf never meets
// libtorch's.
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sbert::tok {

struct SpmPiece {
  std::string piece;
  int id = 0;
  unsigned begin = 0, end = 0;  // byte span in the encoded text
};

class SpmProcessor {
 public:
  SpmProcessor() = default;
  ~SpmProcessor();
  SpmProcessor(const SpmProcessor&) = delete;
  SpmProcessor& operator=(const SpmProcessor&) = delete;

  // Throws sbert::Error naming the file when it cannot be loaded.
  void load(const std::string& path);
  int piece_size() const;
  int unk_id() const;
  int piece_to_id(std::string_view piece) const;
  std::string id_to_piece(int id) const;
  // Throws sbert::Error on failure.
  std::vector<SpmPiece> encode(std::string_view text) const;

 private:
  void* handle_ = nullptr;
};

}  // namespace sbert::tok
