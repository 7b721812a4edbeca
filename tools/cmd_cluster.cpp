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
  size_t representatives = 5;
  std::string plot;
  std::string projection = "pca";
  bool quiet = false;
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
  auto t0 = std::chrono::steady_clock::now();
  auto encoder = SentenceEncoder::load(a.model.resolve(), a.model.encoder_options());
  EncodeStats stats;
  r.vectors = encoder->encode(r.texts, &stats);
  r.model_similarity = encoder->similarity_function();
  char buf[160];
  std::snprintf(buf, sizeof buf, "embedded %zu texts (%zu tokens) in %.2f s", stats.texts, stats.tokens,
                seconds_since(t0));
  log(buf);
  return r;
}

std::string row_name(const Rows& r, size_t i) {
  if (i < r.texts.size() && !r.texts[i].empty()) return r.texts[i];
  if (i < r.ids.size() && !r.ids[i].empty()) return r.ids[i];
  return "row " + std::to_string(i);
}

// At most `max_chars` bytes, cut on a UTF-8 boundary, with an ellipsis; newlines flattened.
std::string short_text(std::string s, size_t max_chars) {
  for (char& c : s)
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  if (s.size() <= max_chars) return s;
  size_t cut = max_chars;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return s.substr(0, cut) + "\xE2\x80\xA6";
}

std::string tsv_clean(std::string s) {
  for (char& c : s)
    if (c == '\t' || c == '\n' || c == '\r') c = ' ';
  return s;
}

void write_rows(const ClusterArgs& a, const Rows& r, const std::vector<int>& labels, const std::string& fmt) {
  AtomicOutput out(a.output.path);
  std::string buf;
  const bool jsonl = fmt == "jsonl";
  const char delim = fmt == "tsv" ? '\t' : ',';
  auto field = [&](const std::string& s) { return delim == '\t' ? tsv_clean(s) : csv_field(s, ','); };
  const bool has_ids = !r.ids.empty() && std::any_of(r.ids.begin(), r.ids.end(), [](auto& s) { return !s.empty(); });

  if (!jsonl) {
    std::vector<std::string> header;
    if (!r.items.empty() && r.format == InputFormat::Csv) {
      header = r.columns;
    } else if (!r.items.empty() && r.format == InputFormat::Jsonl) {
      if (has_ids) header.push_back("id");
      header.push_back("text");
    } else {
      if (r.items.empty()) header.push_back("row");
      if (has_ids) header.push_back("id");
      if (!r.items.empty() || std::any_of(r.texts.begin(), r.texts.end(), [](auto& s) { return !s.empty(); }))
        header.push_back("text");
    }
    header.push_back("cluster");
    for (size_t i = 0; i < header.size(); ++i) buf += (i ? std::string(1, delim) : "") + field(header[i]);
    buf += '\n';
    const bool with_text = header.size() >= 2 && header[header.size() - 2] == "text";
    for (size_t i = 0; i < labels.size(); ++i) {
      std::string line;
      if (!r.items.empty() && r.format == InputFormat::Csv) {
        const auto& f = r.items[i].record.fields;
        for (size_t c = 0; c < r.columns.size(); ++c)
          line += (c ? std::string(1, delim) : "") + field(c < f.size() ? f[c] : "");
        line += delim;
      } else {
        if (r.items.empty()) line += std::to_string(i) + delim;
        if (has_ids) line += field(r.ids[i]) + delim;
        if (with_text) line += field(r.texts[i]) + delim;
      }
      line += std::to_string(labels[i]) + '\n';
      buf += line;
      if (buf.size() > (1 << 16)) {
        out.write(buf);
        buf.clear();
      }
    }
  } else {
    for (size_t i = 0; i < labels.size(); ++i) {
      nlohmann::ordered_json o;
      if (!r.items.empty() && r.format == InputFormat::Jsonl && r.items[i].record.object.is_object()) {
        for (auto& [key, value] : r.items[i].record.object.items()) o[key] = value;
      } else if (!r.items.empty() && r.format == InputFormat::Csv) {
        const auto& f = r.items[i].record.fields;
        for (size_t c = 0; c < r.columns.size(); ++c) o[r.columns[c]] = c < f.size() ? f[c] : "";
      } else {
        if (r.items.empty()) o["row"] = i;
        if (has_ids) o["id"] = r.ids[i];
        if (!r.texts[i].empty() || !r.items.empty()) o["text"] = r.texts[i];
      }
      o["cluster"] = labels[i];
      buf += o.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + '\n';
      if (buf.size() > (1 << 16)) {
        out.write(buf);
        buf.clear();
      }
    }
  }
  out.write(buf);
  out.commit();
}

void write_summary(const ClusterArgs& a, const Rows& r, const std::vector<int>& labels,
                   const std::vector<ClusterSummary>& summaries, const std::string& fmt,
                   const std::string& description) {
  size_t unassigned = 0;
  for (int l : labels) unassigned += l < 0;
  AtomicOutput out(a.output.path);
  if (fmt == "json") {
    nlohmann::ordered_json j;
    j["method"] = description;
    j["rows"] = labels.size();
    j["clusters"] = summaries.size();
    j["unassigned"] = unassigned;
    auto row = [&](size_t i) {
      nlohmann::ordered_json o;
      o["row"] = i;
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
    out.write(j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  } else {
    std::string text = description + ": " + std::to_string(summaries.size()) + " clusters over " +
                       std::to_string(labels.size()) + " rows";
    if (unassigned) text += " (" + std::to_string(unassigned) + " unassigned)";
    text += "\n";
    for (const auto& s : summaries) {
      char head[96];
      std::snprintf(head, sizeof head, "\ncluster %d: %zu rows (%.1f%%)\n", s.label, s.size,
                    100.0 * double(s.size) / double(labels.size()));
      text += head;
      text += "  medoid: " + short_text(row_name(r, s.medoid), 100) + "\n";
      for (size_t i = 1; i < s.representatives.size(); ++i)
        text += "    - " + short_text(row_name(r, s.representatives[i]), 100) + "\n";
    }
    out.write(text);
  }
  out.commit();
}

int run_cluster(ClusterArgs& a) {
  set_quiet(a.quiet);
  // Validate the options before any (possibly slow) embedding.
  const std::string method = a.method;
  if (method != "kmeans" && method != "agglomerative" && method != "community")
    throw Error("--method must be kmeans, agglomerative or community, got '" + method + "'");
  if (method == "kmeans" && a.k == 0) throw Error("k-means needs --k N (N >= 1)");
  if (method == "kmeans" && a.distance_threshold) throw Error("--distance-threshold is for --method agglomerative");
  if (method == "agglomerative" && (a.k > 0) == a.distance_threshold.has_value())
    throw Error("agglomerative clustering needs exactly one of --k N or --distance-threshold T");
  if (a.distance_threshold && !(*a.distance_threshold >= 0))
    throw Error("--distance-threshold must be >= 0, got " + std::to_string(*a.distance_threshold));
  if (method == "community") {
    if (a.k > 0 || a.distance_threshold) throw Error("community detection takes --threshold and --min-size, not --k");
    if (!(a.threshold >= -1.0f && a.threshold <= 1.0f))
      throw Error("--threshold " + format_float(a.threshold) + " is outside [-1, 1] (a cosine similarity)");
    if (a.min_size < 1) throw Error("--min-size must be at least 1");
    if (!a.metric.empty() && a.metric != "cosine") throw Error("community detection is defined on cosine similarity");
  }
  const Linkage linkage = parse_linkage(a.linkage);
  if (!a.metric.empty()) parse_cluster_metric(a.metric);
  const ProjectionMethod projection = parse_projection_method(a.projection);
  std::string fmt = a.output.format;
  if (a.summary) {
    if (fmt.empty()) fmt = "text";
    if (fmt != "text" && fmt != "json") throw Error("--summary writes --format text or json, not " + fmt);
  } else if (fmt == "text" || fmt == "json") {
    throw Error("--format " + fmt + " is for --summary; rows are written as csv, tsv or jsonl");
  }

  Rows r = load_rows(a);
  const ClusterMetric metric =
      !a.metric.empty() ? parse_cluster_metric(a.metric)
      : (r.model_similarity == "euclidean" || r.model_similarity == "manhattan") ? ClusterMetric::Euclidean
                                                                                 : ClusterMetric::Cosine;
  const std::string metric_name = metric == ClusterMetric::Cosine ? "cosine" : "euclidean";

  auto t0 = std::chrono::steady_clock::now();
  ClusterResult result;
  std::string description;
  if (method == "kmeans") {
    KMeansOptions o;
    o.k = a.k;
    o.seed = a.seed;
    o.nredo = a.nredo;
    o.iterations = a.iterations;
    o.metric = metric;
    result = kmeans(r.vectors, o);
    description = "k-means (k=" + std::to_string(a.k) + ", " + metric_name + ", seed " + std::to_string(a.seed) + ")";
  } else if (method == "agglomerative") {
    AgglomerativeOptions o;
    o.k = a.k;
    o.distance_threshold = a.distance_threshold.value_or(-1.0);
    o.linkage = linkage;
    o.metric = metric;
    result = agglomerative(r.vectors, o);
    description = "agglomerative (" + a.linkage + " linkage, " + metric_name + ", " +
                  (a.k ? "k=" + std::to_string(a.k) : "distance threshold " + format_float(static_cast<float>(*a.distance_threshold))) + ")";
  } else {
    validate_embeddings(r.vectors, 2);
    CommunityOptions o;
    o.threshold = a.threshold;
    o.min_community_size = a.min_size;
    result = community_labels(community_detection(r.vectors, o), r.vectors.rows);
    description = "community detection (threshold " + format_float(a.threshold) + ", min size " +
                  std::to_string(a.min_size) + ")";
  }
  {
    size_t unassigned = 0;
    for (int l : result.labels) unassigned += l < 0;
    char buf[256];
    std::snprintf(buf, sizeof buf, "%s: %zu clusters over %zu rows%s in %.2f s", description.c_str(),
                  result.num_clusters, r.vectors.rows,
                  unassigned ? (", " + std::to_string(unassigned) + " unassigned").c_str() : "", seconds_since(t0));
    log(buf);
  }

  if (!a.plot.empty()) {
    auto tp = std::chrono::steady_clock::now();
    const Matrix& base = r.vectors;
    Matrix xy;
    if (metric == ClusterMetric::Cosine) {
      Matrix normalised = base;
      for (size_t i = 0; i < normalised.rows; ++i) {
        double s = 0;
        for (size_t j = 0; j < normalised.cols; ++j) s += double(normalised.at(i, j)) * normalised.at(i, j);
        const float n = std::max(static_cast<float>(std::sqrt(s)), 1e-12f);
        for (size_t j = 0; j < normalised.cols; ++j) normalised.at(i, j) /= n;
      }
      xy = project(normalised, projection, static_cast<unsigned>(a.seed));
    } else {
      xy = project(base, projection, static_cast<unsigned>(a.seed));
    }
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

  if (a.summary) {
    write_summary(a, r, result.labels, summarize_clusters(r.vectors, result.labels, metric, a.representatives), fmt,
                  description);
  } else {
    if (fmt.empty()) {
      fmt = "csv";
      if (!r.items.empty() && r.format == InputFormat::Jsonl) fmt = "jsonl";
      if (!r.items.empty() && r.format == InputFormat::Csv &&
          resolve_input_format(parse_input_format(a.input.input_format),
                               a.input.files.empty() ? std::string() : a.input.files.front()) == InputFormat::Tsv)
        fmt = "tsv";
    }
    write_rows(a, r, result.labels, fmt);
  }
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
  sub->add_option("--representatives", a->representatives, "--summary: texts shown per cluster")
      ->capture_default_str();
  sub->add_option("--plot", a->plot, "Write a self-contained HTML scatter plot of the clusters");
  sub->add_option("--projection", a->projection, "--plot: pca or tsne")
      ->check(CLI::IsMember({"pca", "tsne"}))
      ->capture_default_str();
  sub->add_flag("-q,--quiet", a->quiet, "No log lines on stderr");
  return [a]() { return run_cluster(*a); };
}

SBERT_COMMAND("cluster", setup_cluster);

}  // namespace
}  // namespace sbert::cli
