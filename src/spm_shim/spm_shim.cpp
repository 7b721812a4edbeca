// A C interface over libsentencepiece, built as its own shared library (libsbert_spm.so) and
// loaded with dlopen(RTLD_LOCAL | RTLD_DEEPBIND) by src/tokenizer/spm_library.cpp.
//
// Why: Debian's libsentencepiece embeds its own protobuf-lite 3.14 and exports those symbols,
// while libtorch loads libprotobuf 3.21. Linked into one program, the first one's symbols
// interpose the other's and the process crashes during static initialisation. Loaded locally
// and deep-bound, sentencepiece resolves to its own protobuf and stays out of the global scope.
#include <sentencepiece_processor.h>

#include <cstring>
#include <string>

namespace {
void set_error(char* err, size_t errlen, const std::string& msg) {
  if (!err || errlen == 0) return;
  std::strncpy(err, msg.c_str(), errlen - 1);
  err[errlen - 1] = '\0';
}
}  // namespace

extern "C" {

__attribute__((visibility("default"))) void* sbert_spm_load(const char* path, char* err, size_t errlen) {
  auto* sp = new sentencepiece::SentencePieceProcessor();
  const auto status = sp->Load(path);
  if (!status.ok()) {
    set_error(err, errlen, status.ToString());
    delete sp;
    return nullptr;
  }
  return sp;
}

__attribute__((visibility("default"))) void sbert_spm_free(void* handle) {
  delete static_cast<sentencepiece::SentencePieceProcessor*>(handle);
}

__attribute__((visibility("default"))) int sbert_spm_piece_size(const void* handle) {
  return static_cast<const sentencepiece::SentencePieceProcessor*>(handle)->GetPieceSize();
}

__attribute__((visibility("default"))) int sbert_spm_unk_id(const void* handle) {
  return static_cast<const sentencepiece::SentencePieceProcessor*>(handle)->unk_id();
}

__attribute__((visibility("default"))) int sbert_spm_piece_to_id(const void* handle, const char* piece, size_t len) {
  return static_cast<const sentencepiece::SentencePieceProcessor*>(handle)->PieceToId(std::string(piece, len));
}

// Copies the piece into buf (NUL-terminated, truncated to buflen); returns its full length.
__attribute__((visibility("default"))) size_t sbert_spm_id_to_piece(const void* handle, int id, char* buf,
                                                                    size_t buflen) {
  const std::string& p = static_cast<const sentencepiece::SentencePieceProcessor*>(handle)->IdToPiece(id);
  set_error(buf, buflen, p);
  return p.size();
}

typedef void (*sbert_spm_piece_fn)(void* ctx, const char* piece, size_t len, int id, unsigned begin,
                                   unsigned end);

// Encodes text; calls fn once per piece with its id and byte span [begin, end) in text.
// Returns 0 on success, -1 with a message in err.
__attribute__((visibility("default"))) int sbert_spm_encode(const void* handle, const char* text, size_t len,
                                                            sbert_spm_piece_fn fn, void* ctx, char* err,
                                                            size_t errlen) {
  const auto* sp = static_cast<const sentencepiece::SentencePieceProcessor*>(handle);
  sentencepiece::ImmutableSentencePieceText spt;
  const auto status = sp->Encode(std::string(text, len), spt.mutable_proto());
  if (!status.ok()) {
    set_error(err, errlen, status.ToString());
    return -1;
  }
  for (size_t k = 0; k < spt.pieces_size(); ++k) {
    const auto p = spt.pieces(static_cast<int>(k));
    const std::string& piece = p.piece();
    fn(ctx, piece.data(), piece.size(), static_cast<int>(p.id()), p.begin(), p.end());
  }
  return 0;
}

}  // extern "C"
