// JSON parsing with a bound on nesting depth: every reader of user files parses through these,
// so a 200,000-deep value is a one-line error rather than a stack overflow later (copying,
// dumping or walking a parsed value recurses once per level).
#pragma once
#include <istream>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace sbert {

constexpr int kMaxJsonDepth = 1000;

// Syntax errors throw nlohmann::json::parse_error as json::parse does; nesting deeper than
// kMaxJsonDepth throws sbert::Error "[where: ]JSON nested deeper than 1000 levels", and a number
// out of a double's range sbert::Error "[where: ]invalid JSON: ..." (nlohmann's out_of_range).
nlohmann::json parse_json(std::string_view text, const std::string& where = "");
nlohmann::json parse_json(const char* begin, const char* end, const std::string& where = "");
nlohmann::json parse_json(std::istream& in, const std::string& where = "");

}  // namespace sbert
