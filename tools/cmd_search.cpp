// sbert search: semantic search over a persistent index folder (FAISS + SQLite + manifest).
//   build  embed a corpus and create the index      add     embed and add rows (--upsert)
//   remove delete rows by id                        info    print the manifest and FAISS details
//   query  embed queries (the model's "query" prompt) and print the top k, optionally reranked
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "classifier_options.h"
#include "cli_common.h"
#include "command.h"
#include "sbert/classifier.h"
#include "sbert/error.h"
#include "sbert/output_file.h"
#include "sbert/search_index.h"

namespace sbert::cli {
namespace {

namespace fs = std::filesystem;

struct SearchArgs {
  std::string index;
  std::vector<std::string> indexes;  // query: one or more (shards of one corpus)
  std::vector<std::string> parts;    // merge: the shard indexes
  InputOptions input;
  ModelOptions model;
  OutputOptions output;
  // build
  std::string factory = "Flat";
  size_t train_sample = 0;
  bool overwrite = false;
  VectorOptions vectors;
  std::string document_prompt;  // prompt name for the corpus ("" = "document" when defined)
  std::vector<std::string> meta_columns;
  // add
  bool upsert = false;
  // remove
  std::vector<std::string> ids;
  std::string ids_file;
  bool ignore_missing = false;
  // query
  std::vector<std::string> queries;
  std::vector<std::string> query_files;
  size_t k = 10;
  std::optional<float> min_score;
  size_t nprobe = 0, ef_search = 0;
  std::string query_prompt;  // prompt name for queries ("" = "query" when defined)
  std::string rerank;
  size_t rerank_top = 100;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The model folder for an existing index: --model when given, else the manifest's model.
fs::path model_folder(const SearchArgs& a, const IndexManifest& m, std::string* shown) {
  ModelOptions mo = a.model;
  if (mo.model.empty()) mo.model = m.model;
  *shown = mo.model;
  return mo.resolve();
}

// Encoder options recorded at build time, applied again for adds and queries.
EncoderOptions recorded_encoder_options(const SearchArgs& a, const IndexEncoderSettings& e) {
  EncoderOptions o = a.model.encoder_options();
  o.pooling = e.pooling;
  o.normalize = e.normalize;
  o.truncate_dim = e.truncate_dim;
  if (!a.model.max_length) o.max_length = e.max_length;
  return o;
}

// Reads the corpus and embeds it in bounded chunks.
void read_and_embed(const SearchArgs& a, SentenceEncoder& enc, const std::string& prompt,
                    Matrix& vectors, std::vector<IndexRow>& rows) {
  Progress progress("embedding", 0);
  vectors = Matrix(0, enc.dimension());
  for_each_text_chunk(a.input, 4096, [&](std::vector<TextItem>& items) {
    std::vector<std::string> texts;
    texts.reserve(items.size());
    for (auto& it : items) {
      texts.push_back(it.text);
      IndexRow r;
      r.id = it.id;
      // A shard's rows keep the whole corpus's automatic ids (its row numbers), so that merged
      // or fanned-out results show the ids of a whole-corpus index.
      if (r.id.empty() && a.input.shard_spec().enabled) r.id = std::to_string(it.index);
      if (!a.input.id_field.empty() && r.id.empty())
        throw Error(it.record.source + ":" + std::to_string(it.record.line) + ": empty id");
      r.text = it.text;
      if (!a.meta_columns.empty()) {
        r.metadata = nlohmann::json::object();
        for (const auto& c : a.meta_columns) {
          if (it.record.object.is_object())
            r.metadata[c] = it.record.object.value(c, nlohmann::json());
          else
            r.metadata[c] = it.value(c);
        }
      }
      rows.push_back(std::move(r));
    }
    Matrix m = prompt.empty() ? enc.encode(texts) : enc.encode_with_prompt(texts, prompt);
    vectors.cols = m.cols;
    vectors.data.insert(vectors.data.end(), m.data.begin(), m.data.end());
    vectors.rows += m.rows;
    progress.advance(items.size());
  });
  progress.finish();
}

// "idx/" -> "idx": the shard manifest goes beside the folder (idx.shard.json).
std::string folder_name(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

int run_build(SearchArgs& a, const CLI::App* command) {
  a.index = folder_name(a.index);
  auto t0 = std::chrono::steady_clock::now();
  EncoderOptions opts = a.model.encoder_options();
  a.vectors.apply(opts);
  fs::path folder = a.model.resolve();
  auto enc = SentenceEncoder::load(folder, opts);

  IndexManifest info;
  std::string name = a.model.model.empty() ? folder.string() : a.model.model;
  std::error_code ec;
  // A folder is recorded as an absolute path so that queries work from any directory.
  info.model = fs::is_directory(name, ec) ? fs::absolute(name).lexically_normal().string() : name;
  info.model_fingerprint = model_fingerprint(folder);
  info.similarity = enc->similarity_function();
  info.normalized = enc->normalizes() || info.similarity == "cosine";
  info.factory = a.factory;
  IndexEncoderSettings settings;
  settings.pooling = a.vectors.pooling;
  settings.truncate_dim = a.vectors.truncate_dim;
  settings.max_length = a.model.max_length;
  settings.normalize = opts.normalize;
  settings.document_prompt = resolve_prompt(*enc, "", a.document_prompt, "document");
  settings.id_field = a.input.id_field;
  info.encoder = settings.to_json();
  const std::string& prompt = settings.document_prompt;

  Matrix vectors;
  std::vector<IndexRow> rows;
  require_shard_output(a.input, a.index);
  read_and_embed(a, *enc, prompt, vectors, rows);
  double embed_s = seconds_since(t0);
  if (a.input.shard_spec().enabled && rows.empty()) {  // an empty shard: no index, only its manifest
    std::error_code mk;
    fs::create_directories(a.index, mk);
    write_shard_manifest(a.input, a.index, "index", 0, command, info.model);
    log("shard " + a.input.shard + ": no rows; wrote only " + shard_manifest_path(a.index));
    return 0;
  }
  BuildOptions bo;
  bo.train_sample = a.train_sample;
  bo.overwrite = a.overwrite;
  auto index = SearchIndex::build(a.index, info, vectors, rows, bo);
  write_shard_manifest(a.input, a.index, "index", rows.size(), command, info.model);
  char buf[256];
  std::snprintf(buf, sizeof buf, "built %s: %zu rows, %zu dims, %s (%s) in %.2f s (embedding %.2f s)",
                a.index.c_str(), index.manifest().rows, index.manifest().dimension, a.factory.c_str(),
                index.manifest().metric.c_str(), seconds_since(t0), embed_s);
  log(buf);
  return 0;
}

// Opens the index and loads the model it was built with (refusing a different model).
std::unique_ptr<SentenceEncoder> open_with_model(const SearchArgs& a, SearchIndex& index) {
  if (a.model.remote()) {  // the server's model must be the index's, with the same settings
    const IndexEncoderSettings e = index.encoder_settings();
    auto enc = a.model.open_encoder(a.model.encoder_options());
    index.check_model(enc->info().fingerprint, a.model.label());
    if ((!e.pooling.empty() && e.pooling != enc->info().pooling) || (e.normalize && *e.normalize != enc->normalizes()) ||
        e.truncate_dim || (e.max_length && e.max_length != enc->max_length()))
      throw Error("the index was built with encoder options (pooling, normalisation, --truncate-dim or --max-length) "
                  "that the server's model does not apply; query it with the model loaded locally");
    return enc;
  }
  std::string shown;
  fs::path folder = model_folder(a, index.manifest(), &shown);
  index.check_model(model_fingerprint(folder), shown);
  return SentenceEncoder::load(folder, recorded_encoder_options(a, index.encoder_settings()));
}

int run_add(SearchArgs& a) {
  auto t0 = std::chrono::steady_clock::now();
  auto index = SearchIndex::open(a.index);
  const IndexEncoderSettings settings = index.encoder_settings();
  // Rows of an index built with ids take their ids from the same column by default (and the
  // input must have it); automatic ids would give the same text a second, invented id.
  if (a.input.id_field.empty()) a.input.id_field = settings.id_field;
  auto enc = open_with_model(a, index);
  Matrix vectors;
  std::vector<IndexRow> rows;
  read_and_embed(a, *enc, settings.document_prompt, vectors, rows);
  const size_t replaced = index.add(vectors, rows, a.upsert);
  char buf[200];
  std::snprintf(buf, sizeof buf, "added %zu rows to %s (%zu replaced), now %zu rows, in %.2f s", rows.size(),
                a.index.c_str(), replaced, index.manifest().rows, seconds_since(t0));
  log(buf);
  return 0;
}

int run_remove(SearchArgs& a) {
  std::vector<std::string> ids = a.ids;
  if (!a.ids_file.empty()) {
    std::ifstream in(a.ids_file == "-" ? "/dev/stdin" : a.ids_file);
    if (!in) throw Error(a.ids_file + ": cannot open");
    std::string line;
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (!line.empty()) ids.push_back(line);
    }
  }
  if (ids.empty()) throw Error("no ids to remove: give them as arguments (or --ids ID...), or --ids-file FILE");
  auto index = SearchIndex::open(a.index);
  size_t n = index.remove(ids, a.ignore_missing);
  std::string note = index.manifest().supports_remove
                         ? ""
                         : " (this index type cannot delete vectors: they are hidden from results; "
                           "rebuild to reclaim space)";
  log("removed " + count_of(n, "row") + " from " + a.index + ", now " + count_of(index.manifest().rows, "row") + note);
  return 0;
}

// search merge: one index from the indexes of `search build --shard I/N` (each with its
// INDEX.shard.json), in shard order, as one build over the whole corpus would make it.
int run_merge_indexes(SearchArgs& a) {
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::string> given;
  for (const auto& p : a.parts) given.push_back(folder_name(p));
  const auto shards = check_shard_set(given);
  if (shards.front().first.format != "index")
    throw Error("search merge: " + shards.front().second + " is not a search index shard (use `sbert merge` for files)");
  std::vector<fs::path> parts;
  for (const auto& [m, p] : shards)
    if (m.rows > 0) parts.emplace_back(p);
  if (parts.empty()) throw Error("search merge: every shard is empty");
  BuildOptions bo;
  const auto& options = shards.front().first.key["options"];
  if (auto it = options.find("--train-sample"); it != options.end() && it->is_array() && !it->empty())
    bo.train_sample = std::stoull((*it)[0].get<std::string>());
  bo.overwrite = a.overwrite;
  auto index = SearchIndex::merge(a.index, parts, bo);
  log("merged " + count_of(shards.size(), "shard") + " into " + a.index + ": " +
      count_of(index.manifest().rows, "row") + " in " + std::to_string(seconds_since(t0)).substr(0, 4) + " s");
  return 0;
}

int run_info(SearchArgs& a) {
  auto index = SearchIndex::open(a.index);
  AtomicOutput out(a.output.path);
  out.write(index.info().dump(2) + "\n");
  out.commit();
  return 0;
}

// One line of the terminal table: newlines flattened, at most `max_bytes` bytes (UTF-8 safe).
std::string one_line(const std::string& s, size_t max_bytes) { return shorten_utf8(tsv_clean(s), max_bytes); }

int run_query(SearchArgs& a) {
  auto t0 = std::chrono::steady_clock::now();
  if (!a.queries.empty() && !a.query_files.empty())
    throw Error("give queries as arguments or with --input, not both");
  std::vector<std::string> queries = a.queries;
  if (queries.empty()) {
    InputOptions in = a.input;
    in.files = a.query_files;
    for (auto& item : read_texts(in)) queries.push_back(item.text);
  }
  if (queries.empty()) throw Error("no queries (give them as arguments, with --input FILE, or on stdin)");
  if (a.rerank_top == 0) throw Error("--rerank-top must be at least 1");

  // Several indexes (shards of one corpus): in shard order when they carry shard manifests.
  std::vector<std::string> names;
  for (const auto& n : a.indexes) names.push_back(folder_name(n));
  if (names.size() > 1) {
    bool manifests = true;
    for (const auto& n : names) manifests = manifests && fs::exists(shard_manifest_path(n));
    if (manifests) {
      std::vector<std::pair<ShardManifest, std::string>> ordered;
      for (const auto& n : names) ordered.emplace_back(read_shard_manifest(n), n);
      std::stable_sort(ordered.begin(), ordered.end(), [](const auto& x, const auto& y) { return x.first.shard < y.first.shard; });
      names.clear();
      for (const auto& [m, n] : ordered)
        if (m.rows > 0) names.push_back(n);  // an empty shard has no index
    }
  }
  if (names.empty()) throw Error("no index to query (every shard is empty)");
  check_query_indexes(names);
  a.index = names.front();
  auto index = SearchIndex::open(a.index);
  std::vector<SearchIndex> more;
  for (size_t i = 1; i < names.size(); ++i) {
    more.push_back(SearchIndex::open(names[i]));
    if (std::string what = SearchIndex::difference(index.manifest(), more.back().manifest(), false); !what.empty())
      throw Error(names[i] + ": made with another " + what + " than " + names.front());
  }
  auto enc = open_with_model(a, index);
  std::unique_ptr<CrossEncoder> ce;
  if (!a.rerank.empty()) {
    ModelOptions mo = a.model;
    mo.model = a.rerank;
    ce = std::make_unique<CrossEncoder>(mo.open_classifier("reranker"));
  }
  const std::string prompt = resolve_prompt(*enc, "", a.query_prompt, "query");
  Matrix qv = prompt.empty() ? enc->encode(queries) : enc->encode_with_prompt(queries, prompt);

  QueryOptions qo;
  qo.k = ce ? std::max(a.k, a.rerank_top) : a.k;
  qo.min_score = ce ? std::nullopt : a.min_score;  // with reranking, min_score applies to the new scores
  qo.nprobe = a.nprobe;
  qo.ef_search = a.ef_search;
  QueryReport report;
  auto results = index.search(qv, qo, &report);
  size_t total_rows = index.manifest().rows;
  // Fan-out: every index's top k, merged by score; on equal scores the earlier index (shard)
  // first, then its own order — the tie rule of one index over the whole corpus. Independent
  // indexes may share ids: one hit per id.
  size_t duplicates = 0;
  for (SearchIndex& other : more) {
    QueryReport r;
    auto part = other.search(qv, qo, &r);
    report.k_effective += r.k_effective;
    report.widened = report.widened || r.widened;
    report.nprobe_used = std::max(report.nprobe_used, r.nprobe_used);
    report.ef_search_used = std::max(report.ef_search_used, r.ef_search_used);
    total_rows += other.manifest().rows;
    for (size_t q = 0; q < results.size(); ++q) duplicates += merge_hits(results[q], std::move(part[q]), qo.k);
  }
  if (duplicates)
    log("warning: " + count_of(duplicates, "hit") + " had an id already found in an earlier index; kept the best " +
        "one per id (the indexes overlap: query shards of one corpus or indexes of disjoint ones)");
  report.k_effective = std::min(report.k_effective, qo.k);
  if (report.k_effective < a.k)
    log("note: k=" + std::to_string(a.k) + " is larger than the index (" + count_of(total_rows, "row") +
        "); returning at most " + std::to_string(report.k_effective) + " results per query");
  if (report.widened)
    log("note: the index found fewer than k rows at its search breadth; searched wider (" +
        (report.nprobe_used ? "nprobe up to " + std::to_string(report.nprobe_used)
                            : "efSearch up to " + std::to_string(report.ef_search_used)) + ")");
  if (ce) {
    Reranker reranker = [&](const std::string& q, const std::vector<std::string>& texts) {
      std::vector<std::pair<std::string, std::string>> pairs;
      pairs.reserve(texts.size());
      for (const auto& t : texts) pairs.emplace_back(q, t);
      return ce->score(pairs);
    };
    for (size_t i = 0; i < results.size(); ++i) SearchIndex::rerank(queries[i], results[i], reranker, a.k, a.min_score);
  }

  std::string format = a.output.format;
  if (format.empty()) format = (a.output.path.empty() || a.output.path == "-") && stdout_is_terminal() ? "table" : "jsonl";
  AtomicOutput out(a.output.path);
  TableWriter w(out, TableFormat::Jsonl);
  for (size_t i = 0; i < results.size(); ++i) {
    if (format == "jsonl") {
      std::string hits = "[";
      for (size_t r = 0; r < results[i].size(); ++r) {
        const SearchHit& h = results[i][r];
        Fields f;
        f.add("rank", h.rank).add("id", h.id).add("score", h.score);
        if (h.retrieval_score) f.add("retrieval_score", *h.retrieval_score);
        f.add("text", h.text);
        if (!h.metadata.is_null()) f.add_json("metadata", h.metadata);
        if (r) hits += ", ";
        f.append_json(hits);
      }
      w.write(Fields().add("query_index", i).add("query", queries[i]).add_raw_json("results", hits + "]"));
    } else {
      std::string buf = (i ? "\n" : "") + std::string("query ") + std::to_string(i + 1) + ": " + one_line(queries[i], 100) + "\n";
      if (results[i].empty()) buf += "  (no results)\n";
      for (const auto& h : results[i]) {
        char line[64];
        std::snprintf(line, sizeof line, "  %3zu  %8.4f  ", h.rank, h.score);
        buf += line + one_line(h.id, 24) + "  " + one_line(h.text, 90) + "\n";
      }
      w.write_raw(buf);
    }
  }
  w.flush();
  out.commit();
  char secs[32];
  std::snprintf(secs, sizeof secs, " in %.2f s", seconds_since(t0));
  log(count_of(queries.size(), "query", "queries") + secs);
  return 0;
}

std::function<int()> setup_search(CLI::App& app) {
  auto a = std::make_shared<SearchArgs>();
  CLI::App* sub = app.add_subcommand("search", "Semantic search with a persistent index (build, add, remove, info, query)");
  sub->require_subcommand(1);

  auto common = [&](CLI::App* s) {
    s->add_option("--index", a->index, "Index folder")->required();
  };

  CLI::App* build = sub->add_subcommand("build", "Embed a corpus (FILE... or stdin) and create an index");
  common(build);
  a->input.add_to(build);
  a->input.add_shard_options(build);
  a->model.add_to(build);
  build->add_option("--factory", a->factory,
                    "FAISS index_factory string: Flat (exact), HNSW32, IVF1024,Flat, IVF1024,PQ32, ...")
      ->capture_default_str();
  build->add_option("--train-sample", a->train_sample, "Train IVF/PQ indexes on N random vectors (default: all)");
  build->add_flag("--overwrite", a->overwrite, "Replace an existing index in the folder");
  a->vectors.add_to(build);
  build->add_option("--prompt-name", a->document_prompt,
                    "Model prompt for the corpus (default: \"document\" when the model defines it)");
  build->add_option("--meta-column", a->meta_columns,
                    "Columns/keys stored as metadata and returned with results (repeat, or a,b,c)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->expected(1)
      ->allow_extra_args(false)
      ->delimiter(',');

  CLI::App* add = sub->add_subcommand("add", "Embed rows (FILE... or stdin) and add them to an index");
  common(add);
  a->input.add_to(add);
  a->model.add_to(add, "Model folder or name (default: the index's model; must be the same model)");
  add->add_flag("--upsert", a->upsert, "Replace rows whose id is already in the index (else an error)");
  add->add_option("--meta-column", a->meta_columns, "Columns/keys stored as metadata (repeat, or a,b,c)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->expected(1)
      ->allow_extra_args(false)
      ->delimiter(',');

  CLI::App* remove = sub->add_subcommand("remove", "Remove rows by id");
  common(remove);
  remove->add_option("ids,--ids", a->ids, "Ids to remove (as arguments or after --ids)");
  remove->add_option("--ids-file", a->ids_file, "File with one id per line ('-' = stdin)");
  remove->add_flag("--ignore-missing", a->ignore_missing, "Ids not in the index are not an error");

  CLI::App* info = sub->add_subcommand("info", "Print the index manifest and FAISS details as JSON");
  common(info);
  info->add_option("-o,--output", a->output.path, "Output file (default: stdout)");

  CLI::App* merge = sub->add_subcommand(
      "merge", "One index from the shard indexes of `search build --shard I/N` (as one build over the whole corpus)");
  merge->add_option("--index,-o,--output", a->index, "The merged index folder")->required();
  merge->add_option("parts", a->parts, "The shard index folders (any order; each with its INDEX.shard.json)")->required();
  merge->add_flag("--overwrite", a->overwrite, "Replace an existing index in the folder");

  CLI::App* query = sub->add_subcommand("query", "Top-k rows for each query");
  query->add_option("--index", a->indexes,
                    "Index folder; repeat for the shards of one corpus (results merged as from one index)")
      ->required()
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->expected(1)
      ->allow_extra_args(false);
  query->add_option("queries", a->queries, "Query texts (default: --input files, else one per line on stdin)");
  query->add_option("-i,--input", a->query_files, "File with queries (lines, jsonl, csv, tsv; '-' = stdin; repeatable)")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->expected(1)
      ->allow_extra_args(false);
  a->input.add_to(query, /*with_files=*/false);
  a->model.add_to(query, "Model folder or name (default: the index's model; must be the same model)");
  a->model.add_server_to(query);
  query->add_option("-k,--top-k", a->k, "Results per query")->capture_default_str()->check(CLI::PositiveNumber);
  query->add_option("--min-score", a->min_score, "Drop results scoring below this");
  query->add_option("--nprobe", a->nprobe, "IVF: inverted lists visited per query (default 1; widened when fewer than k rows are found)");
  query->add_option("--ef-search", a->ef_search, "HNSW: search breadth (default 64, set at build)");
  query->add_option("--prompt-name", a->query_prompt, "Model prompt for queries (default: \"query\" when defined)");
  query->add_option("--rerank", a->rerank, "Cross-encoder model that re-scores the top --rerank-top results");
  query->add_option("--rerank-top", a->rerank_top, "Candidates fetched for reranking")->capture_default_str();
  query->add_option("-o,--output", a->output.path, "Output file (default: stdout)");
  query->add_option("--format", a->output.format, "jsonl or table (default: table on a terminal, else jsonl)")
      ->check(CLI::IsMember({"jsonl", "table"}));

  return [a, build, add, remove, info, query, merge]() {
    if (build->parsed()) return run_build(*a, build);
    if (merge->parsed()) return run_merge_indexes(*a);
    if (add->parsed()) return run_add(*a);
    if (remove->parsed()) return run_remove(*a);
    if (info->parsed()) return run_info(*a);
    if (query->parsed()) return run_query(*a);
    throw Error("sbert search: give a subcommand (build, add, remove, info, query)");
  };
}

SBERT_COMMAND("search", setup_search);

}  // namespace
}  // namespace sbert::cli
