// sbert rerank: sort texts by cross-encoder relevance to a query (sentence-transformers
// CrossEncoder.rank), or many (query, text) rows grouped by query.
#include "classifier_options.h"
#include "cli_common.h"
#include "command.h"
#include "sbert/classifier.h"
#include "sbert/error.h"
#include "sbert/output_file.h"
#include "sbert/shard.h"

namespace sbert::cli {
namespace {

struct RerankArgs {
  InputOptions input;
  ModelOptions model;
  OutputOptions output;
  std::string query, query_column, text_column;
  size_t top_k = 0;
};

int run_rerank(RerankArgs& a, const CLI::App* command) {
  if (!a.model.remote()) require_model(a.model, "a cross-encoder (a sequence-classification model with one output)");
  if (!a.query.empty() && !a.query_column.empty()) throw Error("--query and --query-column are exclusive");
  if (a.query.empty() && a.query_column.empty())
    throw Error("no query: give --query \"...\" or --query-column NAME (with --text-column)");
  if (!a.text_column.empty()) {
    if (!a.input.field.empty() && a.input.field != a.text_column)
      throw Error("--text-column and --column name different columns");
    a.input.field = a.text_column;
  }
  const bool sharded = a.input.shard_spec().enabled;
  if (sharded) {
    require_shard_output(a.input, a.output.path);
    if (a.input.skip_empty) throw Error("--shard with --skip-empty is not supported by rerank (indices would shift)");
  }
  RunSummary summary;
  auto ce = std::make_unique<CrossEncoder>(a.model.open_classifier("reranker"));
  summary.model_ready();
  std::vector<TextItem> items = read_texts(a.input);
  std::vector<std::string> queries, texts;
  for (const TextItem& it : items) {
    queries.push_back(a.query.empty() ? it.required(a.query_column, "query column") : a.query);
    texts.push_back(it.text);
  }
  ClassifyStats stats;
  auto groups = texts.empty() ? std::vector<CrossEncoder::Group>{} : ce->rank_grouped(queries, texts, a.top_k, &stats);
  summary.count(texts.size(), stats.tokens, stats.truncated);

  AtomicOutput out(a.output.path);
  TableWriter w(out, a.output.table_format("jsonl"));
  const bool with_id = !a.input.id_field.empty();
  const bool multi = !a.query_column.empty();
  w.header(ranked_columns(multi, with_id));
  for (const auto& g : groups) {
    for (size_t r = 0; r < g.ranked.size(); ++r) {
      const size_t row = g.ranked[r].index;
      // A shard numbers its rows as the whole input does, so that the merge can re-rank them.
      write_ranked_row(w, {g.query, r + 1, sharded ? items[row].index : row, items[row].id, g.ranked[r].score, items[row].text},
                       multi, with_id);
    }
  }
  w.flush();
  out.commit();
  // The merge re-ranks each query's rows across shards (a shard ranks only its own records).
  // (rows: the records ranked, which is what the shard-set check counts; the ranked rows are `written`)
  write_shard_manifest(a.input, a.output.path, a.output.format_or("jsonl"), texts.size(), command, a.model.label(),
                       nlohmann::json{{"kind", "ranking"}, {"top_k", a.top_k}, {"multi", multi}, {"id", with_id}});
  summary.log_done("scored " + count_of(texts.size(), "pair") + " for " + count_of(groups.size(), "query", "queries"),
                   "pair(s)");
  return 0;
}

std::function<int()> setup_rerank(CLI::App& app) {
  auto a = std::make_shared<RerankArgs>();
  CLI::App* sub = app.add_subcommand("rerank", "Sort texts by cross-encoder relevance to a query");
  a->input.add_to(sub);
  a->input.add_shard_options(sub);
  a->model.add_to(sub, "Cross-encoder folder or Hugging Face name (required; one output label)");
  a->model.add_server_to(sub);
  a->output.add_to(sub, {"jsonl", "csv", "tsv"}, "jsonl");
  sub->add_option("--query", a->query, "The query every text is scored against");
  sub->add_option("--query-column", a->query_column,
                  "Column/key holding each row's query: rows are ranked per query");
  sub->add_option("--text-column", a->text_column, "Column/key holding the text to rank (= --column)");
  sub->add_option("--top-k", a->top_k, "Keep the K best texts per query (default: all)");
  return [a, sub]() { return run_rerank(*a, sub); };
}

SBERT_COMMAND("rerank", setup_rerank);

}  // namespace
}  // namespace sbert::cli
