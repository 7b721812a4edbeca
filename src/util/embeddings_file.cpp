#include "sbert/json_parse.h"
#include "sbert/embeddings_file.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "sbert/error.h"
#include "sbert/npy.h"
#include "sbert/text_input.h"

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

// A CSV/TSV table as `sbert embed --format csv|tsv` writes it: a header, columns e0..eN in order,
// optional "id" and "text".
EmbeddingsFile read_table(const std::string& path, InputFormat format) {
  ReaderOptions opts;
  opts.format = format;
  RecordReader reader({path}, opts);
  EmbeddingsFile out;
  std::vector<size_t> dims;
  long id_col = -1, text_col = -1;
  Record r;
  size_t rows = 0;
  while (reader.next(r)) {
    if (rows == 0) {
      const auto& cols = reader.columns();
      for (size_t i = 0; i < cols.size(); ++i) {
        if (cols[i] == "id") id_col = static_cast<long>(i);
        if (cols[i] == "text") text_col = static_cast<long>(i);
      }
      for (size_t j = 0;; ++j) {
        auto it = std::find(cols.begin(), cols.end(), "e" + std::to_string(j));
        if (it == cols.end()) break;
        dims.push_back(static_cast<size_t>(it - cols.begin()));
      }
      if (dims.empty())
        throw Error(path + ":1: no embedding columns e0, e1, ... in the header (as sbert embed --format " +
                    std::string(format == InputFormat::Csv ? "csv" : "tsv") + " writes them)");
    }
    const std::string where = path + ":" + std::to_string(r.line);
    for (size_t c : dims)
      out.vectors.data.push_back(
          static_cast<float>(parse_number_field(r.fields[c], where, "column '" + reader.columns()[c] + "'")));
    if (id_col >= 0) out.ids.push_back(r.fields[static_cast<size_t>(id_col)]);
    if (text_col >= 0) out.texts.push_back(r.fields[static_cast<size_t>(text_col)]);
    ++rows;
  }
  if (rows == 0) throw Error(path + ": no embeddings in the file");
  out.vectors.rows = rows;
  out.vectors.cols = dims.size();
  return out;
}

size_t shape_field(const nlohmann::json& j, const char* key, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end()) throw Error(where + ": no \"" + key + "\" (expected rows, dimension and dtype)");
  return json_integer<size_t>(*it, where + ": \"" + key + "\"");
}

// Raw float32 with its shape in PATH.json.
EmbeddingsFile read_f32(const std::string& path) {
  const std::string shape_path = f32_shape_path(path);
  std::ifstream shape_in(shape_path, std::ios::binary);
  if (!shape_in)
    throw Error(path + ": raw float32 carries no shape, and " + shape_path +
                " (which sbert embed --format f32 writes beside it) is missing; write it as "
                "{\"rows\": N, \"dimension\": D, \"dtype\": \"float32\"} or use --format npy");
  std::string text((std::istreambuf_iterator<char>(shape_in)), std::istreambuf_iterator<char>());
  nlohmann::json j;
  try {
    j = parse_json(text, shape_path);
  } catch (const nlohmann::json::exception& e) {
    throw Error(shape_path + ": invalid JSON (" + std::string(e.what()) + ")");
  }
  if (!j.is_object()) throw Error(shape_path + ": expected a JSON object with rows, dimension and dtype");
  const size_t rows = shape_field(j, "rows", shape_path), dim = shape_field(j, "dimension", shape_path);
  auto dtype = j.find("dtype");
  if (dtype != j.end() && (!dtype->is_string() || dtype->get<std::string>() != "float32"))
    throw Error(shape_path + ": dtype " + dtype->dump() + " is not supported (only \"float32\")");
  auto order = j.find("byte_order");
  if (order != j.end() && (!order->is_string() || order->get<std::string>() != "little"))
    throw Error(shape_path + ": byte_order " + order->dump() + " is not supported (only \"little\")");
  if (rows == 0 || dim == 0) throw Error(path + ": no embeddings in the file (" + shape_path + " says " +
                                         std::to_string(rows) + " x " + std::to_string(dim) + ")");
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) throw Error("cannot open embeddings file " + path + ": " + ec.message());
  if (dim > size / 4 / rows || size != rows * dim * 4)
    throw Error(path + ": " + std::to_string(size) + " bytes, but " + shape_path + " says " + std::to_string(rows) +
                " x " + std::to_string(dim) + " float32 (" + std::to_string(rows * dim * 4) + " bytes)");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot open embeddings file " + path);
  EmbeddingsFile out;
  out.vectors.rows = rows;
  out.vectors.cols = dim;
  out.vectors.data.resize(rows * dim);
  if (!in.read(reinterpret_cast<char*>(out.vectors.data.data()), static_cast<std::streamsize>(size)))
    throw Error(path + ": cannot read " + std::to_string(size) + " bytes");
  return out;
}

}  // namespace

std::string f32_shape_path(const std::string& path) { return path + ".json"; }

std::string f32_shape_json(size_t rows, size_t dimension) {
  return "{\"rows\": " + std::to_string(rows) + ", \"dimension\": " + std::to_string(dimension) +
         ", \"dtype\": \"float32\", \"byte_order\": \"little\"}";
}

EmbeddingsFile read_embeddings(const std::string& path) {
  if (has_suffix(path, ".csv")) return read_table(path, InputFormat::Csv);
  if (has_suffix(path, ".tsv")) return read_table(path, InputFormat::Tsv);
  std::error_code ec;
  if (has_suffix(path, ".f32") || std::filesystem::is_regular_file(f32_shape_path(path), ec)) return read_f32(path);
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
