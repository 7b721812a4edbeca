#include "hub/sha256.h"

#include <openssl/evp.h>

#include <cstdio>

#include "sbert/error.h"

namespace sbert::hub {

void Sha256::CtxFree::operator()(evp_md_ctx_st* ctx) const { EVP_MD_CTX_free(ctx); }

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1)
    throw Error("sha256: OpenSSL could not initialise the digest");
}
Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(const void* data, size_t size) {
  if (size > 0 && EVP_DigestUpdate(ctx_.get(), data, size) != 1)
    throw Error("sha256: OpenSSL digest update failed");
}

std::array<std::uint8_t, 32> Sha256::digest() {
  std::array<std::uint8_t, 32> out{};
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx_.get(), out.data(), &len) != 1 || len != out.size())
    throw Error("sha256: OpenSSL digest finalisation failed");
  return out;
}

std::string Sha256::hex_digest() {
  static const char* kHex = "0123456789abcdef";
  std::string s;
  for (std::uint8_t b : digest()) {
    s += kHex[b >> 4];
    s += kHex[b & 15];
  }
  return s;
}

std::string sha256_hex(std::string_view data) {
  Sha256 h;
  h.update(data);
  return h.hex_digest();
}

std::string sha256_file_hex(const std::filesystem::path& path) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) throw Error(path.string() + ": cannot open for hashing");
  Sha256 h;
  std::unique_ptr<char[]> buf(new char[1 << 20]);
  size_t n;
  while ((n = std::fread(buf.get(), 1, 1 << 20, f.get())) > 0) h.update(buf.get(), n);
  if (std::ferror(f.get())) throw Error(path.string() + ": read error while hashing");
  return h.hex_digest();
}

}  // namespace sbert::hub
