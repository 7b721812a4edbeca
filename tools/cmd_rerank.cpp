// sbert rerank: sort texts by cross-encoder relevance to a query (sentence-transformers
// CrossEncoder.rank), or many (query, text) rows grouped by query.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>

#include "classifier_options.h"
#include "cli_common.h"
#include "command.h"
#include "sbert/classifier.h"
#include "sbert/error.h"
#include "sbert/output_file.h"

namespace sbert::cli {
namespace {

struct RerankArgs {
  InputOptions input;
  ModelOptions model;
  OutputOptions output;
  std::string query, query_column, text_column;
  size_t top_k = 0;
  bool quiet = false;
};

int run_rerank(RerankArgs& a) {
  set_quiet(a.quiet);
  require_model(a.model, "a cross-encoder (a sequence-classification model with one output)");
  if (!a.query.empty() && !a.query_column.empty()) throw Error("--query and --query-column are exclusive");
  if (a.query.empty() && a.query_column.empty())
    throw Error("no query: give --query \"...\" or --query-column NAME (with --text-column)");
  if (!a.text_column.empty()) {
    if (!a.input.field.empty() && a.input.field != a.text_column)
      throw Error("--text-column and --column name different columns");
    a.input.field = a.text_column;
  }
  auto t0 = std::chrono::steady_clock::now();
  auto ce = CrossEncoder::load(a.model.resolve(), classifier_options(a.model));
  std::vector<TextItem> items = read_texts(a.input);

  // Groups of (query, row indices), queries in order of first appearance.
  std::vector<std::pair<std::string, std::vector<size_t>>> groups;
  if (!a.query.empty()) {
    groups.push_back({a.query, {}});
    for (size_t i = 0; i < items.size(); ++i) groups[0].second.push_back(i);
  } else {
    std::map<std::string, size_t> where;
    for (size_t i = 0; i < items.size(); ++i) {
      const TextItem& it = items[i];
      bool present = !it.record.object.is_null()
                         ? it.record.object.contains(a.query_column)
                         : (it.columns && std::find(it.columns->begin(), it.columns->end(),
                                                    a.query_column) != it.columns->end());
      if (!present)
        throw Error(it.record.source + ":" + std::to_string(it.record.line) + ": no query column '" +
                    a.query_column + "'");
      std::string q = it.value(a.query_column);
      auto [pos, fresh] = where.emplace(q, groups.size());
      if (fresh) groups.push_back({q, {}});
      groups[pos->second].second.push_back(i);
    }
  }
  // All pairs in one call so that batches are length-sorted across queries.
  std::vector<std::pair<std::string, std::string>> pairs;
  pairs.reserve(items.size());
  for (size_t g = 0; g < groups.size(); ++g)
    for (size_t i : groups[g].second) pairs.emplace_back(groups[g].first, items[i].text);
  ClassifyStats stats;
  std::vector<float> scores = ce->score(pairs, &stats);

  const std::string& f = a.output.format;
  const char d = f == "tsv" ? '\t' : ',';
  const bool with_id = !a.input.id_field.empty();
  const bool multi = !a.query_column.empty();
  AtomicOutput out(a.output.path);
  std::string buf;
  if (f != "jsonl") {
    buf += std::string(multi ? "query" + std::string(1, d) : "") + "rank" + d + "index";
    if (with_id) buf += d + std::string("id");
    buf += d + std::string("score") + d + "text\n";
  }
  size_t offset = 0;
  for (const auto& [query, rows] : groups) {
    std::vector<size_t> order = rank_scores(scores.data() + offset, rows.size());
    if (a.top_k > 0 && order.size() > a.top_k) order.resize(a.top_k);
    for (size_t r = 0; r < order.size(); ++r) {
      const size_t row = rows[order[r]];
      const float s = scores[offset + order[r]];
      if (f == "jsonl") {
        buf += "{";
        if (multi) buf += "\"query\": " + json_quote(query) + ", ";
        buf += "\"rank\": " + std::to_string(r + 1) + ", \"index\": " + std::to_string(row);
        if (with_id) buf += ", \"id\": " + json_quote(items[row].id);
        buf += ", \"score\": ";
        append_float(buf, s);
        buf += ", \"text\": " + json_quote(items[row].text) + "}\n";
      } else {
        if (multi) buf += csv_field(query, d) + d;
        buf += std::to_string(r + 1) + d + std::to_string(row);
        if (with_id) buf += d + csv_field(items[row].id, d);
        buf += d;
        append_float(buf, s);
        buf += d + csv_field(items[row].text, d) + "\n";
      }
    }
    offset += rows.size();
  }
  out.write(buf);
  out.commit();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  char msg[160];
  std::snprintf(msg, sizeof msg, "scored %zu pairs for %zu quer%s (%zu tokens) in %.2f s", pairs.size(),
                groups.size(), groups.size() == 1 ? "y" : "ies", stats.tokens, secs);
  log(msg);
  if (stats.truncated) log(std::to_string(stats.truncated) + " pair(s) were truncated to the maximum length");
  return 0;
}

std::function<int()> setup_rerank(CLI::App& app) {
  auto a = std::make_shared<RerankArgs>();
  CLI::App* sub = app.add_subcommand("rerank", "Sort texts by cross-encoder relevance to a query");
  a->input.add_to(sub);
  a->model.add_to(sub, "Cross-encoder folder or Hugging Face name (required; one output label)");
  a->output.add_to(sub, {"jsonl", "csv", "tsv"}, "jsonl");
  sub->add_option("--query", a->query, "The query every text is scored against");
  sub->add_option("--query-column", a->query_column,
                  "Column/key holding each row's query: rows are ranked per query");
  sub->add_option("--text-column", a->text_column, "Column/key holding the text to rank (= --column)");
  sub->add_option("--top-k", a->top_k, "Keep the K best texts per query (default: all)");
  sub->add_flag("-q,--quiet", a->quiet, "No log lines on stderr");
  return [a]() { return run_rerank(*a); };
}

SBERT_COMMAND("rerank", setup_rerank);

}  // namespace
}  // namespace sbert::cli
