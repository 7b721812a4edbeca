// JSON parsing with a bound on nesting depth: every reader of user files parses through these,
// so a 200,000-deep value is a one-line error rather than a stack overflow later (copying,
// dumping or walking a parsed value recurses once per level).
#pragma once
#include <cstdint>
#include <istream>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <type_traits>

namespace sbert {

constexpr int kMaxJsonDepth = 1000;

// Syntax errors throw nlohmann::json::parse_error as json::parse does; nesting deeper than
// kMaxJsonDepth throws sbert::Error "[where: ]JSON nested deeper than 1000 levels", and a number
// out of a double's range sbert::Error "[where: ]invalid JSON: ..." (nlohmann's out_of_range).
nlohmann::json parse_json(std::string_view text, const std::string& where = "");
nlohmann::json parse_json(const char* begin, const char* end, const std::string& where = "");
nlohmann::json parse_json(std::istream& in, const std::string& where = "");

// The error json_integer throws (out of line: keeps sbert/error.h out of this header).
[[noreturn]] void throw_json_integer_error(const std::string& what, const std::string& got,
                                           const std::string& lo, const std::string& hi);

// `v` as the integer type T, or sbert::Error "<what> must be an integer in [lo, hi], got <v>".
// Unlike v.get<T>(), a float (1.2e27), a negative value for an unsigned T or a value out of T's
// range is an error, never a silent wrap or an undefined float-to-integer cast. A float with an
// integral value in range (512.0) is accepted, as Python's int() would.
template <class T>
T json_integer(const nlohmann::json& v, const std::string& what) {
  static_assert(std::is_integral_v<T> && !std::is_same_v<T, bool>);
  using L = std::numeric_limits<T>;
  auto in_range_signed = [](std::int64_t i) {
    return i >= static_cast<std::int64_t>(L::min()) &&
           (!L::is_signed ? static_cast<std::uint64_t>(i) <= static_cast<std::uint64_t>(L::max())
                          : i <= static_cast<std::int64_t>(L::max()));
  };
  auto in_range_unsigned = [](std::uint64_t u) { return u <= static_cast<std::uint64_t>(L::max()); };
  if (v.is_number_unsigned()) {
    const auto u = v.get<std::uint64_t>();
    if (in_range_unsigned(u)) return static_cast<T>(u);
  } else if (v.is_number_integer()) {
    const auto i = v.get<std::int64_t>();
    if (in_range_signed(i)) return static_cast<T>(i);
  } else if (v.is_number_float()) {
    // -2^63 and 2^64 are exact doubles: inside these bounds the casts below are defined (a NaN
    // fails both comparisons).
    const double d = v.get<double>();
    if (d >= -9223372036854775808.0 && d < 0) {
      const auto i = static_cast<std::int64_t>(d);
      if (static_cast<double>(i) == d && in_range_signed(i)) return static_cast<T>(i);
    } else if (d >= 0 && d < 18446744073709551616.0) {
      const auto u = static_cast<std::uint64_t>(d);
      if (static_cast<double>(u) == d && in_range_unsigned(u)) return static_cast<T>(u);
    }
  }
  throw_json_integer_error(what, v.dump(), std::to_string(L::min()), std::to_string(L::max()));
}

}  // namespace sbert
