// Reading texts and records from files or stdin: plain lines, JSON Lines, CSV (RFC 4180,
// through libcsv) and TSV. Records stream one at a time so memory does not grow with the input.
#pragma once
#include <cstddef>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace sbert {

enum class InputFormat { Auto, Lines, Jsonl, Csv, Tsv };

// "auto" | "lines" | "jsonl" | "csv" | "tsv"; throws sbert::Error on anything else.
InputFormat parse_input_format(const std::string& name);
// Auto resolved from a file name: .jsonl/.ndjson -> jsonl, .csv -> csv, .tsv -> tsv, else lines.
InputFormat resolve_input_format(InputFormat format, const std::string& path);

struct Record {
  std::string source;               // file name, or "<stdin>"
  size_t line = 0;                  // 1-based line where the record starts
  std::vector<std::string> fields;  // lines: {text}; csv/tsv: the columns; jsonl: empty
  nlohmann::json object;            // jsonl: the parsed object; otherwise null
};

struct ReaderOptions {
  InputFormat format = InputFormat::Auto;
  bool header = true;       // csv/tsv: the first row names the columns
  char delimiter = 0;       // csv/tsv: 0 = ',' for csv, '\t' for tsv
  bool quoting = true;      // csv: RFC 4180 quotes; tsv never uses quotes
};

// Reads records from several files in order ("-" or an empty list = stdin).
// Invalid UTF-8 is replaced by U+FFFD and counted; empty files are fine (no records).
class RecordReader {
 public:
  RecordReader(std::vector<std::string> files, ReaderOptions options);
  ~RecordReader();
  RecordReader(const RecordReader&) = delete;
  RecordReader& operator=(const RecordReader&) = delete;

  // False at the end of all inputs. Throws sbert::Error naming file and line on malformed input.
  bool next(Record& record);
  // Column names of the current csv/tsv file (header row, or "0", "1", ... without header).
  const std::vector<std::string>& columns() const;
  InputFormat current_format() const;
  size_t invalid_utf8_replaced() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Picks one field of a record by column name or 0-based index (csv/tsv), or by key (jsonl,
// dotted paths not supported). An empty spec means "the text": the line itself, the only
// column, or the "text" key.
class FieldSelector {
 public:
  FieldSelector() = default;
  FieldSelector(std::string spec, std::string what) : spec_(std::move(spec)), what_(std::move(what)) {}
  bool empty() const { return spec_.empty(); }
  const std::string& spec() const { return spec_; }
  // An empty spec means the only column, else the column (or JSON key) named "text".
  // Throws sbert::Error "FILE:LINE: no column 'x' (columns: a, b, c)" and the like, with a hint
  // when a CSV file looks tab-separated (or a TSV file comma-separated).
  std::string get(const Record& record, const RecordReader& reader) const;

 private:
  std::string get_unhinted(const Record& record, const RecordReader& reader) const;
  std::string spec_;
  std::string what_ = "field";
};

// A field that must hold a finite number (blanks around it allowed): throws sbert::Error
// "WHERE: WHAT 'x' is not a number" otherwise.
double parse_number_field(const std::string& raw, const std::string& where, const std::string& what);

// Replaces invalid UTF-8 sequences by U+FFFD in place; returns how many were replaced.
size_t sanitize_utf8(std::string& text);

}  // namespace sbert
