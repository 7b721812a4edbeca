// sbert nli: premise/hypothesis pairs from a csv/tsv/jsonl file through an NLI (or any
// sequence-pair classification) model: probabilities per label, the argmax label, and with
// --gold-column the accuracy and a confusion matrix on stderr.
#include "classifier_options.h"
#include "cli_common.h"
#include "command.h"
#include "sbert/classifier.h"
#include "sbert/error.h"
#include "sbert/output_file.h"
#include "sbert/zero_shot.h"

namespace sbert::cli {
namespace {

struct NliArgs {
  InputOptions input;
  ModelOptions model;
  OutputOptions output;
  std::string premise, hypothesis, gold;
  std::string truncation = "longest_first";
  bool no_logits = false;
  bool include_text = false;
};

int run_nli(NliArgs& a, const CLI::App* command) {
  if (!a.model.remote())
  if (!a.model.remote()) require_model(a.model, "an NLI / sequence-pair classification model");
  const Truncation truncation = parse_truncation(a.truncation);
  // The premise is read as "the text" so that input handling (ids, empty rows) is shared.
  a.input.field = a.premise;
  require_shard_output(a.input, a.output.path);
  RunSummary summary;
  const std::string model_path = a.model.label();
  auto model = a.model.open_classifier("classifier");
  summary.model_ready();
  const auto& labels = model->labels();
  const size_t C = labels.size();

  AtomicOutput out(a.output.path);
  TableWriter w(out, a.output.table_format("jsonl"));
  const bool with_id = !a.input.id_field.empty();
  std::vector<std::string> header = {"index"};
  if (with_id) header.push_back("id");
  if (a.include_text) header.insert(header.end(), {"premise", "hypothesis"});
  header.push_back("label");
  for (auto& l : labels) header.push_back(l);
  if (!a.no_logits)
    for (auto& l : labels) header.push_back("logit_" + l);
  w.header(header);

  LabelConfusion confusion(labels);
  size_t index = 0;
  Progress progress("classifying", 0);
  for_each_text_chunk(a.input, 4096, [&](std::vector<TextItem>& items) {
    std::vector<std::pair<std::string, std::string>> pairs;
    pairs.reserve(items.size());
    for (auto& it : items) pairs.emplace_back(it.text, it.required(a.hypothesis, "hypothesis column"));
    ClassifyStats stats;
    Matrix logits = model->logits(pairs, truncation, &stats);
    summary.count(pairs.size(), stats.tokens, stats.truncated);
    for (size_t r = 0; r < logits.rows; ++r, ++index) {
      const std::vector<float> p = softmax(logits.row(r), C);
      const size_t best = rank_scores(logits.row(r), C)[0];
      if (!a.gold.empty()) confusion.add(items[r].required(a.gold, "gold column"), best);
      Fields f;
      f.add("index", items[r].index);
      if (with_id) f.add("id", items[r].id);
      if (a.include_text) f.add("premise", pairs[r].first).add("hypothesis", pairs[r].second);
      f.add("label", labels[best]);
      if (w.tabular()) {
        for (size_t j = 0; j < C; ++j) f.add(labels[j], p[j]);
        if (!a.no_logits)
          for (size_t j = 0; j < C; ++j) f.add("logit_" + labels[j], logits.at(r, j));
      } else {
        Fields probs;
        for (size_t j = 0; j < C; ++j) probs.add(labels[j], p[j]);
        f.add_object("probabilities", probs);
        if (!a.no_logits) f.add_floats("logits", logits.row(r), C);
      }
      w.write(f);
    }
    w.flush();
    progress.advance(items.size());
  });
  w.flush();
  out.commit();
  const bool sharded = a.input.shard_spec().enabled;
  // A shard records its confusion counts; `sbert merge` sums them into the whole input's report.
  write_shard_manifest(a.input, a.output.path, a.output.format_or("jsonl"), index, command, model_path,
                       a.gold.empty() ? nlohmann::json() : nlohmann::json{{"kind", "confusion"}},
                       a.gold.empty() ? nlohmann::json() : confusion.to_json());
  progress.finish();
  summary.log_done("classified " + count_of(index, "pair"), "pair(s)");
  if (!a.gold.empty() && !sharded) result(confusion.report());
  return 0;
}

std::function<int()> setup_nli(CLI::App& app) {
  auto a = std::make_shared<NliArgs>();
  CLI::App* sub = app.add_subcommand(
      "nli", "Classify premise/hypothesis pairs with an NLI model: label probabilities and the argmax");
  a->input.add_to(sub, true, false);
  a->input.add_shard_options(sub);
  a->model.add_to(sub, "NLI model folder or Hugging Face name (required)");
  a->model.add_server_to(sub);
  a->output.add_to(sub, {"jsonl", "csv", "tsv"}, "jsonl");
  sub->add_option("--premise-column", a->premise, "Premise column (csv/tsv name or index) or key (jsonl)")
      ->required();
  sub->add_option("--hypothesis-column", a->hypothesis, "Hypothesis column or key")->required();
  sub->add_option("--gold-column", a->gold,
                  "Gold label column: accuracy and a confusion matrix on stderr (printed even with -q)");
  sub->add_option("--truncation", a->truncation,
                  "Pairs over the maximum length: longest_first (as sentence-transformers' CrossEncoder and "
                  "sbert train cross), only_first or only_second")
      ->capture_default_str();
  sub->add_flag("--no-logits", a->no_logits, "Leave the raw logits out of the output");
  sub->add_flag("--include-text", a->include_text, "Write the premise and hypothesis beside the scores");
  return [a, sub]() { return run_nli(*a, sub); };
}

SBERT_COMMAND("nli", setup_nli);

}  // namespace
}  // namespace sbert::cli
