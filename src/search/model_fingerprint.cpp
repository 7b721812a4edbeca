// Model fingerprint: a fast 64-bit content hash of the model folder. Content rather than mtimes,
// so that a copied model keeps its fingerprint and a re-trained one with the same sizes does not.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "sbert/error.h"
#include "sbert/search_index.h"

namespace sbert {

namespace {

constexpr uint64_t P1 = 0x9E3779B185EBCA87ULL;
constexpr uint64_t P2 = 0xC2B2AE3D27D4EB4FULL;
constexpr uint64_t P3 = 0x165667B19E3779F9ULL;
constexpr uint64_t P4 = 0x85EBCA77C2B2AE63ULL;

inline uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
inline uint64_t round64(uint64_t acc, uint64_t v) { return rotl(acc + v * P2, 31) * P1; }

// xxHash64-style streaming hash (four lanes over 32-byte stripes). Not meant to be compatible
// with xxHash; only stable across sbert versions, which the manifest records.
class Hash64 {
 public:
  void update(const void* data, size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    total_ += n;
    while (n) {
      size_t take = std::min(n, sizeof(buf_) - len_);
      std::memcpy(buf_ + len_, p, take);
      len_ += take;
      p += take;
      n -= take;
      if (len_ == sizeof(buf_)) {
        stripe(buf_);
        len_ = 0;
      }
    }
  }
  void update_u64(uint64_t v) { update(&v, sizeof v); }
  void update_str(const std::string& s) {
    update_u64(s.size());
    update(s.data(), s.size());
  }
  uint64_t digest() const {
    uint64_t h = rotl(v_[0], 1) + rotl(v_[1], 7) + rotl(v_[2], 12) + rotl(v_[3], 18);
    for (uint64_t v : v_) h = (h ^ round64(0, v)) * P1 + P4;
    h += total_;
    for (size_t i = 0; i < len_; ++i) h = rotl(h ^ (buf_[i] * P3), 11) * P1;
    h ^= h >> 33;
    h *= P2;
    h ^= h >> 29;
    h *= P3;
    h ^= h >> 32;
    return h;
  }

 private:
  void stripe(const unsigned char* p) {
    for (int i = 0; i < 4; ++i) {
      uint64_t w;
      std::memcpy(&w, p + 8 * i, 8);
      v_[i] = round64(v_[i], w);
    }
  }
  uint64_t v_[4] = {P1 + P2, P2, 0, 0 - P1};
  unsigned char buf_[32];
  size_t len_ = 0;
  uint64_t total_ = 0;
};

bool skipped(const std::filesystem::path& rel) {
  for (const auto& part : rel) {
    std::string s = part.string();
    if (!s.empty() && s[0] == '.') return true;
  }
  auto ext = rel.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
  return ext == ".md";
}

}  // namespace

std::string model_fingerprint(const std::filesystem::path& model_dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(model_dir, ec))
    throw Error(model_dir.string() + ": model folder not found (needed for the model fingerprint)");
  std::vector<std::pair<std::string, fs::path>> files;
  for (auto it = fs::recursive_directory_iterator(model_dir, fs::directory_options::follow_directory_symlink, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    fs::path rel = fs::relative(it->path(), model_dir);
    if (skipped(rel)) {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file()) files.emplace_back(rel.generic_string(), it->path());
  }
  if (ec) throw Error(model_dir.string() + ": cannot list the model folder: " + ec.message());
  if (files.empty()) throw Error(model_dir.string() + ": model folder is empty");
  std::sort(files.begin(), files.end());

  Hash64 h;
  std::vector<char> buf(1 << 20);
  for (const auto& [rel, path] : files) {
    h.update_str(rel);
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) throw Error(path.string() + ": cannot read (model fingerprint)");
    uint64_t size = 0;
    size_t n;
    while ((n = std::fread(buf.data(), 1, buf.size(), f)) > 0) {
      h.update(buf.data(), n);
      size += n;
    }
    bool err = std::ferror(f);
    std::fclose(f);
    if (err) throw Error(path.string() + ": read error (model fingerprint)");
    h.update_u64(size);
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h.digest()));
  return std::string("h64:") + hex;
}

}  // namespace sbert
