#include "sbert/record_writer.h"

#include <cmath>

#include "sbert/error.h"
#include "sbert/text_format.h"

namespace sbert {

TableFormat parse_table_format(const std::string& name, const std::string& what) {
  if (name == "jsonl" || name == "ndjson") return TableFormat::Jsonl;
  if (name == "csv") return TableFormat::Csv;
  if (name == "tsv") return TableFormat::Tsv;
  throw Error(what + " " + name + " is not available here (use jsonl, csv or tsv)");
}

std::string table_format_name(TableFormat format) {
  switch (format) {
    case TableFormat::Jsonl: return "jsonl";
    case TableFormat::Csv: return "csv";
    case TableFormat::Tsv: return "tsv";
  }
  return "jsonl";
}

Fields& Fields::add(std::string name, std::string_view text) {
  cells_.push_back({std::move(name), Kind::Text, std::string(text), {}, {}, nullptr});
  return *this;
}

Fields& Fields::add(std::string name, float value) {
  if (!std::isfinite(value)) return add_null(std::move(name));
  cells_.push_back({std::move(name), Kind::Number, format_float(value), {}, {}, nullptr});
  return *this;
}

Fields& Fields::add(std::string name, bool value) {
  cells_.push_back({std::move(name), Kind::Json, value ? "true" : "false", {}, {}, nullptr});
  return *this;
}

Fields& Fields::add_int(std::string name, int64_t value) {
  cells_.push_back({std::move(name), Kind::Number, std::to_string(value), {}, {}, nullptr});
  return *this;
}

Fields& Fields::add_uint(std::string name, uint64_t value) {
  cells_.push_back({std::move(name), Kind::Number, std::to_string(value), {}, {}, nullptr});
  return *this;
}

Fields& Fields::add_floats(std::string name, const float* values, size_t n) {
  cells_.push_back({std::move(name), Kind::Floats, {}, std::vector<float>(values, values + n), {}, nullptr});
  return *this;
}

Fields& Fields::add_strings(std::string name, const std::vector<std::string>& values) {
  cells_.push_back({std::move(name), Kind::Strings, {}, {}, values, nullptr});
  return *this;
}

Fields& Fields::add_object(std::string name, const Fields& object) {
  cells_.push_back({std::move(name), Kind::Object, {}, {}, {}, std::make_shared<Fields>(object)});
  return *this;
}

Fields& Fields::add_json(std::string name, const nlohmann::json& value) {
  if (value.is_string()) return add(std::move(name), value.get_ref<const std::string&>());
  cells_.push_back({std::move(name), Kind::Json,
                    value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), {}, {}, nullptr});
  return *this;
}

Fields& Fields::add_null(std::string name) {
  cells_.push_back({std::move(name), Kind::Null, "null", {}, {}, nullptr});
  return *this;
}

Fields& Fields::add_raw_json(std::string name, std::string json_text) {
  cells_.push_back({std::move(name), Kind::Json, std::move(json_text), {}, {}, nullptr});
  return *this;
}

namespace {
void append_floats(std::string& out, const float* v, size_t n) {
  out += '[';
  for (size_t j = 0; j < n; ++j) {
    if (j) out += ", ";
    append_float(out, v[j]);
  }
  out += ']';
}
}  // namespace

Fields& Fields::add_float_rows(std::string name, const float* data, size_t rows, size_t cols) {
  std::string s = "[";
  for (size_t r = 0; r < rows; ++r) {
    if (r) s += ", ";
    append_floats(s, data + r * cols, cols);
  }
  s += ']';
  return add_raw_json(std::move(name), std::move(s));
}

namespace {
void append_float_array(std::string& out, const std::vector<float>& v) { append_floats(out, v.data(), v.size()); }
void append_string_array(std::string& out, const std::vector<std::string>& v) {
  out += '[';
  for (size_t j = 0; j < v.size(); ++j) {
    if (j) out += ", ";
    out += json_quote(v[j]);
  }
  out += ']';
}
}  // namespace

void Fields::append_json(std::string& out) const {
  out += '{';
  for (size_t i = 0; i < cells_.size(); ++i) {
    const Cell& c = cells_[i];
    if (i) out += ", ";
    out += json_quote(c.name);
    out += ": ";
    switch (c.kind) {
      case Kind::Text: out += json_quote(c.text); break;
      case Kind::Number:
      case Kind::Json:
      case Kind::Null: out += c.text; break;
      case Kind::Floats: append_float_array(out, c.floats); break;
      case Kind::Strings: append_string_array(out, c.strings); break;
      case Kind::Object: c.object->append_json(out); break;
    }
  }
  out += '}';
}

std::string Fields::json() const {
  std::string s;
  append_json(s);
  return s;
}

void Fields::append_delimited(std::string& out, char d) const {
  auto field = [d](std::string_view s) { return d == '\t' ? tsv_clean(std::string(s)) : csv_field(s, d); };
  for (size_t i = 0; i < cells_.size(); ++i) {
    const Cell& c = cells_[i];
    if (i) out += d;
    switch (c.kind) {
      case Kind::Text:
      case Kind::Json: out += field(c.text); break;
      case Kind::Number:
      case Kind::Null: out += c.text; break;
      case Kind::Floats:
        for (size_t j = 0; j < c.floats.size(); ++j) {
          if (j) out += d;
          append_float(out, c.floats[j]);
        }
        break;
      case Kind::Strings: {
        std::string s;
        append_string_array(s, c.strings);
        out += field(s);
        break;
      }
      case Kind::Object: out += field(c.object->json()); break;
    }
  }
}

TableWriter::TableWriter(AtomicOutput& out, TableFormat format) : out_(out), format_(format) {}

TableWriter::~TableWriter() {
  try {
    flush();
  } catch (...) {
  }
}

void TableWriter::header(const std::vector<std::string>& columns) {
  if (!tabular()) return;
  const char d = delimiter();
  for (size_t i = 0; i < columns.size(); ++i) {
    if (i) buf_ += d;
    buf_ += d == '\t' ? tsv_clean(columns[i]) : csv_field(columns[i], d);
  }
  buf_ += '\n';
}

void TableWriter::write(const Fields& row) {
  if (tabular()) row.append_delimited(buf_, delimiter());
  else row.append_json(buf_);
  buf_ += '\n';
  if (buf_.size() > (1u << 20)) flush();
}

void TableWriter::write_raw(std::string_view line) {
  buf_ += line;
  if (buf_.size() > (1u << 20)) flush();
}

void TableWriter::flush() {
  if (buf_.empty()) return;
  out_.write(buf_);
  buf_.clear();
  out_.flush();
}

}  // namespace sbert
