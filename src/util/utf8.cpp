#include <cstdint>
#include <string>

#include "sbert/text_input.h"

namespace sbert {

namespace {
// Length of the valid UTF-8 sequence starting at s[i], or 0 if it is invalid.
size_t valid_sequence_length(const std::string& s, size_t i) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size();
  unsigned char c = p[i];
  if (c < 0x80) return 1;
  auto cont = [&](size_t k) { return i + k < n && (p[i + k] & 0xC0) == 0x80; };
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xE0 && p[i + 1] < 0xA0) return 0;  // overlong
    if (c == 0xED && p[i + 1] > 0x9F) return 0;  // surrogates
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xF0 && p[i + 1] < 0x90) return 0;  // overlong
    if (c == 0xF4 && p[i + 1] > 0x8F) return 0;  // > U+10FFFF
    return 4;
  }
  return 0;
}
}  // namespace

size_t sanitize_utf8(std::string& text) {
  // Fast path: pure ASCII or already valid.
  size_t i = 0, n = text.size();
  while (i < n) {
    size_t len = valid_sequence_length(text, i);
    if (len == 0) break;
    i += len;
  }
  if (i == n) return 0;
  std::string out;
  out.reserve(n + 16);
  out.append(text, 0, i);
  size_t replaced = 0;
  while (i < n) {
    size_t len = valid_sequence_length(text, i);
    if (len == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD, one per invalid byte (as Python's errors="replace")
      ++replaced;
      ++i;
    } else {
      out.append(text, i, len);
      i += len;
    }
  }
  text.swap(out);
  return replaced;
}

}  // namespace sbert
