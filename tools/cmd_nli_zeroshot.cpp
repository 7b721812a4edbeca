// sbert nli-zeroshot: label texts with candidate labels through an NLI model (transformers
// zero-shot pipeline semantics), JSONL or CSV/TSV out.
#include "classifier_options.h"
#include "cli_common.h"
#include "command.h"
#include "sbert/classifier.h"
#include "sbert/error.h"
#include "sbert/output_file.h"
#include "sbert/zero_shot.h"

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
  bool no_text = false;
};

int run_zeroshot(ZeroShotArgs& a, const CLI::App* command) {
  if (!a.model.remote())
  if (!a.model.remote()) require_model(a.model, "an NLI model (a *ForSequenceClassification folder with an entailment label)");
  if (!a.labels.empty() && !a.labels_file.empty())
    throw Error("--labels and --labels-file are exclusive");
  if (a.labels.empty() && a.labels_file.empty())
    throw Error("no candidate labels: give --labels \"a,b,c\" or --labels-file FILE");
  std::vector<std::string> labels =
      a.labels_file.empty() ? parse_candidate_labels(a.labels) : read_candidate_labels(a.labels_file);
  validate_candidate_labels(labels);
  validate_hypothesis_template(a.zs.hypothesis_template);
  a.zs.truncation = parse_truncation(a.truncation);
  if (a.threshold > 1) throw Error("--threshold must be at most 1");

  RunSummary summary;
  require_shard_output(a.input, a.output.path);
  const std::string model_path = a.model.label();
  auto model = a.model.open_classifier("classifier");
  summary.model_ready();
  ZeroShotClassifier zs(*model, labels, a.zs);
  const auto& idx = zs.indices();
  log("entailment label '" + model->labels()[idx.entailment] + "'" +
      (idx.contradiction ? ", contradiction label '" + model->labels()[*idx.contradiction] + "'" : "") +
      "; " + count_of(labels.size(), "candidate label") + ", " +
      (a.zs.multi_label || labels.size() == 1 ? "multi-label" : "single-label") + " scores");

  AtomicOutput out(a.output.path);
  TableWriter w(out, a.output.table_format("jsonl"));
  const bool with_id = !a.input.id_field.empty();
  const bool with_text = !a.no_text;
  // JSON Lines rows read like the transformers pipeline's output: sequence, labels, scores
  // (best first); tables have the best label and one column per candidate, in the given order.
  std::vector<std::string> header = {"index"};
  if (with_id) header.push_back("id");
  if (with_text) header.push_back("sequence");
  header.push_back("label");
  header.insert(header.end(), labels.begin(), labels.end());
  w.header(header);
  size_t index = 0, pairs = 0;
  Progress progress("labeling", 0);
  // Bounded chunks: each chunk is texts x labels pairs, batched by length.
  for_each_text_chunk(a.input, 1024, [&](std::vector<TextItem>& items) {
    std::vector<std::string> texts;
    texts.reserve(items.size());
    for (auto& it : items) texts.push_back(it.text);
    ClassifyStats stats;
    Matrix s = zs.scores(texts, &stats);
    summary.count(stats.pairs, stats.tokens, stats.truncated);
    pairs += stats.pairs;
    for (size_t r = 0; r < s.rows; ++r, ++index) {
      Fields f;
      f.add("index", items[r].index);
      if (with_id) f.add("id", items[r].id);
      if (with_text) f.add("sequence", items[r].text);
      if (w.tabular()) {
        f.add("label", labels[rank_scores(s.row(r), s.cols)[0]]);
        for (size_t j = 0; j < s.cols; ++j) f.add(labels[j], s.at(r, j));
      } else {
        std::vector<std::string> names;
        std::vector<float> scores;
        for (size_t j : kept_labels(s.row(r), s.cols, a.top, a.threshold)) {
          names.push_back(labels[j]);
          scores.push_back(s.at(r, j));
        }
        f.add_strings("labels", names).add_floats("scores", scores);
      }
      w.write(f);
    }
    w.flush();
    progress.advance(items.size());
  });
  w.flush();
  out.commit();
  write_shard_manifest(a.input, a.output.path, a.output.format_or("jsonl"), index, command, model_path);
  progress.finish();
  summary.log_done("labeled " + count_of(index, "text") + ", " + count_of(pairs, "pair"), "pair(s)");
  return 0;
}

std::function<int()> setup_zeroshot(CLI::App& app) {
  auto a = std::make_shared<ZeroShotArgs>();
  CLI::App* sub = app.add_subcommand(
      "nli-zeroshot", "Zero-shot labels: score each text against candidate labels with an NLI model");
  a->input.add_to(sub);
  a->input.add_shard_options(sub);
  a->model.add_to(sub, "NLI model folder or Hugging Face name (required; e.g. a *ForSequenceClassification "
                       "model with an entailment label)");
  a->model.add_server_to(sub);
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
  sub->add_flag("--no-text", a->no_text, "Leave the input text (\"sequence\") out of the output");
  return [a, sub]() { return run_zeroshot(*a, sub); };
}

SBERT_COMMAND("nli-zeroshot", setup_zeroshot);

}  // namespace
}  // namespace sbert::cli
