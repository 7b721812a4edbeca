// Small text helpers shared by every writer: number formatting, JSON/CSV/TSV quoting,
// UTF-8-safe shortening, sizes and counts for log lines.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sbert {

// Shortest text that reads back as the same float32; "null" for NaN/Inf (JSON has neither).
void append_float(std::string& out, float value);
std::string format_float(float value);
// A JSON string literal (with quotes); invalid UTF-8 is replaced by U+FFFD.
std::string json_quote(std::string_view s);
// One CSV field, quoted per RFC 4180 when it holds the delimiter, a quote or a line break.
std::string csv_field(std::string_view s, char delimiter = ',');
// TSV has no quoting: tabs and line breaks inside a field become spaces.
std::string tsv_clean(std::string s);
// At most `max_bytes` bytes of `s`, cut on a UTF-8 character boundary, "…" appended when cut.
std::string shorten_utf8(const std::string& s, size_t max_bytes);
// "512 B", "1.5 kB", "3.2 GB" (powers of 1000).
std::string human_bytes(double bytes);
// "1 cluster", "3 clusters"; `plural_form` defaults to singular + "s".
std::string count_of(size_t n, const std::string& singular, const std::string& plural_form = "");

}  // namespace sbert
