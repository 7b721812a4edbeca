#include "sbert/json_parse.h"

#include "sbert/error.h"

namespace sbert {
namespace {

nlohmann::json::parser_callback_t depth_guard(const std::string& where) {
  // `depth` counts the containers already open when a new one starts.
  return [where](int depth, nlohmann::json::parse_event_t event, nlohmann::json&) {
    const bool opens = event == nlohmann::json::parse_event_t::object_start ||
                       event == nlohmann::json::parse_event_t::array_start;
    if (opens && depth >= kMaxJsonDepth)
      throw Error((where.empty() ? std::string() : where + ": ") + "JSON nested deeper than " +
                  std::to_string(kMaxJsonDepth) + " levels");
    return true;
  };
}

// nlohmann reports a number too large for a double (1e999999) as out_of_range, not as a
// parse error: make it the same one-line sbert::Error as every other bad input.
template <class F>
nlohmann::json guarded(const std::string& where, F&& parse) {
  try {
    return parse();
  } catch (const nlohmann::json::out_of_range& e) {
    throw Error((where.empty() ? std::string() : where + ": ") + "invalid JSON: " + e.what());
  }
}

}  // namespace

nlohmann::json parse_json(std::string_view text, const std::string& where) {
  return guarded(where, [&] { return nlohmann::json::parse(text.begin(), text.end(), depth_guard(where)); });
}

nlohmann::json parse_json(const char* begin, const char* end, const std::string& where) {
  return guarded(where, [&] { return nlohmann::json::parse(begin, end, depth_guard(where)); });
}

nlohmann::json parse_json(std::istream& in, const std::string& where) {
  return guarded(where, [&] { return nlohmann::json::parse(in, depth_guard(where)); });
}

void throw_json_integer_error(const std::string& what, const std::string& got, const std::string& lo,
                              const std::string& hi) {
  std::string shown = got.size() > 40 ? got.substr(0, 40) + "..." : got;
  throw Error(what + " must be an integer in [" + lo + ", " + hi + "], got " + shown);
}

}  // namespace sbert
