#include "sbert/json_parse.h"

#include <iterator>
#include <string>

#include "sbert/error.h"

namespace sbert {
namespace {

// Refuses nesting deeper than kMaxJsonDepth with one linear scan of the text (brackets outside
// strings), before nlohmann builds anything. (A parser callback would do it during the parse,
// but nlohmann's callback parser searches the enclosing container for discarded values after
// every element: quadratic, > 10 min for a 2-million-entry array.)
void check_depth(std::string_view text, const std::string& where) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth)
        throw Error((where.empty() ? std::string() : where + ": ") + "JSON nested deeper than " +
                    std::to_string(kMaxJsonDepth) + " levels");
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
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
  check_depth(text, where);
  return guarded(where, [&] { return nlohmann::json::parse(text.begin(), text.end()); });
}

nlohmann::json parse_json(const char* begin, const char* end, const std::string& where) {
  return parse_json(std::string_view(begin, static_cast<size_t>(end - begin)), where);
}

nlohmann::json parse_json(std::istream& in, const std::string& where) {
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return parse_json(std::string_view(text), where);
}

void throw_json_integer_error(const std::string& what, const std::string& got, const std::string& lo,
                              const std::string& hi) {
  std::string shown = got.size() > 40 ? got.substr(0, 40) + "..." : got;
  throw Error(what + " must be an integer in [" + lo + ", " + hi + "], got " + shown);
}

}  // namespace sbert
