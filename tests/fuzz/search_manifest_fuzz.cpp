// The search index manifest (manifest.json): JSON text -> IndexManifest, and back.
#include <nlohmann/json.hpp>

#include "sbert/error.h"
#include "sbert/json_parse.h"
#include "sbert/search_index.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nlohmann::json j;
  try {
    j = sbert::parse_json(std::string_view(reinterpret_cast<const char*>(data), size), "manifest.json");
  } catch (const sbert::Error&) {
    return 0;
  } catch (const nlohmann::json::parse_error&) {
    return 0;  // not JSON: read_manifest reports that itself
  }
  try {
    sbert::IndexManifest m = sbert::IndexManifest::from_json(j, "manifest.json");
    (void)m.to_json().dump();
  } catch (const sbert::Error&) {
  } catch (const nlohmann::json::exception&) {
    // from_json is documented to throw sbert::Error; a json exception here is a bug
    std::abort();
  }
  return 0;
}
