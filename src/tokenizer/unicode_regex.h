// A compiled PCRE2 regular expression over code points (the 32-bit library, UTF + UCP: \s, \w,
// \d and POSIX classes follow Unicode properties), JIT-compiled where the platform allows.
// Every match runs under a match limit, so a pattern that backtracks catastrophically on a long
// text fails with an sbert::Error instead of running for hours.
#pragma once
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sbert::tok {

class UnicodeRegex {
 public:
  // Compiles `pattern` (UTF-8); an invalid one throws sbert::Error "<where>: invalid regex
  // '<pattern>': <PCRE2's message> at offset N".
  UnicodeRegex(std::string_view pattern, const std::string& where);
  ~UnicodeRegex();
  UnicodeRegex(const UnicodeRegex&) = delete;
  UnicodeRegex& operator=(const UnicodeRegex&) = delete;

  // Every non-overlapping match in `text[0, n)`, left to right, as [begin, end) code point
  // indices. An empty match is reported and the search resumes one code point further. Throws
  // sbert::Error naming the pattern when a match passes the backtracking limit.
  std::vector<std::pair<size_t, size_t>> find_all(const char32_t* text, size_t n) const;

  const std::string& pattern() const { return pattern_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string pattern_, shown_, where_;
};

}  // namespace sbert::tok
