// Writing tables of records: JSON Lines, CSV (RFC 4180 quoting) or TSV (no quoting), with a
// header row for CSV/TSV, shortest round-trip floats and buffered writes through AtomicOutput.
//
//   TableWriter w(out, TableFormat::Csv);
//   w.header({"index", "label", "score"});
//   w.write(Fields().add("index", 0).add("label", "yes").add("score", 0.5f));
//
// JSON Lines rows read {"index": 0, "label": "yes", "score": 0.5}; a nested Fields is a JSON
// object, a float array a JSON array. In CSV/TSV every value is one field (a float array one
// field per element; a nested object or raw JSON its JSON text).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "sbert/output_file.h"

namespace sbert {

enum class TableFormat { Jsonl, Csv, Tsv };

// "jsonl" (or "ndjson") | "csv" | "tsv"; throws sbert::Error naming `what` otherwise.
TableFormat parse_table_format(const std::string& name, const std::string& what = "--format");
std::string table_format_name(TableFormat format);

// An ordered list of named values: one record (or one nested JSON object).
class Fields {
 public:
  Fields& add(std::string name, std::string_view text);
  Fields& add(std::string name, const std::string& text) { return add(std::move(name), std::string_view(text)); }
  Fields& add(std::string name, const char* text) { return add(std::move(name), std::string_view(text)); }
  Fields& add(std::string name, int value) { return add_int(std::move(name), value); }
  Fields& add(std::string name, long value) { return add_int(std::move(name), value); }
  Fields& add(std::string name, long long value) { return add_int(std::move(name), value); }
  Fields& add(std::string name, unsigned long value) { return add_uint(std::move(name), value); }
  Fields& add(std::string name, unsigned long long value) { return add_uint(std::move(name), value); }
  Fields& add(std::string name, float value);
  Fields& add(std::string name, double value) = delete;  // say which: float32 shortest text
  Fields& add(std::string name, bool value);
  Fields& add_int(std::string name, int64_t value);
  Fields& add_uint(std::string name, uint64_t value);
  Fields& add_floats(std::string name, const float* values, size_t n);
  Fields& add_floats(std::string name, const std::vector<float>& values) {
    return add_floats(std::move(name), values.data(), values.size());
  }
  Fields& add_strings(std::string name, const std::vector<std::string>& values);
  Fields& add_object(std::string name, const Fields& object);
  // A JSON value written as is (compact); in CSV/TSV its JSON text (a string: the string).
  Fields& add_json(std::string name, const nlohmann::json& value);
  Fields& add_null(std::string name);
  // Rows of floats as a JSON array of arrays (CSV/TSV: its JSON text).
  Fields& add_float_rows(std::string name, const float* data, size_t rows, size_t cols);
  // Text that already is JSON, written as is.
  Fields& add_raw_json(std::string name, std::string json_text);

  size_t size() const { return cells_.size(); }
  bool empty() const { return cells_.empty(); }
  const std::string& name(size_t i) const { return cells_[i].name; }

  // {"a": 1, "b": [1, 2]}
  std::string json() const;
  void append_json(std::string& out) const;
  // The fields joined by `delimiter` (',' quotes per RFC 4180; '\t' cleans).
  void append_delimited(std::string& out, char delimiter) const;

 private:
  enum class Kind { Text, Number, Floats, Strings, Object, Json, Null };
  struct Cell {
    std::string name;
    Kind kind;
    std::string text;            // Text: the string; Number: its text; Json: compact JSON
    std::vector<float> floats;   // Floats
    std::vector<std::string> strings;
    std::shared_ptr<Fields> object;
  };
  std::vector<Cell> cells_;
};

class TableWriter {
 public:
  TableWriter(AtomicOutput& out, TableFormat format);
  ~TableWriter();  // flushes what is buffered (commit stays with the AtomicOutput's owner)

  TableFormat format() const { return format_; }
  bool tabular() const { return format_ != TableFormat::Jsonl; }
  char delimiter() const { return format_ == TableFormat::Tsv ? '\t' : ','; }
  // CSV/TSV: writes the header row (JSON Lines: nothing).
  void header(const std::vector<std::string>& columns);
  void write(const Fields& row);
  // A line written as is (its own newline included).
  void write_raw(std::string_view line);
  void flush();

 private:
  AtomicOutput& out_;
  TableFormat format_;
  std::string buf_;
};

}  // namespace sbert
