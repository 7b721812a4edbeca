// Evaluation reports for similarity scores against gold ratings: JSON (machine-readable),
// Markdown, and a self-contained HTML page (inline SVG, no network) with a histogram of the
// scores and a scatter plot of score vs gold.
#pragma once
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "sbert/stats.h"

namespace sbert {

struct EvaluationInput {
  std::string title = "sbert similarity evaluation";
  std::string function;  // "cosine", ...
  std::string model;     // model folder or embeddings file
  std::string input;     // the pairs file
  std::vector<std::pair<std::string, std::string>> details;  // extra key/value lines
  std::vector<double> scores;
  std::vector<double> gold;           // same length as scores
  std::vector<std::string> texts_a;   // optional (same length), for the disagreement table
  std::vector<std::string> texts_b;
  std::vector<size_t> lines;          // optional input line of each pair
};

struct EvaluationSummary {
  size_t pairs = 0;
  double pearson = 0;
  double spearman = 0;
  Summary scores, gold;
  Histogram score_histogram, gold_histogram;
  // Pairs whose score rank and gold rank differ most (indexes into the input), worst first.
  std::vector<size_t> disagreements;
};

// Throws sbert::Error when scores and gold differ in length or hold fewer than 2 pairs.
EvaluationSummary evaluate(const EvaluationInput& input, size_t bins = 20,
                           size_t max_disagreements = 10);

std::string render_report_json(const EvaluationInput& input, const EvaluationSummary& summary);
std::string render_report_markdown(const EvaluationInput& input, const EvaluationSummary& summary);
std::string render_report_html(const EvaluationInput& input, const EvaluationSummary& summary);

enum class ReportFormat { Json, Markdown, Html };
// From the file extension: .json, .md/.markdown, .html/.htm; throws sbert::Error otherwise.
ReportFormat report_format_for_path(const std::string& path);
// Renders and writes atomically ("-" = stdout).
void write_report(const std::string& path, const EvaluationInput& input,
                  const EvaluationSummary& summary);
// Renders into an open output (format from out.path()); the caller commits it.
class AtomicOutput;
void write_report(AtomicOutput& out, const EvaluationInput& input, const EvaluationSummary& summary);

// The figures of a merged shard output (`sbert merge`), recomputed from its rows: `evaluation`
// is what the shards recorded ({"kind": "correlation", "gold": COLUMN, "score": COLUMN,
// "function": NAME, "header": true|false}). Returns the line a whole run prints ("N pairs, cosine:
// Pearson 0.1234, Spearman 0.5678"), "" when there is nothing to compute. Throws sbert::Error
// naming the file and line of a bad value.
std::string evaluate_merged(const std::string& path, const std::string& format, const nlohmann::json& evaluation);

}  // namespace sbert
