// Shared CLI plumbing for the subcommands: option groups (input, model, output), reading texts,
// logging and progress on stderr, number formatting. Subcommands stay orchestration only.
#pragma once
#include <CLI/CLI.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sbert/classifier.h"
#include "sbert/encoder.h"
#include "sbert/record_writer.h"
#include "sbert/shard.h"
#include "sbert/text_format.h"
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
  std::string shard;       // --shard I/N | auto; empty = the whole input
  size_t shard_count = 0;  // --shard-count (for --shard auto)

  // Adds FILE... (positional, when with_files) and the input options to `app`.
  void add_to(CLI::App* app, bool with_files = true, bool with_text_field = true);
  // Adds --shard and --shard-count (for the commands that write a shard manifest).
  void add_shard_options(CLI::App* app);
  ReaderOptions reader_options() const;
  ShardSpec shard_spec() const { return parse_shard(shard, shard_count); }

  // Filled by for_each_text_chunk when --shard is given: the records of the whole input, this
  // shard's range, the global index of its first text and the texts it kept.
  struct ShardRun {
    ShardSpec spec;
    size_t records = 0;
    RecordRange range;
    size_t first_index = 0;
    size_t items = 0;
  };
  std::shared_ptr<ShardRun> shard_run = std::make_shared<ShardRun>();
};

struct TextItem {
  size_t index = 0;   // the text's index in the whole input (counted past skipped texts; global with --shard)
  std::string text;
  std::string id;     // empty when no --id-column/--id-field
  Record record;      // the whole input record (for passthrough of columns)
  std::shared_ptr<const std::vector<std::string>> columns;  // csv/tsv column names of the record

  // A column (csv/tsv) or key (jsonl) of the record; empty when absent.
  std::string value(const std::string& name) const;
  // The same, but a column/key the record lacks is an error "FILE:LINE: no WHAT 'name' (columns: ...)".
  std::string required(const std::string& name, const std::string& what) const;
};

// Reads every text (stdin when no files). Empty texts are kept unless skip_empty. Reports the
// number of invalid UTF-8 sequences replaced on stderr. `columns` receives the csv/tsv header.
std::vector<TextItem> read_texts(const InputOptions& input, std::vector<std::string>* columns = nullptr);

// Streams texts in chunks of at most `chunk` items (bounded memory for large inputs);
// `chunk_size`, when given, is asked for the size of each next chunk instead.
void for_each_text_chunk(const InputOptions& input, size_t chunk,
                         const std::function<void(std::vector<TextItem>&)>& fn,
                         const std::function<size_t()>& chunk_size = nullptr);
// How many texts for_each_text_chunk will give (a pass over the files; this shard's share with
// --shard); nullopt for standard input, which cannot be read twice.
std::optional<size_t> count_texts(const InputOptions& input);

// With --shard: refuses standard output (the manifest goes beside the file).
void require_shard_output(const InputOptions& input, const std::string& output_path);
// With --shard: writes OUTPUT.shard.json (shard, record range, input fingerprint, model, and the
// options of `command` that affect the output). Nothing without --shard.
// `evaluation` (optional, the same for every shard) tells `sbert merge` which columns to recompute
// figures from, e.g. {"kind": "correlation", "gold": "score", "score": "similarity"}; `counts`
// (optional, this shard's) are summed by the merge, e.g. an NLI confusion matrix. `header_row`:
// a csv/tsv output begins with a header row (false: headerless input written as it came).
void write_shard_manifest(const InputOptions& input, const std::string& output_path, const std::string& format,
                          size_t rows, const CLI::App* command, const std::string& model,
                          const nlohmann::json& evaluation = nullptr, const nlohmann::json& counts = nullptr,
                          bool header_row = true);

// --max-normalized-growth N (TokenizerOptions::max_normalized_growth) for commands that load a
// tokenizer outside ModelOptions (tokenize).
void add_normalized_growth_option(CLI::App* app, size_t& growth);

// ---- model ----
struct ModelOptions {
  std::string model;   // folder or org/name[@revision]; empty = $SBERT_MODEL or the default model
  std::string device = "cpu";
  std::string dtype = "float32";
  std::string quantize = "none";
  size_t batch_size = 32;
  size_t max_length = 0;
  int threads = 0;
  std::string tokenizer_file;
  std::string tokenizer_backend = "auto";
  size_t max_normalized_growth = 16;  // TokenizerOptions::max_normalized_growth
  bool offline = false;

  void add_to(CLI::App* app, const std::string& model_help = "");
  // The options above but --model (for commands that take models their own way, e.g. serve).
  void add_runtime_to(CLI::App* app);

  // Client mode: --server URL sends the texts to a running `sbert serve` instead of loading a
  // model (--model then names one of the server's models; SBERT_API_KEY is sent as the key).
  std::string server;
  void add_server_to(CLI::App* app);
  bool remote() const { return !server.empty(); }
  // The local model or the server's; model-shaping options (pooling, normalisation, chunking)
  // are refused with --server: the server's model decides them.
  std::unique_ptr<SentenceEncoder> open_encoder(const EncoderOptions& options) const;
  // role: "reranker" (a cross-encoder) or "classifier" (an NLI / sequence classifier).
  std::unique_ptr<SequenceClassifier> open_classifier(const std::string& role) const;
  // What shard manifests and logs record as the model: its folder, or "URL[#model]".
  std::string label() const;
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
// -o and --format; the format's default may depend on the mode (e.g. the input's format).
struct OutputOptions {
  std::string path;     // -o; empty or "-" = stdout
  std::string format;   // --format; empty = the mode's default
  void add_to(CLI::App* app, const std::vector<std::string>& formats, const std::string& default_help);
  std::string format_or(const std::string& mode_default) const { return format.empty() ? mode_default : format; }
  TableFormat table_format(const std::string& mode_default) const {
    return parse_table_format(format_or(mode_default));
  }
};

// ---- logging (-q and -v are global options, set once by main) ----
enum class Verbosity { Quiet, Normal, Verbose };
// `--offsets UNIT` (chars: code points, as Hugging Face reports them; bytes), one spelling in
// every command that writes token or word spans.
CLI::Option* add_offsets_option(CLI::App* sub, std::string& unit, const std::string& what);

// Help text without CLI11's type strings ("UINT:POSITIVE:NONNEGATIVE=32"): numbers show as N or
// X, a choice as {a,b}, other values by their name, and the default at the end of the
// description, "(default 32)", as the hand-written ones say it.
class HelpFormatter : public CLI::Formatter {
 public:
  std::string make_option_opts(const CLI::Option* opt) const override;
  std::string make_option_desc(const CLI::Option* opt) const override;
};

void set_verbosity(Verbosity v);
Verbosity verbosity();
void log(const std::string& message);     // "sbert: message" on stderr, unless -q
void result(const std::string& message);  // a result that was asked for: printed even with -q
void verbose(const std::string& message); // only with -v
bool stderr_is_terminal();
bool stdout_is_terminal();

// A progress line on stderr, drawn only when stderr is a terminal.
class Progress {
 public:
  // total 0: unknown (a count and the rate); else done/total, a bar, the rate and the time left.
  Progress(std::string label, size_t total);
  ~Progress();
  void advance(size_t n);
  void finish();
  bool enabled() const { return enabled_; }
  void set_total(size_t total) { total_ = total; }
  // Items per second so far (0 before the first advance).
  double rate() const;

 private:
  std::string label_;
  size_t total_;
  size_t done_ = 0;
  bool enabled_;
  std::chrono::steady_clock::time_point start_, last_;
};

// The end of a run: counts what went through the model and logs one summary line
// ("embedded 12 texts (340 tokens) in 0.52 s") plus a truncation warning.
class RunSummary {
 public:
  RunSummary() : start_(std::chrono::steady_clock::now()) {}
  void count(size_t items, size_t tokens, size_t truncated) {
    items_ += items;
    tokens_ += tokens;
    truncated_ += truncated;
  }
  size_t items() const { return items_; }
  size_t tokens() const { return tokens_; }
  size_t truncated() const { return truncated_; }
  // Call once the model is loaded: the closing line then says how much of the time that took
  // ("in 6.67 s (0.80 s loading the model)"), so throughput can be read without start-up.
  void model_ready();
  double seconds() const;
  // `what` e.g. "embedded 12 texts"; `truncation_hint` is appended to the warning.
  void log_done(const std::string& what, const std::string& unit = "text(s)",
                const std::string& truncation_hint = "") const;

 private:
  std::chrono::steady_clock::time_point start_;
  double load_seconds_ = -1;  // < 0: model_ready() not called
  size_t items_ = 0, tokens_ = 0, truncated_ = 0;
};

}  // namespace sbert::cli
