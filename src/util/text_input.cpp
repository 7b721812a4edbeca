#include "sbert/json_parse.h"
#include "sbert/text_input.h"

#include <cmath>

#include <charconv>
#include <filesystem>

#include <csv.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <fstream>
#include <iostream>

#include "sbert/error.h"
#include "sbert/text_format.h"

namespace sbert {

InputFormat parse_input_format(const std::string& name) {
  if (name.empty() || name == "auto") return InputFormat::Auto;
  if (name == "lines" || name == "txt" || name == "text") return InputFormat::Lines;
  if (name == "jsonl" || name == "ndjson") return InputFormat::Jsonl;
  if (name == "csv") return InputFormat::Csv;
  if (name == "tsv") return InputFormat::Tsv;
  throw Error("unknown input format '" + name + "' (expected lines, jsonl, csv or tsv)");
}

InputFormat resolve_input_format(InputFormat format, const std::string& path) {
  if (format != InputFormat::Auto) return format;
  auto ends_with = [&](const char* ext) {
    size_t n = std::strlen(ext);
    return path.size() >= n && path.compare(path.size() - n, n, ext) == 0;
  };
  if (ends_with(".jsonl") || ends_with(".ndjson")) return InputFormat::Jsonl;
  if (ends_with(".csv")) return InputFormat::Csv;
  if (ends_with(".tsv")) return InputFormat::Tsv;
  return InputFormat::Lines;
}

struct RecordReader::Impl {
  std::vector<std::string> files;
  ReaderOptions options;
  size_t file_index = 0;
  bool open = false;
  std::ifstream file;
  std::istream* in = nullptr;
  std::string source;
  InputFormat format = InputFormat::Lines;
  size_t line_no = 0;
  std::vector<std::string> columns;
  bool header_pending = false;
  size_t invalid = 0;

  // CSV state (libcsv is push-based: we feed it line by line and collect finished rows).
  csv_parser parser{};
  bool parser_live = false;
  std::vector<std::string> row;
  struct Row {
    std::vector<std::string> fields;
    size_t line;
  };
  std::deque<Row> ready;
  size_t row_start_line = 0;
  size_t quote_open_line = 0;  // line where the quoted field still open at the end of a line began

  ~Impl() {
    if (parser_live) csv_free(&parser);
  }

  static void on_field(void* data, size_t len, void* self) {
    auto* impl = static_cast<Impl*>(self);
    impl->row.emplace_back(static_cast<const char*>(data), len);
  }
  static void on_row(int, void* self) {
    auto* impl = static_cast<Impl*>(self);
    impl->ready.push_back({std::move(impl->row), impl->row_start_line});
    impl->row.clear();
    impl->row_start_line = 0;
  }

  bool open_next() {
    if (file_index >= files.size()) return false;
    source = files[file_index++];
    line_no = 0;
    if (source == "-") {
      in = &std::cin;
      source = "<stdin>";
    } else {
      std::error_code ec;
      if (std::filesystem::is_directory(source, ec))
        throw Error(source + ": is a directory, not an input file");
      file = std::ifstream(source, std::ios::binary);
      if (!file) throw Error("cannot open " + source + ": " + std::strerror(errno));
      in = &file;
    }
    format = resolve_input_format(options.format, files[file_index - 1]);
    columns.clear();
    header_pending = options.header && (format == InputFormat::Csv || format == InputFormat::Tsv);
    ready.clear();
    row.clear();
    if (format == InputFormat::Csv) {
      if (parser_live) csv_free(&parser);
      if (csv_init(&parser, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0) throw Error("cannot initialise CSV parser");
      csv_set_delim(&parser, options.delimiter ? options.delimiter : ',');
      if (!options.quoting) csv_set_quote(&parser, '\0');
      parser_live = true;
      quote_open_line = 0;
    }
    open = true;
    return true;
  }

  void close_current() {
    if (file.is_open()) file.close();
    open = false;
  }

  bool read_line(std::string& line) {
    if (!std::getline(*in, line)) return false;
    ++line_no;
    // A UTF-8 byte-order mark opens many files saved on Windows; it is not part of the text
    // (nor of the first column's name).
    if (line_no == 1 && line.compare(0, 3, "\xEF\xBB\xBF") == 0) line.erase(0, 3);
    invalid += sanitize_utf8(line);
    return true;
  }

  std::string where() const { return source + ":" + std::to_string(line_no); }

  // Next raw row of the current file (fields + starting line), or false at EOF.
  bool next_row(std::vector<std::string>& fields, size_t& line) {
    std::string text;
    if (format == InputFormat::Tsv) {
      while (true) {
        if (!read_line(text)) return false;
        if (!text.empty() && text.back() == '\r') text.pop_back();
        if (text.empty()) continue;  // blank lines in a table are not rows
        fields.clear();
        size_t start = 0;
        char delim = options.delimiter ? options.delimiter : '\t';
        while (true) {
          size_t pos = text.find(delim, start);
          fields.push_back(text.substr(start, pos == std::string::npos ? std::string::npos : pos - start));
          if (pos == std::string::npos) break;
          start = pos + 1;
        }
        line = line_no;
        return true;
      }
    }
    // CSV through libcsv.
    while (ready.empty()) {
      if (!read_line(text)) {
        // RFC 4180 lets a quoted field hold newlines, so a quote left open is only an error at
        // the end of the file: it would otherwise swallow every line after it into one text.
        if (quote_open_line != 0) {
          throw Error(source + ":" + std::to_string(quote_open_line) +
                      ": the quote opened on this line is never closed (the quoted field would run to the end "
                      "of the file, " + count_of(line_no - quote_open_line + 1, "line") + ")");
        }
        if (csv_fini(&parser, on_field, on_row, this) != 0)
          throw Error(where() + ": malformed CSV at end of file (" + csv_strerror(csv_error(&parser)) + ")");
        if (ready.empty()) return false;
        break;
      }
      text += '\n';
      if (row_start_line == 0 && row.empty()) row_start_line = line_no;
      if (csv_parse(&parser, text.data(), text.size(), on_field, on_row, this) != text.size()) {
        throw Error(where() + ": malformed CSV (" + csv_strerror(csv_error(&parser)) + ")");
      }
      // libcsv's state after the line: inside a quoted field that has not closed yet?
      const bool inside_quotes = parser.quoted && parser.pstate == 2;  // FIELD_BEGUN
      if (!inside_quotes) quote_open_line = 0;
      else if (quote_open_line == 0) quote_open_line = line_no;
    }
    fields = std::move(ready.front().fields);
    line = ready.front().line;
    ready.pop_front();
    return true;
  }
};

RecordReader::RecordReader(std::vector<std::string> files, ReaderOptions options)
    : impl_(std::make_unique<Impl>()) {
  if (files.empty()) files.push_back("-");
  impl_->files = std::move(files);
  impl_->options = options;
}

RecordReader::~RecordReader() = default;

const std::vector<std::string>& RecordReader::columns() const { return impl_->columns; }
InputFormat RecordReader::current_format() const { return impl_->format; }
size_t RecordReader::invalid_utf8_replaced() const { return impl_->invalid; }

bool RecordReader::next(Record& record) {
  Impl& s = *impl_;
  while (true) {
    if (!s.open && !s.open_next()) return false;
    record.source = s.source;
    record.fields.clear();
    record.object = nullptr;
    if (s.format == InputFormat::Lines) {
      std::string text;
      if (!s.read_line(text)) {
        s.close_current();
        continue;
      }
      if (!text.empty() && text.back() == '\r') text.pop_back();
      record.line = s.line_no;
      record.fields.push_back(std::move(text));
      return true;
    }
    if (s.format == InputFormat::Jsonl) {
      std::string text;
      if (!s.read_line(text)) {
        s.close_current();
        continue;
      }
      size_t first = text.find_first_not_of(" \t\r");
      if (first == std::string::npos) continue;  // blank line
      try {
        record.object = parse_json(text, s.where());
      } catch (const nlohmann::json::parse_error& e) {
        throw Error(s.where() + ": invalid JSON (" + std::string(e.what()) + ")");
      }
      if (!record.object.is_object()) throw Error(s.where() + ": expected a JSON object per line");
      record.line = s.line_no;
      return true;
    }
    // CSV / TSV
    std::vector<std::string> fields;
    size_t line = 0;
    if (!s.next_row(fields, line)) {
      s.close_current();
      continue;
    }
    if (s.header_pending) {
      s.header_pending = false;
      s.columns = std::move(fields);
      continue;
    }
    if (!s.options.header) {
      if (s.columns.size() < fields.size()) {
        for (size_t i = s.columns.size(); i < fields.size(); ++i) s.columns.push_back(std::to_string(i));
      }
    } else if (fields.size() != s.columns.size()) {
      throw Error(s.source + ":" + std::to_string(line) + ": expected " + std::to_string(s.columns.size()) +
                  " columns (as in the header), found " + std::to_string(fields.size()));
    }
    record.line = line;
    record.fields = std::move(fields);
    return true;
  }
}

namespace {
std::string join_columns(const std::vector<std::string>& cols) {
  std::string out;
  for (size_t i = 0; i < cols.size(); ++i) {
    if (i) out += ", ";
    out += cols[i];
  }
  return out;
}

bool is_index(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
}
}  // namespace

namespace {
// A CSV read as one column per row that holds tabs was most likely a TSV file (or the reverse).
std::string delimiter_hint(const Record& record, const RecordReader& reader) {
  const auto& cols = reader.columns();
  const std::string& one = record.fields.size() == 1 ? record.fields[0] : (cols.size() == 1 ? cols[0] : "");
  if (record.fields.size() > 1 && cols.size() > 1) return "";
  if (reader.current_format() == InputFormat::Csv && one.find('\t') != std::string::npos)
    return "; the file looks tab-separated: use --input-format tsv";
  if (reader.current_format() == InputFormat::Tsv && one.find(',') != std::string::npos)
    return "; the file looks comma-separated: use --input-format csv";
  return "";
}
}  // namespace

std::string FieldSelector::get(const Record& record, const RecordReader& reader) const {
  try {
    return get_unhinted(record, reader);
  } catch (const Error& e) {
    std::string hint = delimiter_hint(record, reader);
    if (hint.empty()) throw;
    throw Error(e.what() + hint);
  }
}

std::string FieldSelector::get_unhinted(const Record& record, const RecordReader& reader) const {
  const std::string where = record.source + ":" + std::to_string(record.line);
  if (!record.object.is_null()) {
    std::string key = spec_.empty() ? "text" : spec_;
    auto it = record.object.find(key);
    if (it == record.object.end()) {
      std::string keys;
      for (auto& [k, v] : record.object.items()) keys += (keys.empty() ? "" : ", ") + k;
      throw Error(where + ": no " + what_ + " '" + key + "' in the JSON object (keys: " + keys + ")");
    }
    if (it->is_string()) return it->get<std::string>();
    if (it->is_null()) return "";
    return it->dump();
  }
  if (reader.current_format() == InputFormat::Lines) {
    return record.fields.empty() ? std::string() : record.fields[0];
  }
  const auto& cols = reader.columns();
  if (spec_.empty()) {
    if (record.fields.size() == 1) return record.fields[0];
    // As JSON Lines default to the key "text", tables default to a column named "text".
    for (size_t i = 0; i < cols.size(); ++i)
      if (cols[i] == "text") {
        if (i < record.fields.size()) return record.fields[i];
        throw Error(where + ": row has no column 'text' (" + std::to_string(record.fields.size()) + " fields)");
      }
    throw Error(where + ": several columns and none named 'text'; choose the " + what_ + " with --column (columns: " +
                join_columns(cols) + ")");
  }
  for (size_t i = 0; i < cols.size(); ++i) {
    if (cols[i] == spec_) {
      if (i >= record.fields.size())
        throw Error(where + ": row has no column '" + spec_ + "' (" + std::to_string(record.fields.size()) +
                    " fields)");
      return record.fields[i];
    }
  }
  if (is_index(spec_)) {
    size_t i = std::stoull(spec_);
    if (i < record.fields.size()) return record.fields[i];
    throw Error(where + ": no column " + spec_ + " (row has " + std::to_string(record.fields.size()) +
                " columns)");
  }
  throw Error(where + ": no column '" + spec_ + "' for the " + what_ + " (columns: " + join_columns(cols) + ")");
}

double parse_number_field(const std::string& raw, const std::string& where, const std::string& what) {
  size_t b = raw.find_first_not_of(" \t\r");
  size_t e = raw.find_last_not_of(" \t\r");
  std::string s = b == std::string::npos ? std::string() : raw.substr(b, e - b + 1);
  double v = 0;
  const char* first = s.data();
  if (!s.empty() && s[0] == '+') ++first;
  auto res = std::from_chars(first, s.data() + s.size(), v);
  if (s.empty() || res.ec != std::errc() || res.ptr != s.data() + s.size() || !std::isfinite(v))
    throw Error(where + ": " + what + " '" + raw + "' is not a number");
  return v;
}

}  // namespace sbert
