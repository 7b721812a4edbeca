// Reads a tokenizer.json into a JSON value, except a BPE model's "vocab" and "merges" (and a
// WordPiece model's "vocab"): those stream straight into flat tables (Gemma 3's file holds 262k vocab entries and 514k merges; as
// JSON values they cost millions of allocations and most of the load time).
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace sbert::tok {

struct BpeTables {
  bool has_vocab = false, has_merges = false;  // taken out of model; absent from the JSON value
  std::vector<std::pair<std::string, int64_t>> vocab;
  std::vector<std::pair<std::string, std::string>> merges;  // both formats, as token pairs
};

// Parses `text`; on anything the fast path does not expect (a syntax error, a deep value, a merge
// that is neither ["a", "b"] nor "a b", a vocab id that is not an integer, ...) it parses again
// with sbert::parse_json and leaves `tables` empty, so every error reads as it always did.
nlohmann::json read_tokenizer_json(const std::string& text, const std::string& where, BpeTables& tables);

}  // namespace sbert::tok
