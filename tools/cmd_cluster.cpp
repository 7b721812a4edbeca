// sbert cluster: group texts (or precomputed embeddings) with k-means, agglomerative clustering
// or sentence-transformers community detection.
//   rows     (default)   every input row with its cluster id (-1 = unassigned), csv/tsv/jsonl
//   --summary            per cluster: size, medoid text, representatives (text or json)
//   --plot FILE.html     self-contained 2-D scatter plot (PCA or t-SNE), text on hover
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "command.h"
#include "sbert/cluster.h"
#include "sbert/cluster_plot.h"
#include "sbert/embeddings_file.h"
#include "sbert/error.h"
#include "sbert/output_file.h"
#include "sbert/projection.h"

namespace sbert::cli {
namespace {

struct ClusterArgs {
  InputOptions input;
  ModelOptions model;
  OutputOptions output;
  std::string method = "kmeans";
  size_t k = 0;
  std::optional<double> distance_threshold;
  std::string linkage = "average";
  std::string metric;  // empty: the model's similarity function (euclidean/manhattan -> euclidean), else cosine
  float threshold = 0.75f;
  size_t min_size = 10;
  int seed = 1234;
  int nredo = 3;
  int iterations = 25;
  std::string embeddings;
  bool summary = false;
  std::string summary_file;
  size_t representatives = 5;
  std::string plot;
  std::string projection = "pca";
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// What the rows are: vectors plus, when known, the input records they came from.
struct Rows {
  Matrix vectors;
  std::vector<TextItem> items;      // empty for --embeddings without text input
  std::vector<std::string> texts;   // per row ("" when unknown)
  std::vector<std::string> ids;     // per row (may be empty)
  std::vector<std::string> columns; // csv/tsv header of the input
  InputFormat format = InputFormat::Lines;
  std::string model_similarity;     // the model's similarity function, when a model ran
};

Rows load_rows(const ClusterArgs& a) {
  Rows r;
  const bool have_text_input = !a.input.files.empty() || a.embeddings.empty();
  if (have_text_input) {
    r.items = read_texts(a.input, &r.columns);
    if (!r.items.empty()) {
      const auto& first = r.items.front();
      r.format = !first.record.object.is_null()          ? InputFormat::Jsonl
                 : (first.columns && !first.columns->empty()) ? InputFormat::Csv  // csv or tsv
                                                              : InputFormat::Lines;
    }
    for (const auto& it : r.items) {
      r.texts.push_back(it.text);
      r.ids.push_back(it.id);
    }
  }
  if (!a.embeddings.empty()) {
    EmbeddingsFile f = read_embeddings(a.embeddings);
    try {
      validate_embeddings(f.vectors, 2);
    } catch (const Error& e) {
      throw Error(a.embeddings + ": " + e.what());
    }
    if (have_text_input && r.items.size() != f.vectors.rows)
      throw Error(a.embeddings + " has " + std::to_string(f.vectors.rows) + " rows but the text input has " +
                  std::to_string(r.items.size()));
    if (!have_text_input) {
      r.texts = f.texts.empty() ? std::vector<std::string>(f.vectors.rows) : f.texts;
      r.ids = f.ids;
    }
    r.vectors = std::move(f.vectors);
    return r;
  }
  if (r.items.empty()) throw Error("no input texts");
  RunSummary summary;
  auto encoder = SentenceEncoder::load(a.model.resolve(), a.model.encoder_options());
  summary.model_ready();
  EncodeStats stats;
  r.vectors = encoder->encode(r.texts, &stats);
  r.model_similarity = encoder->similarity_function();
  summary.count(stats.texts, stats.tokens, stats.truncated);
  summary.log_done("embedded " + count_of(stats.texts, "text"));
  return r;
}

std::string row_name(const Rows& r, size_t i) {
  if (i < r.texts.size() && !r.texts[i].empty()) return r.texts[i];
  if (i < r.ids.size() && !r.ids[i].empty()) return r.ids[i];
  return "row " + std::to_string(i);
}

// One line of a summary: newlines flattened, at most `max_bytes` bytes (UTF-8 safe).
std::string short_text(const std::string& s, size_t max_bytes) { return shorten_utf8(tsv_clean(s), max_bytes); }

// Every input row with its cluster: "index" (the row's position, as every command names rows;
// unless the input has its own "index"), the input's own columns (csv/tsv) or keys (jsonl), else
// id/text, then "cluster".
void write_rows(AtomicOutput& out, const Rows& r, const std::vector<int>& labels, TableFormat fmt) {
  TableWriter w(out, fmt);
  const bool has_ids = std::any_of(r.ids.begin(), r.ids.end(), [](auto& s) { return !s.empty(); });
  const bool any_text = !r.items.empty() || std::any_of(r.texts.begin(), r.texts.end(), [](auto& s) { return !s.empty(); });
  const bool table_in = !r.items.empty() && r.format == InputFormat::Csv;
  const bool json_in = !r.items.empty() && r.format == InputFormat::Jsonl;
  const bool own_index = table_in ? std::find(r.columns.begin(), r.columns.end(), "index") != r.columns.end() : false;
  if (w.tabular()) {
    std::vector<std::string> header;
    if (!own_index) header.push_back("index");
    if (table_in) {
      header.insert(header.end(), r.columns.begin(), r.columns.end());
    } else {
      if (has_ids) header.push_back("id");
      if (any_text) header.push_back("text");
    }
    header.push_back("cluster");
    w.header(header);
  }
  for (size_t i = 0; i < labels.size(); ++i) {
    Fields f;
    if (table_in) {
      if (!own_index) f.add("index", i);
      const auto& fields = r.items[i].record.fields;
      for (size_t c = 0; c < r.columns.size(); ++c) f.add(r.columns[c], c < fields.size() ? fields[c] : "");
    } else if (json_in && !w.tabular() && r.items[i].record.object.is_object()) {
      const auto& object = r.items[i].record.object;
      if (!object.contains("index")) f.add("index", i);
      for (auto& [key, value] : object.items()) f.add_json(key, value);
    } else {
      f.add("index", i);
      if (has_ids) f.add("id", r.ids[i]);
      if (any_text && (w.tabular() || !r.texts[i].empty() || !r.items.empty())) f.add("text", r.texts[i]);
    }
    f.add("cluster", labels[i]);
    w.write(f);
  }
  w.flush();
}

// The per-cluster summary as text or JSON.
std::string render_summary(const Rows& r, const std::vector<int>& labels, const std::vector<ClusterSummary>& summaries,
                           const std::string& fmt, const std::string& description) {
  size_t unassigned = 0;
  for (int l : labels) unassigned += l < 0;
  if (fmt == "json") {
    nlohmann::ordered_json j;
    j["method"] = description;
    j["rows"] = labels.size();
    j["clusters"] = summaries.size();
    j["unassigned"] = unassigned;
    auto row = [&](size_t i) {
      nlohmann::ordered_json o;
      o["index"] = i;
      if (i < r.ids.size() && !r.ids[i].empty()) o["id"] = r.ids[i];
      if (i < r.texts.size()) o["text"] = r.texts[i];
      return o;
    };
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (const auto& s : summaries) {
      nlohmann::ordered_json c;
      c["cluster"] = s.label;
      c["size"] = s.size;
      c["medoid"] = row(s.medoid);
      c["representatives"] = nlohmann::ordered_json::array();
      for (size_t i : s.representatives) c["representatives"].push_back(row(i));
      list.push_back(std::move(c));
    }
    j["summary"] = std::move(list);
    return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  }
  {
    std::string text = description + ": " + count_of(summaries.size(), "cluster") + " over " +
                       count_of(labels.size(), "row");
    if (unassigned) text += " (" + std::to_string(unassigned) + " unassigned)";
    text += "\n";
    for (const auto& s : summaries) {
      char head[96];
      std::snprintf(head, sizeof head, "\ncluster %d: %zu %s (%.1f%%)\n", s.label, s.size, s.size == 1 ? "row" : "rows",
                    100.0 * double(s.size) / double(labels.size()));
      text += head;
      text += "  medoid: " + short_text(row_name(r, s.medoid), 100) + "\n";
      for (size_t i = 1; i < s.representatives.size(); ++i)
        text += "    - " + short_text(row_name(r, s.representatives[i]), 100) + "\n";
    }
    return text;
  }
}

int run_cluster(ClusterArgs& a) {
  // Validate the options before any (possibly slow) embedding.
  ClusterRequest req;
  req.method = parse_cluster_method(a.method);
  req.k = a.k;
  req.distance_threshold = a.distance_threshold;
  req.linkage = parse_linkage(a.linkage);
  if (!a.metric.empty()) req.metric = parse_cluster_metric(a.metric);
  req.threshold = a.threshold;
  req.min_size = a.min_size;
  req.seed = a.seed;
  req.nredo = a.nredo;
  req.iterations = a.iterations;
  validate_cluster_request(req);
  const ProjectionMethod projection = parse_projection_method(a.projection);
  std::string fmt = a.output.format;
  if (a.summary && !a.summary_file.empty())
    throw Error("--summary writes the summary instead of the rows; --summary-file writes it beside them: choose one");
  if (a.summary) {
    if (fmt.empty()) fmt = "text";
    if (fmt != "text" && fmt != "json") throw Error("--summary writes --format text or json, not " + fmt);
  } else if (fmt == "text" || fmt == "json") {
    throw Error("--format " + fmt + " is for --summary; rows are written as csv, tsv or jsonl (the summary of "
                "--summary-file is json for a .json file, else text)");
  }
  // Every output is opened (checked) before the clustering, and all are put in place together.
  OutputGroup outputs;
  AtomicOutput* summary_out = nullptr;
  if (!a.summary_file.empty() && a.summary_file != "-") summary_out = &outputs.add(a.summary_file);
  AtomicOutput& out = outputs.add(a.output.path);

  Rows r = load_rows(a);
  auto t0 = std::chrono::steady_clock::now();
  Clustering clustering = cluster(r.vectors, req, r.model_similarity);
  const ClusterResult& result = clustering.result;
  const ClusterMetric metric = clustering.metric;
  const std::string& description = clustering.description;
  {
    size_t unassigned = 0;
    for (int l : result.labels) unassigned += l < 0;
    char buf[64];
    std::snprintf(buf, sizeof buf, " in %.2f s", seconds_since(t0));
    log(description + ": " + count_of(result.num_clusters, "cluster") + " over " + count_of(r.vectors.rows, "row") +
        (unassigned ? ", " + std::to_string(unassigned) + " unassigned" : "") + buf);
  }

  if (!a.plot.empty()) {
    auto tp = std::chrono::steady_clock::now();
    const Matrix xy = project(metric == ClusterMetric::Cosine ? normalized_rows(r.vectors) : r.vectors, projection,
                              static_cast<unsigned>(a.seed));
    std::vector<std::string> names(r.vectors.rows);
    for (size_t i = 0; i < names.size(); ++i) names[i] = row_name(r, i);
    PlotOptions po;
    po.title = "sbert cluster: " + description + ", " + a.projection + " projection";
    AtomicOutput plot(a.plot);
    plot.write(cluster_plot_html(xy, result.labels, names, po));
    plot.commit();
    char buf[160];
    std::snprintf(buf, sizeof buf, "wrote %s (%s projection, %.2f s)", a.plot.c_str(), a.projection.c_str(),
                  seconds_since(tp));
    log(buf);
  }

  auto summary = [&](const std::string& format) {
    return render_summary(r, result.labels, summarize_clusters(r.vectors, result.labels, metric, a.representatives),
                          format, description);
  };
  if (a.summary) {
    out.write(summary(fmt));
  } else {
    if (fmt.empty()) {
      fmt = "csv";
      if (!r.items.empty() && r.format == InputFormat::Jsonl) fmt = "jsonl";
      if (!r.items.empty() && r.format == InputFormat::Csv &&
          resolve_input_format(parse_input_format(a.input.input_format),
                               a.input.files.empty() ? std::string() : a.input.files.front()) == InputFormat::Tsv)
        fmt = "tsv";
    }
    write_rows(out, r, result.labels, parse_table_format(fmt));
    if (!a.summary_file.empty()) {
      const bool json = a.summary_file.size() >= 5 && a.summary_file.compare(a.summary_file.size() - 5, 5, ".json") == 0;
      const std::string text = summary(json ? "json" : "text");
      if (summary_out) summary_out->write(text);
      else cli::result(text);  // "-": stderr, the rows have stdout
    }
  }
  outputs.commit();
  return 0;
}

std::function<int()> setup_cluster(CLI::App& app) {
  auto a = std::make_shared<ClusterArgs>();
  CLI::App* sub = app.add_subcommand(
      "cluster", "Cluster texts or embeddings: k-means, agglomerative or community detection; "
                 "per-row cluster ids, a summary, an HTML plot");
  a->input.add_to(sub);
  a->model.add_to(sub);
  sub->add_option("-o,--output", a->output.path, "Output file (default: standard output); written atomically");
  sub->add_option("--format", a->output.format,
                  "Rows: csv, tsv or jsonl (default: like the input, csv for plain lines); "
                  "--summary: text (default) or json")
      ->check(CLI::IsMember({"csv", "tsv", "jsonl", "text", "json"}));
  sub->add_option("--method", a->method, "kmeans, agglomerative or community")
      ->check(CLI::IsMember({"kmeans", "agglomerative", "community"}))
      ->capture_default_str();
  sub->add_option("--k", a->k, "Number of clusters (kmeans; agglomerative unless --distance-threshold)");
  sub->add_option("--distance-threshold", a->distance_threshold,
                  "agglomerative: do not merge clusters at a linkage distance >= T (cosine distance = 1 - cos)");
  sub->add_option("--linkage", a->linkage, "agglomerative: average, complete, single or ward")
      ->check(CLI::IsMember({"average", "complete", "single", "ward"}))
      ->capture_default_str();
  sub->add_option("--metric", a->metric,
                  "cosine or euclidean (default: the model's similarity function; cosine for --embeddings)")
      ->check(CLI::IsMember({"cosine", "euclidean"}));
  sub->add_option("--threshold", a->threshold, "community: cosine similarity threshold")->capture_default_str();
  sub->add_option("--min-size", a->min_size, "community: smallest community kept")->capture_default_str();
  sub->add_option("--seed", a->seed, "Random seed (k-means initialisation, t-SNE)")->capture_default_str();
  sub->add_option("--nredo", a->nredo, "k-means: restarts, the best objective is kept")->capture_default_str();
  sub->add_option("--iterations", a->iterations, "k-means: Lloyd iterations")->capture_default_str();
  sub->add_option("--embeddings", a->embeddings,
                  "Precomputed embeddings (.npy, or .jsonl from sbert embed) instead of running a model; "
                  "text input, if given, must have the same rows and is used for output and summaries");
  sub->add_flag("--summary", a->summary, "Write a per-cluster summary instead of the rows");
  sub->add_option("--summary-file", a->summary_file,
                  "Write the rows and, to this file, the per-cluster summary (json for *.json, else text; "
                  "'-' for stderr)");
  sub->add_option("--representatives", a->representatives, "--summary: texts shown per cluster")
      ->capture_default_str();
  sub->add_option("--plot", a->plot, "Write a self-contained HTML scatter plot of the clusters");
  sub->add_option("--projection", a->projection, "--plot: pca or tsne")
      ->check(CLI::IsMember({"pca", "tsne"}))
      ->capture_default_str();
  return [a]() { return run_cluster(*a); };
}

SBERT_COMMAND("cluster", setup_cluster);

}  // namespace
}  // namespace sbert::cli
