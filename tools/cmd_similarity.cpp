// sbert similarity: scores between texts (or precomputed embeddings).
//   pairs   FILE --a-column X --b-column Y [--gold-column G --report R]  -> input rows + score
//   matrix  A [B] --matrix                                               -> |A| x |B| scores
//   top-k   A [B] --top-k K                                              -> K best per row of A
//   mine    A --mine [--threshold T] [--top-k K] [--max-pairs N]         -> paraphrase pairs
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <unordered_map>

#include "classifier_options.h"
#include "cli_common.h"
#include "command.h"
#include "sbert/embeddings_file.h"
#include "sbert/error.h"
#include "sbert/npy.h"
#include "sbert/output_file.h"
#include "sbert/report.h"
#include "sbert/similarity.h"

namespace sbert::cli {
namespace {

struct SimilarityArgs {
  InputOptions input;
  ModelOptions model;
  OutputOptions output;
  std::string function;
  std::string a_column, b_column, gold_column;
  std::string score_column = "similarity";
  std::string report;
  bool matrix = false;
  size_t top_k = 0;
  bool mine = false;
  std::optional<float> threshold;
  size_t max_pairs = 500000;
  std::vector<std::string> embeddings;
  std::string cross_encoder;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Loads the model on first use, so that --embeddings runs never touch a model.
class LazyEncoder {
 public:
  explicit LazyEncoder(const ModelOptions& model) : model_(model) {}
  SentenceEncoder& get() {
    if (!encoder_) encoder_ = model_.open_encoder(model_.encoder_options());
    return *encoder_;
  }
  bool loaded() const { return encoder_ != nullptr; }

  // One row per text; each distinct text goes through the model once.
  Matrix embed(const std::vector<std::string>& texts) {
    RunSummary summary;
    SentenceEncoder& encoder = get();  // loads the model on the first call
    summary.model_ready();
    EncodeStats stats;
    Matrix m = encode_distinct(encoder, texts, "", &stats);
    summary.count(stats.texts, stats.tokens, stats.truncated);
    summary.log_done("embedded " + count_of(stats.texts, "distinct text"));
    return m;
  }

 private:
  const ModelOptions& model_;
  std::unique_ptr<SentenceEncoder> encoder_;
};

SimilarityFunction choose_function(const SimilarityArgs& a, LazyEncoder& encoder) {
  if (!a.function.empty()) return parse_similarity_function(a.function);
  if (encoder.loaded()) return parse_similarity_function(encoder.get().similarity_function());
  return SimilarityFunction::Cosine;
}

// ---------------------------------------------------------------- pairs

// Keeps elements [r.begin, r.end) of v.
template <typename T>
void keep_range(std::vector<T>& v, const RecordRange& r) {
  if (v.empty()) return;
  v = std::vector<T>(std::make_move_iterator(v.begin() + r.begin), std::make_move_iterator(v.begin() + r.end));
}

int run_pairs(SimilarityArgs& a, LazyEncoder& encoder, const CLI::App* command) {
  if (a.a_column.empty() || a.b_column.empty())
    throw Error("pairs mode needs both --a-column and --b-column (or --a-field/--b-field)");
  if (a.input.files.size() > 1)
    throw Error("pairs mode reads one file of pairs, got " + std::to_string(a.input.files.size()));

  ReaderOptions ro = a.input.reader_options();
  RecordReader reader(a.input.files, ro);
  FieldSelector sel_a(a.a_column, "A column"), sel_b(a.b_column, "B column"),
      sel_gold(a.gold_column, "gold column");
  std::vector<Record> records;
  std::vector<std::string> texts_a, texts_b;
  std::vector<double> gold;
  std::vector<size_t> lines;
  std::vector<std::string> header;
  InputFormat in_format = InputFormat::Lines;
  Record rec;
  while (reader.next(rec)) {
    in_format = reader.current_format();
    if (in_format == InputFormat::Lines)
      throw Error("pairs mode needs csv, tsv or jsonl input (use --input-format)");
    texts_a.push_back(sel_a.get(rec, reader));
    texts_b.push_back(sel_b.get(rec, reader));
    if (!sel_gold.empty())
      gold.push_back(parse_number_field(sel_gold.get(rec, reader), rec.source + ":" + std::to_string(rec.line),
                                        "gold value in column '" + a.gold_column + "'"));
    lines.push_back(rec.line);
    if (header.empty()) header = reader.columns();
    records.push_back(std::move(rec));
    rec = Record();
  }
  if (size_t n = reader.invalid_utf8_replaced())
    log("replaced " + std::to_string(n) + " invalid UTF-8 byte(s) with U+FFFD");
  if (records.empty()) throw Error("no pairs in the input");
  if (!ro.header) header = reader.columns();  // every column seen, for the widest row
  // --shard I/N: the pairs of records [floor(I*R/N), floor((I+1)*R/N)) (maybe none).
  const ShardSpec spec = a.input.shard_spec();
  if (spec.enabled) {
    require_shard_output(a.input, a.output.path);
    if (!a.report.empty()) throw Error("--report with --shard: merge the shards, the merge recomputes the figures");
    auto& run = *a.input.shard_run;
    run.spec = spec;
    run.records = records.size();
    run.range = shard_range(records.size(), spec.index, spec.count);
    run.first_index = run.range.begin;
    run.items = run.range.size();
    keep_range(records, run.range);
    keep_range(texts_a, run.range);
    keep_range(texts_b, run.range);
    keep_range(gold, run.range);
    keep_range(lines, run.range);
  }

  std::vector<float> scores;
  std::string source, function_name;
  if (!a.cross_encoder.empty()) {
    // A cross-encoder reads each pair jointly: one score per row, no vectors.
    ModelOptions mo = a.model;
    mo.model = a.cross_encoder;
    RunSummary summary;
    auto ce = std::make_unique<CrossEncoder>(mo.open_classifier("reranker"));
    summary.model_ready();
    std::vector<std::pair<std::string, std::string>> text_pairs;
    text_pairs.reserve(records.size());
    for (size_t i = 0; i < records.size(); ++i) text_pairs.emplace_back(texts_a[i], texts_b[i]);
    ClassifyStats stats;
    scores = text_pairs.empty() ? std::vector<float>{} : ce->score(text_pairs, &stats);
    summary.count(text_pairs.size(), stats.tokens, stats.truncated);
    summary.log_done("scored " + count_of(text_pairs.size(), "pair") + " with the cross-encoder", "pair(s)");
    source = a.cross_encoder;
    function_name = "cross-encoder";
  } else {
    Matrix ea, eb;
    if (!a.embeddings.empty()) {
      if (a.embeddings.size() != 2)
        throw Error("pairs mode with --embeddings needs two files (A rows and B rows)");
      ea = read_embeddings(a.embeddings[0]).vectors;
      eb = read_embeddings(a.embeddings[1]).vectors;
      check_same_dimension(ea, eb, a.embeddings[0], a.embeddings[1]);
      for (const auto& [m, name] : {std::pair<const Matrix*, std::string>{&ea, a.embeddings[0]},
                                    std::pair<const Matrix*, std::string>{&eb, a.embeddings[1]}})
        if (m->rows != records.size())
          throw Error(name + " has " + std::to_string(m->rows) + " rows but the input has " +
                      std::to_string(records.size()) + " pairs");
      source = a.embeddings[0] + " + " + a.embeddings[1];
    } else {
      std::vector<std::string> all = texts_a;
      all.insert(all.end(), texts_b.begin(), texts_b.end());
      Matrix both = encoder.embed(all);
      ea = Matrix(records.size(), both.cols);
      eb = Matrix(records.size(), both.cols);
      std::copy(both.data.begin(), both.data.begin() + ea.data.size(), ea.data.begin());
      std::copy(both.data.begin() + ea.data.size(), both.data.end(), eb.data.begin());
      source = a.model.label();
    }
    const SimilarityFunction function = choose_function(a, encoder);
    scores = pairwise_similarity(ea, eb, function);
    function_name = similarity_function_name(function);
  }

  // Output: the input rows with a score column, in the input's format unless --format says.
  const std::string in_name = in_format == InputFormat::Jsonl ? "jsonl" : in_format == InputFormat::Tsv ? "tsv" : "csv";
  const bool tabular_in = in_format != InputFormat::Jsonl;
  bool collides = std::find(header.begin(), header.end(), a.score_column) != header.end();
  for (const Record& r : records)
    if (r.object.is_object() && r.object.contains(a.score_column)) collides = true;
  if (collides)
    throw Error("the input already has a column '" + a.score_column +
                "'; name the score column with --score-column NAME");
  // Every output is opened before any is written, and all are put in place together at the end.
  OutputGroup outputs;
  AtomicOutput& out = outputs.add(a.output.path);
  AtomicOutput* report_out = a.report.empty() || a.gold_column.empty() ? nullptr : &outputs.add(a.report);
  TableWriter w(out, a.output.table_format(in_name));
  if (w.tabular() && (ro.header || !tabular_in)) {
    std::vector<std::string> cols = tabular_in ? header : std::vector<std::string>{"a", "b"};
    if (!tabular_in && !a.gold_column.empty()) cols.push_back("gold");
    cols.push_back(a.score_column);
    w.header(cols);
  }
  for (size_t i = 0; i < records.size(); ++i) {
    const Record& r = records[i];
    Fields f;
    if (tabular_in) {
      // Each row keeps its own fields (rows of a headerless file may be ragged, as STS-B's 7 or 9),
      // the score after them.
      const size_t n = w.tabular() ? r.fields.size() : std::min(r.fields.size(), header.size());
      for (size_t c = 0; c < n; ++c) f.add(c < header.size() ? header[c] : "", c < r.fields.size() ? r.fields[c] : "");
    } else if (!w.tabular()) {
      for (auto& [key, value] : r.object.items()) f.add_json(key, value);
    } else {
      f.add("a", texts_a[i]).add("b", texts_b[i]);
      if (!a.gold_column.empty()) f.add("gold", static_cast<float>(gold[i]));
    }
    f.add(a.score_column, scores[i]);
    w.write(f);
  }
  w.flush();

  if (spec.enabled) {
    // The rows' gold and score columns, so that `sbert merge` recomputes the figures of the
    // whole input (a shard's own correlation would mislead).
    nlohmann::json evaluation;
    if (!a.gold_column.empty())
      evaluation = {{"kind", "correlation"},
                    {"gold", tabular_in || !w.tabular() ? a.gold_column : std::string("gold")},
                    // A headerless output has no column names: the score is the last column.
                    {"score", w.tabular() && tabular_in && !ro.header ? std::to_string(header.size()) : a.score_column},
                    {"function", function_name},
                    {"header", !w.tabular() || ro.header || !tabular_in}};
    outputs.commit();
    write_shard_manifest(a.input, a.output.path, a.output.format_or(in_name), records.size(), command, source,
                         evaluation, nullptr, /*header_row=*/!w.tabular() || ro.header || !tabular_in);
    log("scored " + count_of(scores.size(), "pair") + " of shard " + std::to_string(spec.index) + "/" +
        std::to_string(spec.count) + " (" + function_name + ")");
  } else if (!a.gold_column.empty()) {
    EvaluationInput ev;
    ev.function = function_name;
    ev.model = source;
    ev.input = a.input.files.empty() ? "<stdin>" : a.input.files[0];
    ev.scores.assign(scores.begin(), scores.end());
    ev.gold = gold;
    ev.texts_a = texts_a;
    ev.texts_b = texts_b;
    ev.lines = lines;
    ev.details = {{"A column", a.a_column}, {"B column", a.b_column}, {"gold column", a.gold_column}};
    EvaluationSummary s = evaluate(ev);
    char line[200];
    std::snprintf(line, sizeof line, "%zu pairs, %s: Pearson %.4f, Spearman %.4f", s.pairs,
                  ev.function.c_str(), s.pearson, s.spearman);
    result(line);
    if (report_out) write_report(*report_out, ev, s);
    outputs.commit();
    if (report_out) log("report written to " + a.report);
  } else {
    outputs.commit();
    log("scored " + count_of(scores.size(), "pair") + " (" + function_name + ")");
  }
  return 0;
}

// ---------------------------------------------------------------- matrix / top-k / mine

struct Side {
  Matrix vectors;
  std::vector<std::string> texts;  // may be empty for embeddings without text
  std::vector<std::string> ids;
  std::string name;
};

// The texts (and ids) of one input file, or stdin.
void read_side_texts(const SimilarityArgs& a, size_t which, Side& s) {
  InputOptions in = a.input;
  in.files.clear();
  if (which < a.input.files.size()) in.files.push_back(a.input.files[which]);
  s.name = in.files.empty() ? "<stdin>" : in.files[0];
  for (auto& item : read_texts(in)) {
    s.texts.push_back(std::move(item.text));
    s.ids.push_back(std::move(item.id));
  }
  if (a.input.id_field.empty()) s.ids.clear();
  if (s.texts.empty()) throw Error(s.name + ": no texts");
}

// One side (A or B): precomputed embeddings (with the texts of the matching input file, when
// given, for display and a row-count check) or texts run through the model.
Side load_side(SimilarityArgs& a, LazyEncoder& encoder, size_t which) {
  Side s;
  if (!a.embeddings.empty()) {
    EmbeddingsFile f = read_embeddings(a.embeddings[which]);
    if (which < a.input.files.size()) {
      read_side_texts(a, which, s);
      if (s.texts.size() != f.vectors.rows)
        throw Error(a.embeddings[which] + " has " + std::to_string(f.vectors.rows) + " rows but " + s.name +
                    " has " + std::to_string(s.texts.size()) + " texts");
    } else {
      s.texts = std::move(f.texts);
      s.ids = std::move(f.ids);
    }
    s.vectors = std::move(f.vectors);
    s.name = a.embeddings[which];
    return s;
  }
  read_side_texts(a, which, s);
  s.vectors = encoder.embed(s.texts);
  return s;
}

// id and text of row i of a side, as far as they are known.
void add_labels(Fields& f, const Side& side, size_t i) {
  if (i < side.ids.size()) f.add("id", side.ids[i]);
  if (i < side.texts.size()) f.add("text", side.texts[i]);
}

int run_matrix(SimilarityArgs& a, const Side& sa, const Side& sb, SimilarityFunction function) {
  const std::string fmt = a.output.format_or("csv");
  const bool npy = fmt == "npy";
  AtomicOutput out(a.output.path, npy);
  std::unique_ptr<TableWriter> w;
  if (npy) {
    out.write(npy_header(sa.vectors.rows, sb.vectors.rows));
  } else {
    w = std::make_unique<TableWriter>(out, parse_table_format(fmt, "--matrix --format"));
    std::vector<std::string> head = {"index"};
    for (size_t j = 0; j < sb.vectors.rows; ++j) head.push_back(std::to_string(j));
    w->header(head);
  }
  similarity_blocks(sa.vectors, sb.vectors, function, [&](size_t first, const Matrix& block) {
    if (npy) {
      out.write(block.data.data(), block.data.size() * sizeof(float));
      return;
    }
    for (size_t i = 0; i < block.rows; ++i)
      w->write(Fields().add("index", first + i).add_floats("scores", block.row(i), block.cols));
    w->flush();
  });
  out.commit();
  log("wrote a " + std::to_string(sa.vectors.rows) + " x " + std::to_string(sb.vectors.rows) + " " +
      similarity_function_name(function) + " matrix");
  return 0;
}

int run_top_k(SimilarityArgs& a, const Side& sa, const Side& sb, bool same, SimilarityFunction function) {
  AtomicOutput out(a.output.path);
  TableWriter w(out, a.output.table_format("jsonl"));
  const bool with_text = !sa.texts.empty() && !sb.texts.empty();
  std::vector<std::string> head = {"index", "rank", "match_index", "score"};
  if (with_text) head.insert(head.end(), {"text", "match_text"});
  w.header(head);
  TopKOptions o;
  o.k = a.top_k;
  o.exclude_self = same;
  top_k(sa.vectors, sb.vectors, function, o, [&](size_t q, const std::vector<Match>& matches) {
    if (!w.tabular()) {
      std::string list = "[";
      for (size_t r = 0; r < matches.size(); ++r) {
        Fields m;
        m.add("index", matches[r].index).add("score", matches[r].score);
        add_labels(m, sb, matches[r].index);
        if (r) list += ", ";
        m.append_json(list);
      }
      Fields f;
      f.add("index", q);
      add_labels(f, sa, q);
      w.write(f.add_raw_json("matches", list + "]"));
      return;
    }
    for (size_t r = 0; r < matches.size(); ++r) {
      Fields f;
      f.add("index", q).add("rank", r + 1).add("match_index", matches[r].index).add("score", matches[r].score);
      if (with_text) f.add("text", sa.texts[q]).add("match_text", sb.texts[matches[r].index]);
      w.write(f);
    }
  });
  w.flush();
  out.commit();
  log("top-" + std::to_string(a.top_k) + " (" + similarity_function_name(function) + ") for " +
      std::to_string(sa.vectors.rows) + " rows against " + std::to_string(sb.vectors.rows));
  return 0;
}

int run_mine(SimilarityArgs& a, const Side& s, SimilarityFunction function) {
  MiningOptions o;
  o.top_k = a.top_k ? a.top_k : 100;
  o.max_pairs = a.max_pairs;
  o.threshold = a.threshold;
  o.query_block = 256;
  auto t0 = std::chrono::steady_clock::now();
  std::vector<ParaphrasePair> pairs = paraphrase_mining(s.vectors, function, o);
  const double secs = seconds_since(t0);
  AtomicOutput out(a.output.path);
  TableWriter w(out, a.output.table_format("jsonl"));
  const bool with_text = !s.texts.empty();
  // The row vocabulary of every command: "index" is a row of the input, "match_index" the other
  // row of the pair (as in --top-k's tabular output), "text"/"match_text" their texts.
  std::vector<std::string> head = {"index", "match_index", "score"};
  if (with_text) head.insert(head.end(), {"text", "match_text"});
  w.header(head);
  for (const ParaphrasePair& p : pairs) {
    Fields f;
    f.add("index", p.i).add("match_index", p.j).add("score", p.score);
    if (with_text) f.add("text", s.texts[p.i]).add("match_text", s.texts[p.j]);
    w.write(f);
  }
  w.flush();
  out.commit();
  char line[200];
  std::snprintf(line, sizeof line, "mined %zu pairs among %zu rows (%s, top-k %zu) in %.2f s",
                pairs.size(), s.vectors.rows, similarity_function_name(function).c_str(), o.top_k, secs);
  log(line);
  return 0;
}

int run_similarity(SimilarityArgs& a, const CLI::App* command) {
  if (!a.cross_encoder.empty() && (a.a_column.empty() || a.b_column.empty()))
    throw Error("--cross-encoder scores pairs: give --a-column and --b-column");
  if (!a.cross_encoder.empty() && !a.embeddings.empty())
    throw Error("--cross-encoder reads texts, not --embeddings");
  const bool pairs = !a.a_column.empty() || !a.b_column.empty();
  const int modes = int(pairs) + int(a.matrix) + int(a.mine) + int(a.top_k > 0 && !a.mine);
  if (modes > 1)
    throw Error("choose one mode: --a-column/--b-column (pairs), --matrix, --top-k K or --mine");
  if (!a.gold_column.empty() && !pairs) throw Error("--gold-column needs pairs mode (--a-column/--b-column)");
  if (!a.report.empty()) {
    if (a.gold_column.empty()) throw Error("--report needs gold scores (--gold-column)");
    report_format_for_path(a.report);  // fail before any work on a bad name
  }
  if (!a.function.empty()) parse_similarity_function(a.function);
  if (a.mine && !a.threshold && a.max_pairs == 0) throw Error("--max-pairs must be positive");
  LazyEncoder encoder(a.model);
  if (pairs && a.input.shard_spec().enabled && !a.embeddings.empty())
    throw Error("--shard reads texts, not --embeddings");
  if (pairs) return run_pairs(a, encoder, command);
  if (a.input.shard_spec().enabled) throw Error("--shard works in pairs mode (--a-column/--b-column)");

  // matrix (the default), top-k and mine take one or two inputs: texts or embeddings.
  const size_t sources = a.embeddings.empty() ? a.input.files.size() : a.embeddings.size();
  if (!a.embeddings.empty() && !a.input.files.empty() && a.input.files.size() != a.embeddings.size())
    throw Error("beside --embeddings, text files are the rows' texts: give one per embeddings file (got " +
                std::to_string(a.input.files.size()) + " for " + std::to_string(a.embeddings.size()) + ")");
  if (sources > 2) throw Error("at most two inputs (A and B), got " + std::to_string(sources));
  if (a.mine && sources == 2) throw Error("--mine works within one input");
  const bool same = sources <= 1;
  Side sa = load_side(a, encoder, 0);
  Side sb;
  if (!same) {
    sb = load_side(a, encoder, 1);
    check_same_dimension(sa.vectors, sb.vectors, sa.name, sb.name);
  }
  const SimilarityFunction function = choose_function(a, encoder);
  if (a.mine) return run_mine(a, sa, function);
  if (a.top_k > 0) return run_top_k(a, sa, same ? sa : sb, same, function);
  return run_matrix(a, sa, same ? sa : sb, function);
}

std::function<int()> setup_similarity(CLI::App& app) {
  auto a = std::make_shared<SimilarityArgs>();
  CLI::App* sub = app.add_subcommand(
      "similarity",
      "Similarity scores: pairs from a CSV/TSV/JSONL (with evaluation against gold scores), "
      "a score matrix, top-k neighbours, or paraphrase mining");
  a->input.add_to(sub);
  a->model.add_to(sub);
  a->model.add_server_to(sub);
  a->output.add_to(sub, {"csv", "tsv", "jsonl", "npy"},
                   "pairs: the input's; --matrix: csv (npy too); --top-k/--mine: jsonl");
  sub->add_option("--function", a->function,
                  "cosine, dot, euclidean or manhattan (default: the model's similarity function, "
                  "else cosine); distances are negated so larger = more similar")
      ->check(CLI::IsMember({"cosine", "dot", "dot_product", "euclidean", "manhattan"}));
  sub->add_option("--a-column,--a-field", a->a_column, "Pairs mode: first text (column name/0-based index, or JSON key)");
  sub->add_option("--b-column,--b-field", a->b_column, "Pairs mode: second text");
  sub->add_option("--gold-column,--gold-field", a->gold_column,
                  "Pairs mode: gold score; prints Pearson and Spearman on stderr (even with -q)");
  sub->add_option("--report", a->report, "Pairs mode with gold: write an evaluation report (.json, .md or .html)");
  sub->add_flag("--matrix", a->matrix, "All-pairs score matrix |A| x |B| (one input: A x A); the default mode");
  sub->add_option("--top-k", a->top_k, "The K best matches of B (or of A, excluding itself) for each row of A; "
                                       "with --mine: candidates per sentence (default 100)");
  sub->add_flag("--mine", a->mine, "Paraphrase mining within one input (pairs sorted by score)");
  sub->add_option("--threshold", a->threshold, "--mine: keep pairs scoring at least this");
  sub->add_option("--max-pairs", a->max_pairs, "--mine: keep at most this many pairs")->capture_default_str();
  sub->add_option("--embeddings", a->embeddings,
                  "Precomputed embeddings instead of running a model: A.npy [B.npy] (or .jsonl from sbert embed); "
                  "text files given beside them hold the rows' texts (shown in the output, rows checked)")
      ->expected(1, 2);
  sub->add_option("--cross-encoder", a->cross_encoder, "Score pairs with a cross-encoder model (pairs mode; sigmoid of the logit)");
  sub->add_option("--score-column", a->score_column, "Pairs mode: name of the score column added to the rows")
      ->capture_default_str();
  a->input.add_shard_options(sub);
  return [a, sub]() { return run_similarity(*a, sub); };
}

SBERT_COMMAND("similarity", setup_similarity);

}  // namespace
}  // namespace sbert::cli
