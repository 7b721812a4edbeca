// sbert nli-zeroshot: label texts with candidate labels through an NLI model (transformers
// zero-shot pipeline semantics), JSONL or CSV/TSV out.
#include <chrono>
#include <cstdio>
#include <fstream>

#include "classifier_options.h"
#include "cli_common.h"
#include "command.h"
#include "sbert/classifier.h"
#include "sbert/error.h"
#include "sbert/output_file.h"

namespace sbert::cli {
namespace {

struct ZeroShotArgs {
  InputOptions input;
  ModelOptions model;
  OutputOptions output;
  std::string labels, labels_file;
  ZeroShotOptions zs;
  std::string truncation = "only_first";
  size_t top = 0;
  double threshold = -1;
  bool quiet = false;
};

std::vector<std::string> read_labels_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(path + ": cannot open the labels file");
  std::vector<std::string> labels;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    size_t b = line.find_first_not_of(" \t"), e = line.find_last_not_of(" \t");
    labels.push_back(line.substr(b, e - b + 1));
  }
  if (labels.empty()) throw Error(path + ": the labels file has no labels");
  return labels;
}

int run_zeroshot(ZeroShotArgs& a) {
  set_quiet(a.quiet);
  require_model(a.model, "an NLI model (a *ForSequenceClassification folder with an entailment label)");
  if (!a.labels.empty() && !a.labels_file.empty())
    throw Error("--labels and --labels-file are exclusive");
  if (a.labels.empty() && a.labels_file.empty())
    throw Error("no candidate labels: give --labels \"a,b,c\" or --labels-file FILE");
  std::vector<std::string> labels =
      a.labels_file.empty() ? parse_candidate_labels(a.labels) : read_labels_file(a.labels_file);
  validate_candidate_labels(labels);
  validate_hypothesis_template(a.zs.hypothesis_template);
  a.zs.truncation = parse_truncation(a.truncation);
  if (a.threshold > 1) throw Error("--threshold must be at most 1");

  auto t0 = std::chrono::steady_clock::now();
  auto model = SequenceClassifier::load(a.model.resolve(), classifier_options(a.model));
  ZeroShotClassifier zs(*model, labels, a.zs);
  const auto& idx = zs.indices();
  log("entailment label '" + model->labels()[idx.entailment] + "'" +
      (idx.contradiction ? ", contradiction label '" + model->labels()[*idx.contradiction] + "'" : "") +
      "; " + std::to_string(labels.size()) + " candidate labels, " +
      (a.zs.multi_label || labels.size() == 1 ? "multi-label" : "single-label") + " scores");

  const std::string& f = a.output.format;
  const char d = f == "tsv" ? '\t' : ',';
  const bool with_id = !a.input.id_field.empty();
  AtomicOutput out(a.output.path);
  size_t index = 0;
  ClassifyStats stats;
  Progress progress("labeling", 0);
  if (f != "jsonl") {
    std::string head = "index";
    if (with_id) head += d + std::string("id");
    head += d + std::string("label");
    for (const auto& l : labels) head += d + csv_field(l, d);
    out.write(head + "\n");
  }
  // Bounded chunks: each chunk is texts x labels pairs, batched by length.
  for_each_text_chunk(a.input, 1024, [&](std::vector<TextItem>& items) {
    std::vector<std::string> texts;
    texts.reserve(items.size());
    for (auto& it : items) texts.push_back(it.text);
    Matrix s = zs.scores(texts, &stats);
    std::string buf;
    for (size_t r = 0; r < s.rows; ++r, ++index) {
      std::vector<size_t> order = rank_scores(s.row(r), s.cols);
      if (f == "jsonl") {
        std::vector<size_t> kept;
        for (size_t j : order) {
          if (a.top > 0 && kept.size() >= a.top) break;
          if (a.threshold >= 0 && s.at(r, j) < a.threshold) break;
          kept.push_back(j);
        }
        buf += "{\"index\": " + std::to_string(index);
        if (with_id) buf += ", \"id\": " + json_quote(items[r].id);
        buf += ", \"labels\": [";
        for (size_t k = 0; k < kept.size(); ++k) buf += (k ? ", " : "") + json_quote(labels[kept[k]]);
        buf += "], \"scores\": [";
        for (size_t k = 0; k < kept.size(); ++k) {
          if (k) buf += ", ";
          append_float(buf, s.at(r, kept[k]));
        }
        buf += "]}\n";
      } else {
        buf += std::to_string(index);
        if (with_id) buf += d + csv_field(items[r].id, d);
        buf += d + csv_field(labels[order[0]], d);
        for (size_t j = 0; j < s.cols; ++j) {
          buf += d;
          append_float(buf, s.at(r, j));
        }
        buf += '\n';
      }
    }
    out.write(buf);
    out.flush();
    progress.advance(items.size());
  });
  out.commit();
  progress.finish();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  char msg[200];
  std::snprintf(msg, sizeof msg, "labeled %zu texts (%zu pairs, %zu tokens) in %.2f s", index,
                stats.pairs, stats.tokens, secs);
  log(msg);
  if (stats.truncated) log(std::to_string(stats.truncated) + " pair(s) were truncated to the maximum length");
  return 0;
}

std::function<int()> setup_zeroshot(CLI::App& app) {
  auto a = std::make_shared<ZeroShotArgs>();
  CLI::App* sub = app.add_subcommand(
      "nli-zeroshot", "Zero-shot labels: score each text against candidate labels with an NLI model");
  a->input.add_to(sub);
  a->model.add_to(sub, "NLI model folder or Hugging Face name (required; e.g. a *ForSequenceClassification "
                       "model with an entailment label)");
  a->output.add_to(sub, {"jsonl", "csv", "tsv"}, "jsonl");
  sub->add_option("--labels", a->labels, "Candidate labels, comma-separated (\"sports,politics,weather\")");
  sub->add_option("--labels-file", a->labels_file, "Candidate labels, one per line");
  sub->add_option("--template", a->zs.hypothesis_template,
                  "Hypothesis template; {} is replaced by the label")->capture_default_str();
  sub->add_flag("--multi-label", a->zs.multi_label,
                "Score each label independently (softmax over contradiction/entailment)");
  sub->add_option("--entailment-label", a->zs.entailment_label,
                  "The model's entailment label name (default: the label starting with 'entail')");
  sub->add_option("--contradiction-label", a->zs.contradiction_label,
                  "The model's contradiction label name (default: the label starting with 'contradict')");
  sub->add_option("--truncation", a->truncation, "only_first (the text), longest_first, only_second")
      ->capture_default_str();
  sub->add_option("--top", a->top, "jsonl: keep the K best labels per text");
  sub->add_option("--threshold", a->threshold, "jsonl: keep labels scoring at least T (with --multi-label)");
  sub->add_flag("-q,--quiet", a->quiet, "No log lines on stderr");
  return [a]() { return run_zeroshot(*a); };
}

SBERT_COMMAND("nli-zeroshot", setup_zeroshot);

}  // namespace
}  // namespace sbert::cli
