#include "tokenizer/precompiled_charsmap.h"

#include <cstring>

#include "sbert/error.h"

namespace sbert::tok {

PrecompiledCharsmap::PrecompiledCharsmap(std::string_view blob) {
  if (blob.empty()) return;
  if (blob.size() < 4) throw Error("precompiled_charsmap: truncated header");
  const auto* p = reinterpret_cast<const unsigned char*>(blob.data());
  const uint32_t trie_bytes = p[0] | (p[1] << 8) | (p[2] << 16) | (uint32_t(p[3]) << 24);
  if (trie_bytes % 4 != 0 || trie_bytes > blob.size() - 4)
    throw Error("precompiled_charsmap: trie size " + std::to_string(trie_bytes) +
                " does not fit the " + std::to_string(blob.size()) + "-byte blob");
  units_.resize(trie_bytes / 4);
  for (size_t i = 0; i < units_.size(); ++i) {
    const unsigned char* u = p + 4 + 4 * i;
    units_[i] = u[0] | (u[1] << 8) | (u[2] << 16) | (uint32_t(u[3]) << 24);
  }
  normalized_.assign(blob.substr(4 + trie_bytes));
  if (units_.empty()) throw Error("precompiled_charsmap: empty trie");
}

// Darts-clone unit fields: bit 8 = has a leaf child, bits 0..7 (+ bit 31) = label,
// bits 10..31 = offset to the children (scaled by 256 when bit 9 is set); a leaf unit holds
// the value in bits 0..30.
namespace {
inline bool has_leaf(uint32_t u) { return (u >> 8) & 1; }
inline uint32_t value_of(uint32_t u) { return u & 0x7FFFFFFFu; }
inline uint32_t label_of(uint32_t u) { return u & (0x80000000u | 0xFFu); }
inline uint32_t offset_of(uint32_t u) { return (u >> 10) << ((u & (1u << 9)) >> 6); }
}  // namespace

std::vector<PrecompiledCharsmap::PrefixMatch> PrecompiledCharsmap::common_prefix_search(
    std::string_view key) const {
  std::vector<PrefixMatch> out;
  if (units_.empty()) return out;
  size_t pos = offset_of(units_[0]);
  for (size_t i = 0; i < key.size(); ++i) {
    const auto c = static_cast<unsigned char>(key[i]);
    if (c == 0) break;
    pos ^= c;
    if (pos >= units_.size()) break;
    const uint32_t unit = units_[pos];
    if (label_of(unit) != c) break;
    pos ^= offset_of(unit);
    if (pos >= units_.size()) break;
    if (has_leaf(unit)) out.push_back({i + 1, value_of(units_[pos])});
  }
  return out;
}

std::string_view PrecompiledCharsmap::replacement(uint32_t offset) const {
  if (offset >= normalized_.size()) return {};
  const char* start = normalized_.data() + offset;
  const size_t n = strnlen(start, normalized_.size() - offset);
  return std::string_view(start, n);
}

std::optional<std::string_view> PrecompiledCharsmap::transform(std::string_view chunk) const {
  auto matches = common_prefix_search(chunk);
  if (matches.empty()) return std::nullopt;
  return replacement(matches.front().value);
}

std::string base64_decode(std::string_view in) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
  };
  std::string out;
  out.reserve(in.size() * 3 / 4);
  uint32_t buf = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=' || c == '\n' || c == '\r') continue;
    int v = val(c);
    if (v < 0) throw Error(std::string("base64: invalid character '") + c + "'");
    buf = (buf << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buf >> bits) & 0xFF));
    }
  }
  return out;
}

}  // namespace sbert::tok
