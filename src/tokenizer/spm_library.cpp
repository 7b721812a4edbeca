#include "tokenizer/spm_library.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>

#include "sbert/error.h"

namespace sbert::tok {

namespace {

using LoadFn = void* (*)(const char*, char*, size_t);
using FreeFn = void (*)(void*);
using IntFn = int (*)(const void*);
using PieceToIdFn = int (*)(const void*, const char*, size_t);
using IdToPieceFn = size_t (*)(const void*, int, char*, size_t);
using PieceCb = void (*)(void*, const char*, size_t, int, unsigned, unsigned);
using EncodeFn = int (*)(const void*, const char*, size_t, PieceCb, void*, char*, size_t);

struct Shim {
  LoadFn load = nullptr;
  FreeFn free = nullptr;
  IntFn piece_size = nullptr, unk_id = nullptr;
  PieceToIdFn piece_to_id = nullptr;
  IdToPieceFn id_to_piece = nullptr;
  EncodeFn encode = nullptr;
};

std::vector<std::string> shim_candidates() {
  std::vector<std::string> c;
  if (const char* env = std::getenv("SBERT_SPM_SHIM"); env && *env) c.emplace_back(env);
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    c.push_back((exe.parent_path() / "libsbert_spm.so").string());
    c.push_back((exe.parent_path() / ".." / "lib" / "libsbert_spm.so").string());
  }
#ifdef SBERT_SPM_SHIM_PATH
  c.emplace_back(SBERT_SPM_SHIM_PATH);
#endif
  c.emplace_back("libsbert_spm.so");  // the dynamic linker's search path
  return c;
}

const Shim& shim() {
  static Shim s;
  static std::string failure;
  static std::once_flag once;
  std::call_once(once, [] {
    void* h = nullptr;
    std::string tried;
    for (const auto& path : shim_candidates()) {
#ifdef SBERT_SPM_NO_DEEPBIND
      h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
#else
      h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
#endif
      if (h) break;
      tried += (tried.empty() ? "" : "; ") + std::string(dlerror());
    }
    if (!h) {
      failure = "cannot load the SentencePiece library libsbert_spm.so (" + tried + ")";
      return;
    }
    s.load = reinterpret_cast<LoadFn>(dlsym(h, "sbert_spm_load"));
    s.free = reinterpret_cast<FreeFn>(dlsym(h, "sbert_spm_free"));
    s.piece_size = reinterpret_cast<IntFn>(dlsym(h, "sbert_spm_piece_size"));
    s.unk_id = reinterpret_cast<IntFn>(dlsym(h, "sbert_spm_unk_id"));
    s.piece_to_id = reinterpret_cast<PieceToIdFn>(dlsym(h, "sbert_spm_piece_to_id"));
    s.id_to_piece = reinterpret_cast<IdToPieceFn>(dlsym(h, "sbert_spm_id_to_piece"));
    s.encode = reinterpret_cast<EncodeFn>(dlsym(h, "sbert_spm_encode"));
    if (!s.load || !s.free || !s.piece_size || !s.unk_id || !s.piece_to_id || !s.id_to_piece || !s.encode) {
      failure = "libsbert_spm.so lacks the expected functions";
      s = Shim{};
    }
  });
  if (!s.load) throw Error(failure);
  return s;
}

}  // namespace

SpmProcessor::~SpmProcessor() {
  if (handle_) shim().free(handle_);
}

void SpmProcessor::load(const std::string& path) {
  const Shim& s = shim();
  char err[512] = {0};
  void* h = s.load(path.c_str(), err, sizeof err);
  if (!h) throw Error(path + ": cannot load sentencepiece model (" + err + ")");
  if (handle_) s.free(handle_);
  handle_ = h;
}

int SpmProcessor::piece_size() const { return shim().piece_size(handle_); }
int SpmProcessor::unk_id() const { return shim().unk_id(handle_); }
int SpmProcessor::piece_to_id(std::string_view piece) const {
  return shim().piece_to_id(handle_, piece.data(), piece.size());
}

std::string SpmProcessor::id_to_piece(int id) const {
  char buf[256];
  size_t n = shim().id_to_piece(handle_, id, buf, sizeof buf);
  if (n < sizeof buf) return std::string(buf, n);
  std::string big(n + 1, '\0');
  shim().id_to_piece(handle_, id, big.data(), big.size());
  big.resize(n);
  return big;
}

std::vector<SpmPiece> SpmProcessor::encode(std::string_view text) const {
  std::vector<SpmPiece> out;
  char err[512] = {0};
  auto cb = [](void* ctx, const char* piece, size_t len, int id, unsigned b, unsigned e) {
    static_cast<std::vector<SpmPiece>*>(ctx)->push_back({std::string(piece, len), id, b, e});
  };
  if (shim().encode(handle_, text.data(), text.size(), cb, &out, err, sizeof err) != 0)
    throw Error(std::string("sentencepiece: ") + err);
  return out;
}

}  // namespace sbert::tok
