#include "cli_common.h"

#include "classifier_options.h"
#include "sbert/remote.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>

#include "sbert/error.h"
#include "sbert/log.h"
#if __has_include("sbert/hub.h")
#include "sbert/hub.h"
#define SBERT_HAVE_HUB 1
#endif

namespace sbert::cli {

namespace fs = std::filesystem;

// ---------------- input ----------------

void InputOptions::add_to(CLI::App* app, bool with_files, bool with_text_field) {
  if (with_files) app->add_option("files", files, "Input files (default: standard input; '-' = stdin)");
  app->add_option("--input-format", input_format,
                  "Input format: auto (from the extension), lines, jsonl, csv, tsv")
      ->check(CLI::IsMember({"auto", "lines", "txt", "jsonl", "ndjson", "csv", "tsv"}));
  if (with_text_field) {
    app->add_option("--column,--field", field,
                    "Text column (csv/tsv: name or 0-based index) or key (jsonl; default \"text\")");
  }
  app->add_option("--id-column,--id-field", id_field, "Column/key with an id carried to the output");
  app->add_flag("--no-header", no_header, "csv/tsv: the first row is data, columns are 0, 1, 2, ...");
  app->add_option("--delimiter", delimiter, "csv/tsv field delimiter (default ',' for csv, tab for tsv)");
  app->add_flag("--skip-empty", skip_empty, "Skip empty texts instead of processing them as \"\"");
}

void InputOptions::add_shard_options(CLI::App* app) {
  app->add_option("--shard", shard,
                  "Process only shard I/N (0-based) of the input records, a contiguous range; 'auto' reads "
                  "SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT or JOB_COMPLETION_INDEX (count: --shard-count or "
                  "SBERT_SHARD_COUNT). Writes OUT.shard.json beside -o OUT; join with `sbert merge`");
  app->add_option("--shard-count", shard_count, "The number of shards for --shard auto");
}

ReaderOptions InputOptions::reader_options() const {
  ReaderOptions r;
  r.format = parse_input_format(input_format);
  r.header = !no_header;
  if (!delimiter.empty()) {
    if (delimiter == "\\t" || delimiter == "tab") r.delimiter = '\t';
    else if (delimiter.size() == 1) r.delimiter = delimiter[0];
    else throw Error("--delimiter must be one character, got '" + delimiter + "'");
  }
  return r;
}

namespace {
void report_invalid(const RecordReader& reader) {
  if (size_t n = reader.invalid_utf8_replaced())
    log("replaced " + std::to_string(n) + " invalid UTF-8 byte(s) with U+FFFD");
}
}  // namespace

std::string TextItem::value(const std::string& name) const {
  if (!record.object.is_null()) {
    auto it = record.object.find(name);
    if (it == record.object.end() || it->is_null()) return "";
    return it->is_string() ? it->get<std::string>() : it->dump();
  }
  if (columns) {
    for (size_t i = 0; i < columns->size() && i < record.fields.size(); ++i)
      if ((*columns)[i] == name) return record.fields[i];
  }
  return "";
}

std::string TextItem::required(const std::string& name, const std::string& what) const {
  bool present = false;
  if (!record.object.is_null()) {
    present = record.object.contains(name);
  } else if (columns) {
    auto it = std::find(columns->begin(), columns->end(), name);
    present = it != columns->end() && static_cast<size_t>(it - columns->begin()) < record.fields.size();
  }
  if (!present) {
    std::string msg = record.source + ":" + std::to_string(record.line) + ": no " + what + " '" + name + "'";
    if (columns && record.object.is_null()) {
      std::string cols;
      for (auto& c : *columns) cols += (cols.empty() ? "" : ", ") + c;
      msg += " (columns: " + cols + ")";
    }
    throw Error(msg);
  }
  return value(name);
}

std::optional<size_t> count_texts(const InputOptions& input) {
  if (input.files.empty() || std::find(input.files.begin(), input.files.end(), "-") != input.files.end())
    return std::nullopt;
  const ShardSpec spec = input.shard_spec();
  RecordReader reader(input.files, input.reader_options());
  FieldSelector text_sel(input.field, "text column");
  Record rec;
  size_t records = 0, texts = 0;
  std::vector<size_t> text_records;  // with --shard: which records hold a text
  while (reader.next(rec)) {
    const bool kept =
        !input.skip_empty || text_sel.get(rec, reader).find_first_not_of(" \t\r\n") != std::string::npos;
    if (kept) {
      ++texts;
      if (spec.enabled) text_records.push_back(records);
    }
    ++records;
  }
  if (!spec.enabled) return texts;
  const RecordRange range = shard_range(records, spec.index, spec.count);
  return static_cast<size_t>(std::count_if(text_records.begin(), text_records.end(),
                                           [&](size_t r) { return r >= range.begin && r < range.end; }));
}

void for_each_text_chunk(const InputOptions& input, size_t chunk,
                         const std::function<void(std::vector<TextItem>&)>& fn,
                         const std::function<size_t()>& chunk_size) {
  if (chunk_size) chunk = std::max<size_t>(1, chunk_size());
  const ShardSpec spec = input.shard_spec();
  InputOptions::ShardRun& run = *input.shard_run;
  run = InputOptions::ShardRun();
  run.spec = spec;
  if (spec.enabled) {
    if (input.files.empty() || std::find(input.files.begin(), input.files.end(), "-") != input.files.end())
      throw Error("--shard needs input files: standard input cannot be read twice");
    // First pass: count the records with the same reader, so the ranges are exact.
    RecordReader counter(input.files, input.reader_options());
    Record r;
    while (counter.next(r)) ++run.records;
    run.range = shard_range(run.records, spec.index, spec.count);
  }
  RecordReader reader(input.files, input.reader_options());
  FieldSelector text_sel(input.field, "text column");
  FieldSelector id_sel(input.id_field, "id column");
  std::vector<TextItem> items;
  std::shared_ptr<const std::vector<std::string>> cols;
  Record rec;
  size_t record_index = 0, item_index = 0;
  bool first_set = false;
  while (reader.next(rec)) {
    const size_t ri = record_index++;
    if (spec.enabled) {
      if (ri >= run.range.end) break;
      if (ri == run.range.begin) {
        run.first_index = item_index;
        first_set = true;
      }
    }
    TextItem item;
    item.text = text_sel.get(rec, reader);
    if (input.skip_empty && item.text.find_first_not_of(" \t\r\n") == std::string::npos) continue;
    item.index = item_index++;
    if (spec.enabled && ri < run.range.begin) continue;  // before this shard: counted, not kept
    if (!id_sel.empty()) item.id = id_sel.get(rec, reader);
    item.record = std::move(rec);
    rec = Record();
    if (!cols || *cols != reader.columns())
      cols = std::make_shared<const std::vector<std::string>>(reader.columns());
    item.columns = cols;
    items.push_back(std::move(item));
    ++run.items;
    if (items.size() >= chunk) {
      fn(items);
      items.clear();
      if (chunk_size) chunk = std::max<size_t>(1, chunk_size());
    }
  }
  if (spec.enabled && !first_set) run.first_index = item_index;
  if (!items.empty()) fn(items);
  report_invalid(reader);
}

void require_shard_output(const InputOptions& input, const std::string& output_path) {
  if (input.shard_spec().enabled && (output_path.empty() || output_path == "-"))
    throw Error("--shard writes a manifest beside its output: give -o FILE");
}

void write_shard_manifest(const InputOptions& input, const std::string& output_path, const std::string& format,
                          size_t rows, const CLI::App* command, const std::string& model,
                          const nlohmann::json& evaluation, const nlohmann::json& counts, bool header_row) {
  const InputOptions::ShardRun& run = *input.shard_run;
  if (!run.spec.enabled) return;
  ShardManifest m;
  m.shard = run.spec.index;
  m.count = run.spec.count;
  m.records = run.records;
  m.range = run.range;
  m.first_index = run.first_index;
  m.rows = rows;
  m.format = format;
  m.header = header_row;
  // Every option given to the command except where the output goes, which shard, and the
  // input paths (the fingerprint stands for them).
  nlohmann::json options = nlohmann::json::object();
  for (const CLI::Option* opt : command->get_options()) {
    if (opt->count() == 0) continue;
    const std::string name = opt->get_name();
    if (name == "files" || name == "--output" || name == "-o" || name == "--index" || name == "--shard" ||
        name == "--shard-count" ||
        name == "--help" || name == "-h" || name == "--verbose" || name == "-v")
      continue;
    options[name] = opt->results();
  }
  m.key = {{"command", command->get_name()},
           {"model", model},
           {"input", input_fingerprint(input.files)},
           {"options", options}};
  if (!evaluation.is_null()) m.key["evaluation"] = evaluation;
  m.evaluation = counts;
  sbert::write_shard_manifest(output_path, m);
}

std::vector<TextItem> read_texts(const InputOptions& input, std::vector<std::string>* columns) {
  std::vector<TextItem> all;
  for_each_text_chunk(input, SIZE_MAX, [&](std::vector<TextItem>& items) { all = std::move(items); });
  if (columns) *columns = (!all.empty() && all[0].columns) ? *all[0].columns : std::vector<std::string>{};
  return all;
}

// ---------------- model ----------------

void ModelOptions::add_to(CLI::App* app, const std::string& model_help) {
  app->add_option("-m,--model", model,
                  model_help.empty()
                      ? "Model folder or Hugging Face name org/name[@revision] "
                        "(default: $SBERT_MODEL or sentence-transformers/all-MiniLM-L6-v2)"
                      : model_help);
  add_runtime_to(app);
}

void ModelOptions::add_runtime_to(CLI::App* app) {
  app->add_option("--device", device, "cpu, cuda or cuda:N")->capture_default_str();
  app->add_option("--dtype", dtype, "float32, float16 or bfloat16")
      ->check(CLI::IsMember({"float32", "float16", "bfloat16"}))
      ->capture_default_str();
  app->add_option("--quantize", quantize,
                  "int8: dynamic int8 quantization of the encoder's Linear layers (CPU, float32; faster, "
                  "vectors within cosine 0.9999 of float32 on the MiniLM shape; measure yours with bench_embed)")
      ->check(CLI::IsMember({"none", "int8"}))
      ->capture_default_str();
  app->add_option("--batch-size", batch_size, "Texts per batch")->capture_default_str()->check(CLI::PositiveNumber);
  app->add_option("--max-length", max_length, "Maximum tokens per text (default: the model's)");
  app->add_option("--threads", threads, "CPU threads (default: all cores)");
  app->add_option("--tokenizer-file", tokenizer_file, "Use this tokenizer file instead of the folder's choice");
  app->add_option("--tokenizer-backend", tokenizer_backend,
                  "auto (as the reference) or sentencepiece (libsentencepiece on the folder's *.model)")
      ->check(CLI::IsMember({"auto", "sentencepiece"}))
      ->capture_default_str();
  add_normalized_growth_option(app, max_normalized_growth);
  app->add_flag("--offline", offline, "Never touch the network (also HF_HUB_OFFLINE=1)");
}

void add_normalized_growth_option(CLI::App* app, size_t& growth) {
  app->add_option("--max-normalized-growth", growth,
                  "A tokenizer's normalizer may make a text at most N times longer (0: no bound)")
      ->capture_default_str();
}

fs::path ModelOptions::resolve() const {
  std::string name = model;
  if (name.empty()) {
    const char* env = std::getenv("SBERT_MODEL");
    name = (env && *env) ? env : "sentence-transformers/all-MiniLM-L6-v2";
  }
  std::error_code ec;
  if (fs::is_directory(name, ec)) return fs::path(name);
#ifdef SBERT_HAVE_HUB
  hub::ResolveOptions ro;
  ro.offline = offline;
  ro.progress = stderr_is_terminal();
  return hub::resolve_model(name, ro);
#else
  throw Error("model folder not found: " + name);
#endif
}

void ModelOptions::add_server_to(CLI::App* app) {
  app->add_option("--server", server,
                  "Send the texts to a running `sbert serve` at this URL (http://host:port) instead of loading a "
                  "model; --model then names one of its models");
}

namespace {

RemoteOptions remote_of(const ModelOptions& m) {
  RemoteOptions r;
  r.url = m.server;
  r.model = m.model;
  if (const char* k = std::getenv("SBERT_API_KEY"); k && *k) r.api_key = k;
  return r;
}

}  // namespace

std::unique_ptr<SentenceEncoder> ModelOptions::open_encoder(const EncoderOptions& o) const {
  if (!remote()) return SentenceEncoder::load(resolve(), o);
  if (!o.pooling.empty() || o.normalize || o.truncate_dim || o.chunk || quantize != "none")
    throw Error("--pooling, --normalize/--no-normalize, --truncate-dim, --chunk and --quantize cannot be used "
                "with --server (the server's model decides them)");
  return connect_encoder(remote_of(*this));
}

std::unique_ptr<SequenceClassifier> ModelOptions::open_classifier(const std::string& role) const {
  if (!remote()) return SequenceClassifier::load(resolve(), classifier_options(*this));
  if (quantize != "none") throw Error("--quantize cannot be used with --server (the server's model decides it)");
  return connect_classifier(remote_of(*this), role);
}

std::string ModelOptions::label() const {
  if (!remote()) return resolve().string();
  return model.empty() ? server : server + "#" + model;
}

RuntimeOptions ModelOptions::runtime_options() const {
  RuntimeOptions o;
  o.device = device;
  o.dtype = dtype;
  o.quantize = quantize;
  o.batch_size = batch_size;
  o.max_length = max_length;
  o.threads = threads;
  o.tokenizer.tokenizer_file = tokenizer_file;
  o.tokenizer.backend = parse_tokenizer_backend(tokenizer_backend);
  o.tokenizer.max_normalized_growth = max_normalized_growth;
  return o;
}

EncoderOptions ModelOptions::encoder_options() const {
  EncoderOptions o;
  static_cast<RuntimeOptions&>(o) = runtime_options();
  return o;
}

// ---------------- vectors ----------------

void VectorOptions::add_to(CLI::App* app) {
  app->add_option("--pooling", pooling,
                  "Pooling: cls, mean, max, mean_sqrt_len, weightedmean, lasttoken, pooler, last2_mean "
                  "(default: the model's Pooling module, else mean)");
  app->add_flag("--normalize", normalize, "L2-normalise the vectors (overrides the model)");
  app->add_flag("--no-normalize", no_normalize, "Do not normalise (overrides the model's Normalize)");
  app->add_option("--truncate-dim", truncate_dim, "Keep the first N dimensions (Matryoshka)");
}

void VectorOptions::apply(EncoderOptions& o) const {
  if (normalize && no_normalize) throw Error("--normalize and --no-normalize are exclusive");
  o.pooling = pooling;
  if (normalize) o.normalize = true;
  if (no_normalize) o.normalize = false;
  o.truncate_dim = truncate_dim;
}

// ---------------- output ----------------

void OutputOptions::add_to(CLI::App* app, const std::vector<std::string>& formats,
                           const std::string& default_help) {
  app->add_option("-o,--output", path, "Output file (default: standard output); written atomically");
  std::string list;
  for (auto& f : formats) list += (list.empty() ? "" : ", ") + f;
  app->add_option("--format", format, "Output format: " + list + " (default: " + default_help + ")")
      ->check(CLI::IsMember(formats));
}

// ---------------- logging ----------------

static Verbosity g_verbosity = Verbosity::Normal;
void set_verbosity(Verbosity v) {
  g_verbosity = v;
  // The library's own detail (runtime set-up: BLAS kernel, threads) reaches stderr with -v.
  if (v == Verbosity::Verbose) set_log_handler([](const std::string& m) { std::cerr << "sbert: " << m << "\n"; });
}
Verbosity verbosity() { return g_verbosity; }
void log(const std::string& message) {
  if (g_verbosity != Verbosity::Quiet) std::cerr << "sbert: " << message << "\n";
}
void result(const std::string& message) {
  if (message.find('\n') == std::string::npos) {
    std::cerr << "sbert: " << message << "\n";
  } else {  // a block (a table): its first line is a log line like any other, the rest as is
    std::cerr << "sbert: " << message << (message.back() == '\n' ? "" : "\n");
  }
}
void verbose(const std::string& message) {
  if (g_verbosity == Verbosity::Verbose) std::cerr << "sbert: " << message << "\n";
}
bool stderr_is_terminal() { return ::isatty(2) == 1; }
bool stdout_is_terminal() { return ::isatty(1) == 1; }

Progress::Progress(std::string label, size_t total)
    : label_(std::move(label)), total_(total), enabled_(g_verbosity != Verbosity::Quiet && stderr_is_terminal()) {
  start_ = last_ = std::chrono::steady_clock::now();
}
Progress::~Progress() { finish(); }

double Progress::rate() const {
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  return secs > 0 && done_ ? double(done_) / secs : 0;
}

namespace {
// 75 s -> "1m15s", 4000 s -> "1h06m", 9 s -> "9s".
std::string short_duration(double secs) {
  const long s = std::lround(std::max(0.0, secs));
  char buf[32];
  if (s >= 3600) std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, (s % 3600) / 60);
  else if (s >= 60) std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  else std::snprintf(buf, sizeof buf, "%lds", s);
  return buf;
}
}  // namespace

void Progress::advance(size_t n) {
  done_ += n;
  if (!enabled_) return;
  auto now = std::chrono::steady_clock::now();
  if (now - last_ < std::chrono::milliseconds(100) && done_ < total_) return;
  last_ = now;
  const double r = rate();
  std::string line = "\r" + label_ + " " + std::to_string(done_);
  char buf[96];
  std::snprintf(buf, sizeof buf, " %.1f/s", r);
  std::string tail = buf;
  if (total_) {
    int width = 30;
    const double frac = std::min<double>(1.0, double(done_) / total_);
    int filled = static_cast<int>(width * frac);
    std::snprintf(buf, sizeof buf, "] %3.0f%% ", 100.0 * frac);
    line = "\r" + label_ + " [" + std::string(filled, '#') + std::string(width - filled, ' ') + buf +
           std::to_string(done_) + "/" + std::to_string(total_);
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    tail += "  " + short_duration(elapsed);
    if (r > 0 && done_ < total_) tail += ", " + short_duration(double(total_ - done_) / r) + " left";
  }
  std::cerr << line << tail << "\033[K" << std::flush;
}

void Progress::finish() {
  if (enabled_ && done_ > 0) std::cerr << "\r\033[K" << std::flush;
  enabled_ = false;
}

double RunSummary::seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void RunSummary::model_ready() { load_seconds_ = seconds(); }

void RunSummary::log_done(const std::string& what, const std::string& unit,
                          const std::string& truncation_hint) const {
  char buf[96];
  if (load_seconds_ >= 0)
    std::snprintf(buf, sizeof buf, " in %.2f s (%.2f s loading the model)", seconds(), load_seconds_);
  else
    std::snprintf(buf, sizeof buf, " in %.2f s", seconds());
  log(what + " (" + count_of(tokens_, "token") + ")" + buf);
  if (truncated_)
    log(std::to_string(truncated_) + " " + unit + " longer than the maximum length were truncated" +
        truncation_hint);
}

CLI::Option* add_offsets_option(CLI::App* sub, std::string& unit, const std::string& what) {
  return sub->add_option("--offsets", unit, what + ": chars (code points, as Hugging Face reports them) or bytes")
      ->type_name("UNIT")
      ->check(CLI::IsMember({"chars", "bytes"}))
      ->capture_default_str();
}

std::string HelpFormatter::make_option_opts(const CLI::Option* opt) const {
  if (!opt->get_option_text().empty()) return " " + opt->get_option_text();
  std::string out;
  if (opt->get_type_size() != 0) {
    // CLI11 composes "TYPE:VALIDATOR:..."; a set validator reads "{a,b}".
    const std::string full = opt->get_type_name();
    const std::string base = full.substr(0, full.find(':'));
    std::string label = base;
    if (base == "UINT" || base == "INT") label = "N";
    else if (base == "FLOAT") label = "X";
    const size_t set = full.find('{');
    if (set != std::string::npos && full.find('}', set) != std::string::npos)
      label = full.substr(set, full.find('}', set) - set + 1);
    if (!label.empty()) out += " " + label;
    if (opt->get_expected_max() == CLI::detail::expected_max_vector_size) out += " ...";
    else if (opt->get_expected_min() > 1) out += " x " + std::to_string(opt->get_expected());
    if (opt->get_required()) out += " (required)";
  }
  return out;
}

std::string HelpFormatter::make_option_desc(const CLI::Option* opt) const {
  std::string desc = opt->get_description();
  const std::string def = opt->get_default_str();
  if (!def.empty() && desc.find("default") == std::string::npos) desc += " (default " + def + ")";
  return desc;
}

}  // namespace sbert::cli
