// Shared CLI plumbing for the subcommands: option groups (input, model, output), reading texts,
// logging and progress on stderr, number formatting. Subcommands stay orchestration only.
#pragma once
#include <CLI/CLI.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sbert/encoder.h"
#include "sbert/text_input.h"

namespace sbert::cli {

// ---- input ----
// Where texts come from: FILE... (or stdin), --input-format, --column/--field, --id-column/--id-field.
struct InputOptions {
  std::vector<std::string> files;
  std::string input_format = "auto";
  std::string field;      // text column (csv/tsv: name or 0-based index) or key (jsonl)
  std::string id_field;   // optional id column/key carried through to the output
  bool no_header = false;
  std::string delimiter;  // csv/tsv field delimiter ("\t", ";", ...)
  bool skip_empty = false;

  // Adds FILE... (positional, when with_files) and the input options to `app`.
  void add_to(CLI::App* app, bool with_files = true, bool with_text_field = true);
  ReaderOptions reader_options() const;
};

struct TextItem {
  std::string text;
  std::string id;     // empty when no --id-column/--id-field
  Record record;      // the whole input record (for passthrough of columns)
  std::shared_ptr<const std::vector<std::string>> columns;  // csv/tsv column names of the record

  // A column (csv/tsv) or key (jsonl) of the record; empty when absent.
  std::string value(const std::string& name) const;
};

// Reads every text (stdin when no files). Empty texts are kept unless skip_empty. Reports the
// number of invalid UTF-8 sequences replaced on stderr. `columns` receives the csv/tsv header.
std::vector<TextItem> read_texts(const InputOptions& input, std::vector<std::string>* columns = nullptr);

// Streams texts in chunks of at most `chunk` items (bounded memory for large inputs).
void for_each_text_chunk(const InputOptions& input, size_t chunk,
                         const std::function<void(std::vector<TextItem>&)>& fn);

// ---- model ----
struct ModelOptions {
  std::string model;   // folder or org/name[@revision]; empty = $SBERT_MODEL or the default model
  std::string device = "cpu";
  std::string dtype = "float32";
  size_t batch_size = 32;
  size_t max_length = 0;
  int threads = 0;
  std::string tokenizer_file;
  bool offline = false;

  void add_to(CLI::App* app, const std::string& model_help = "");
  // The model folder: an existing folder as is, else resolved through the Hugging Face cache.
  std::filesystem::path resolve() const;
  RuntimeOptions runtime_options() const;  // device, dtype, threads, batching, tokenizer
  EncoderOptions encoder_options() const;
};

// ---- how vectors are made: pooling, normalisation, Matryoshka truncation ----
struct VectorOptions {
  std::string pooling;
  bool normalize = false, no_normalize = false;
  size_t truncate_dim = 0;

  void add_to(CLI::App* app);
  // Copies the overrides into `o`; throws on --normalize with --no-normalize.
  void apply(EncoderOptions& o) const;
};

// ---- output ----
struct OutputOptions {
  std::string path;     // -o; empty or "-" = stdout
  std::string format;   // --format
  void add_to(CLI::App* app, const std::vector<std::string>& formats, const std::string& default_format);
};

// ---- logging ----
void set_quiet(bool quiet);
void log(const std::string& message);    // "sbert: message" on stderr unless --quiet
bool stderr_is_terminal();
bool stdout_is_terminal();

// A progress line on stderr, drawn only when stderr is a terminal.
class Progress {
 public:
  Progress(std::string label, size_t total);
  ~Progress();
  void advance(size_t n);
  void finish();

 private:
  std::string label_;
  size_t total_;
  size_t done_ = 0;
  bool enabled_;
  std::chrono::steady_clock::time_point start_, last_;
};

// ---- formatting ----
// Shortest text that reads back as the same float32.
void append_float(std::string& out, float value);
std::string format_float(float value);
// JSON string literal (with quotes), UTF-8 kept as is.
std::string json_quote(const std::string& s);
// One CSV field, quoted per RFC 4180 when needed (delimiter ',' or '\t').
std::string csv_field(const std::string& s, char delimiter = ',');

}  // namespace sbert::cli
