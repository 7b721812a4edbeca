// Shard manifests (OUT.shard.json): JSON text -> ShardManifest and back, and the part digests
// `sbert merge` checks parts against (row counts per format, the npy header), on any bytes.
#include <nlohmann/json.hpp>

#include "sbert/error.h"
#include "sbert/json_parse.h"
#include "sbert/shard.h"

namespace {

void digest_property(std::string_view bytes) {
  for (const char* format : {"jsonl", "csv", "tsv", "npy", "f32", "vecs", "meta"}) {
    for (bool header : {true, false}) {
      sbert::PartDigest whole;
      try {
        whole = sbert::digest_bytes(bytes, format, header, "part");
      } catch (const sbert::Error&) {
        continue;  // a malformed npy: a clean rejection
      }
      // Streamed in two pieces: the same digest (rows counted across the cut, quotes included).
      sbert::PartDigester d(format, header);
      const size_t cut = bytes.size() / 3;
      d.add(bytes.substr(0, cut));
      d.add(bytes.substr(cut));
      sbert::PartDigest split = d.finish("part");
      if (split.bytes != whole.bytes || split.fnv1a64 != whole.fnv1a64 || split.rows != whole.rows) std::abort();
      if (whole.bytes != bytes.size()) std::abort();
      if (whole.rows && *whole.rows > bytes.size() + 1 && std::string_view(format) != "npy") std::abort();
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  digest_property(bytes);
  nlohmann::json j;
  try {
    j = sbert::parse_json(bytes, "p.shard.json");
  } catch (const sbert::Error&) {
    return 0;
  } catch (const nlohmann::json::parse_error&) {
    return 0;  // not JSON: read_shard_manifest reports that itself
  }
  try {
    sbert::ShardManifest m = sbert::ShardManifest::from_json(j, "p.shard.json");
    // What from_json accepted writes back to a manifest that reads the same.
    sbert::ShardManifest back = sbert::ShardManifest::from_json(m.to_json(), "again");
    if (back.shard != m.shard || back.count != m.count || back.records != m.records ||
        back.range.begin != m.range.begin || back.range.end != m.range.end || back.rows != m.rows ||
        back.format != m.format || back.header != m.header || back.output.size() != m.output.size())
      std::abort();
    for (const auto& [name, d] : m.output) {
      const sbert::PartDigest& e = back.output.at(name);
      if (e.bytes != d.bytes || e.fnv1a64 != d.fnv1a64 || e.rows != d.rows) std::abort();
    }
  } catch (const sbert::Error&) {
  } catch (const nlohmann::json::exception&) {
    std::abort();  // from_json is documented to throw sbert::Error; a json exception here is a bug
  } catch (const std::out_of_range&) {
    std::abort();
  }
  return 0;
}
