// The sentencepiece "precompiled_charsmap": a normalization table compiled into a Darts-clone
// double-array trie over UTF-8 byte keys, followed by a blob of NUL-terminated replacement
// strings the trie values point into. Layout: u32 (little endian) trie size in bytes,
// the trie's u32 units, then the replacement blob.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sbert::tok {

class PrecompiledCharsmap {
 public:
  PrecompiledCharsmap() = default;
  // Throws sbert::Error when the blob is truncated or inconsistent.
  explicit PrecompiledCharsmap(std::string_view blob);

  bool empty() const { return units_.empty(); }
  // Offsets (into the replacement blob) of every trie key that is a prefix of `key`, shortest
  // first, with the key length in bytes.
  struct PrefixMatch {
    size_t length;
    uint32_t value;
  };
  std::vector<PrefixMatch> common_prefix_search(std::string_view key) const;
  // The replacement of the shortest trie key that prefixes `chunk` (what the Hugging Face
  // Precompiled normalizer uses), or nullopt.
  std::optional<std::string_view> transform(std::string_view chunk) const;
  // The replacement string stored at `offset`.
  std::string_view replacement(uint32_t offset) const;

 private:
  std::vector<uint32_t> units_;
  std::string normalized_;
};

std::string base64_decode(std::string_view in);  // throws sbert::Error on bad input

}  // namespace sbert::tok
