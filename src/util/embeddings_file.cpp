#include "sbert/json_parse.h"
#include "sbert/embeddings_file.h"

#include <fstream>
#include <nlohmann/json.hpp>

#include "sbert/error.h"
#include "sbert/npy.h"

namespace sbert {
namespace {

bool has_suffix(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool looks_like_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open embeddings file " + path);
  char magic[6] = {};
  in.read(magic, 6);
  return in.gcount() == 6 && std::string(magic, 6) == "\x93NUMPY";
}

EmbeddingsFile read_jsonl(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open embeddings file " + path);
  EmbeddingsFile out;
  std::vector<float>& data = out.vectors.data;
  bool all_texts = true, all_ids = true;
  std::string line;
  size_t line_no = 0, rows = 0, cols = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    const std::string where = path + ":" + std::to_string(line_no);
    nlohmann::json j;
    try {
      j = parse_json(line, where);
    } catch (const nlohmann::json::exception& e) {
      throw Error(where + ": invalid JSON (" + std::string(e.what()) + ")");
    }
    if (!j.is_object()) throw Error(where + ": expected a JSON object per line");
    auto it = j.find("embedding");
    if (it == j.end() || !it->is_array())
      throw Error(where + ": no \"embedding\" array in the object");
    if (rows == 0) cols = it->size();
    if (it->size() != cols)
      throw Error(where + ": embedding has " + std::to_string(it->size()) +
                  " dimensions, earlier rows have " + std::to_string(cols));
    if (cols == 0) throw Error(where + ": empty embedding");
    for (const auto& v : *it) {
      if (!v.is_number()) throw Error(where + ": embedding holds a non-number (" + v.dump() + ")");
      data.push_back(v.get<float>());
    }
    auto t = j.find("text");
    if (all_texts && t != j.end() && t->is_string()) out.texts.push_back(t->get<std::string>());
    else all_texts = false;
    auto id = j.find("id");
    if (all_ids && id != j.end() && !id->is_null())
      out.ids.push_back(id->is_string() ? id->get<std::string>() : id->dump());
    else all_ids = false;
    ++rows;
  }
  if (rows == 0) throw Error(path + ": no embeddings in the file");
  if (!all_texts) out.texts.clear();
  if (!all_ids) out.ids.clear();
  out.vectors.rows = rows;
  out.vectors.cols = cols;
  return out;
}

}  // namespace

EmbeddingsFile read_embeddings(const std::string& path) {
  bool npy;
  if (has_suffix(path, ".npy")) npy = true;
  else if (has_suffix(path, ".jsonl") || has_suffix(path, ".ndjson") || has_suffix(path, ".json"))
    npy = false;
  else npy = looks_like_npy(path);
  if (!npy) return read_jsonl(path);
  EmbeddingsFile out;
  out.vectors = read_npy(path);
  if (out.vectors.rows == 0) throw Error(path + ": no embeddings in the file");
  return out;
}

}  // namespace sbert
