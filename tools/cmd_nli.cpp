// sbert nli: premise/hypothesis pairs from a csv/tsv/jsonl file through an NLI (or any
// sequence-pair classification) model: probabilities per label, the argmax label, and with
// --gold-column the accuracy and a confusion matrix on stderr.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>

#include "classifier_options.h"
#include "cli_common.h"
#include "command.h"
#include "sbert/classifier.h"
#include "sbert/error.h"
#include "sbert/output_file.h"

namespace sbert::cli {
namespace {

struct NliArgs {
  InputOptions input;
  ModelOptions model;
  OutputOptions output;
  std::string premise, hypothesis, gold;
  std::string truncation = "only_first";
  bool no_logits = false;
  bool quiet = false;
};

std::string lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

// A column (csv/tsv) or key (jsonl) that must exist in the record.
std::string required_value(const TextItem& item, const std::string& name, const char* what) {
  bool present = false;
  if (!item.record.object.is_null()) {
    present = item.record.object.contains(name);
  } else if (item.columns) {
    auto& cols = *item.columns;
    auto it = std::find(cols.begin(), cols.end(), name);
    present = it != cols.end() && static_cast<size_t>(it - cols.begin()) < item.record.fields.size();
  }
  if (!present) {
    std::string msg = item.record.source + ":" + std::to_string(item.record.line) + ": no " + what +
                      " '" + name + "'";
    if (item.columns && item.record.object.is_null()) {
      std::string cols;
      for (auto& c : *item.columns) cols += (cols.empty() ? "" : ", ") + c;
      msg += " (columns: " + cols + ")";
    }
    throw Error(msg);
  }
  return item.value(name);
}

void print_gold_report(const std::vector<std::string>& labels,
                       const std::vector<std::vector<size_t>>& confusion, size_t unknown,
                       const std::map<std::string, size_t>& unknown_names) {
  size_t total = 0, correct = 0;
  for (size_t g = 0; g < labels.size(); ++g)
    for (size_t p = 0; p < labels.size(); ++p) {
      total += confusion[g][p];
      if (g == p) correct += confusion[g][p];
    }
  char buf[160];
  std::snprintf(buf, sizeof buf, "accuracy %.4f (%zu/%zu)\n", total ? double(correct) / total : 0.0,
                correct, total);
  std::string out = buf;
  size_t w = 10;
  for (auto& l : labels) w = std::max(w, l.size() + 2);
  auto pad = [&](const std::string& s) { return s + std::string(w > s.size() ? w - s.size() : 1, ' '); };
  out += "confusion matrix (rows: gold, columns: predicted)\n" + pad("");
  for (auto& l : labels) out += pad(l);
  out += "\n";
  for (size_t g = 0; g < labels.size(); ++g) {
    out += pad(labels[g]);
    for (size_t p = 0; p < labels.size(); ++p) out += pad(std::to_string(confusion[g][p]));
    out += "\n";
  }
  if (unknown) {
    out += std::to_string(unknown) + " row(s) skipped: gold label not one of the model's labels (";
    size_t k = 0;
    for (auto& [name, n] : unknown_names) {
      if (k++ == 5) {
        out += ", ...";
        break;
      }
      out += (k > 1 ? ", " : "") + ("'" + name + "' x" + std::to_string(n));
    }
    out += ")\n";
  }
  std::cerr << out;
}

int run_nli(NliArgs& a) {
  set_quiet(a.quiet);
  require_model(a.model, "an NLI / sequence-pair classification model");
  const Truncation truncation = parse_truncation(a.truncation);
  // The premise is read as "the text" so that input handling (ids, empty rows) is shared.
  a.input.field = a.premise;
  auto t0 = std::chrono::steady_clock::now();
  auto model = SequenceClassifier::load(a.model.resolve(), classifier_options(a.model));
  const auto& labels = model->labels();
  const size_t C = labels.size();

  const std::string& f = a.output.format;
  const char d = f == "tsv" ? '\t' : ',';
  const bool with_id = !a.input.id_field.empty();
  AtomicOutput out(a.output.path);
  if (f != "jsonl") {
    std::string head = "index";
    if (with_id) head += d + std::string("id");
    head += d + std::string("label");
    for (auto& l : labels) head += d + csv_field(l, d);
    if (!a.no_logits)
      for (auto& l : labels) head += d + csv_field("logit_" + l, d);
    out.write(head + "\n");
  }
  std::vector<std::vector<size_t>> confusion(C, std::vector<size_t>(C, 0));
  std::map<std::string, size_t> unknown_names;
  size_t unknown = 0, index = 0;
  ClassifyStats stats;
  Progress progress("classifying", 0);
  for_each_text_chunk(a.input, 4096, [&](std::vector<TextItem>& items) {
    std::vector<std::pair<std::string, std::string>> pairs;
    pairs.reserve(items.size());
    for (auto& it : items) pairs.emplace_back(it.text, required_value(it, a.hypothesis, "hypothesis column"));
    Matrix logits = model->logits(pairs, truncation, &stats);
    std::string buf;
    for (size_t r = 0; r < logits.rows; ++r, ++index) {
      std::vector<float> p = softmax(logits.row(r), C);
      const size_t best = rank_scores(logits.row(r), C)[0];
      if (!a.gold.empty()) {
        std::string g = required_value(items[r], a.gold, "gold column");
        size_t gi = C;
        for (size_t j = 0; j < C; ++j)
          if (lower(labels[j]) == lower(g)) gi = j;
        if (gi == C) {
          ++unknown;
          ++unknown_names[g];
        } else {
          ++confusion[gi][best];
        }
      }
      if (f == "jsonl") {
        buf += "{\"index\": " + std::to_string(index);
        if (with_id) buf += ", \"id\": " + json_quote(items[r].id);
        buf += ", \"label\": " + json_quote(labels[best]) + ", \"probabilities\": {";
        for (size_t j = 0; j < C; ++j) {
          buf += (j ? ", " : "") + json_quote(labels[j]) + ": ";
          append_float(buf, p[j]);
        }
        buf += "}";
        if (!a.no_logits) {
          buf += ", \"logits\": [";
          for (size_t j = 0; j < C; ++j) {
            if (j) buf += ", ";
            append_float(buf, logits.at(r, j));
          }
          buf += "]";
        }
        buf += "}\n";
      } else {
        buf += std::to_string(index);
        if (with_id) buf += d + csv_field(items[r].id, d);
        buf += d + csv_field(labels[best], d);
        for (size_t j = 0; j < C; ++j) {
          buf += d;
          append_float(buf, p[j]);
        }
        if (!a.no_logits)
          for (size_t j = 0; j < C; ++j) {
            buf += d;
            append_float(buf, logits.at(r, j));
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
  char msg[160];
  std::snprintf(msg, sizeof msg, "classified %zu pairs (%zu tokens) in %.2f s", index, stats.tokens, secs);
  log(msg);
  if (stats.truncated) log(std::to_string(stats.truncated) + " pair(s) were truncated to the maximum length");
  if (!a.gold.empty()) print_gold_report(labels, confusion, unknown, unknown_names);
  return 0;
}

std::function<int()> setup_nli(CLI::App& app) {
  auto a = std::make_shared<NliArgs>();
  CLI::App* sub = app.add_subcommand(
      "nli", "Classify premise/hypothesis pairs with an NLI model: label probabilities and the argmax");
  a->input.add_to(sub, true, false);
  a->model.add_to(sub, "NLI model folder or Hugging Face name (required)");
  a->output.add_to(sub, {"jsonl", "csv", "tsv"}, "jsonl");
  sub->add_option("--premise-column", a->premise, "Premise column (csv/tsv name or index) or key (jsonl)")
      ->required();
  sub->add_option("--hypothesis-column", a->hypothesis, "Hypothesis column or key")->required();
  sub->add_option("--gold-column", a->gold,
                  "Gold label column: accuracy and a confusion matrix on stderr");
  sub->add_option("--truncation", a->truncation, "only_first, longest_first, only_second")
      ->capture_default_str();
  sub->add_flag("--no-logits", a->no_logits, "Leave the raw logits out of the output");
  sub->add_flag("-q,--quiet", a->quiet, "No log lines on stderr");
  return [a]() { return run_nli(*a); };
}

SBERT_COMMAND("nli", setup_nli);

}  // namespace
}  // namespace sbert::cli
