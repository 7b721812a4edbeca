// Zero-shot classification with an NLI model, the torch-free part: candidate labels, hypothesis
// templates, finding the entailment/contradiction outputs in a model's id2label, and turning
// (text x label) pair logits into label scores exactly as the transformers zero-shot pipeline.
#pragma once
#include <cstddef>
#include <optional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sbert/matrix.h"

namespace sbert {

// "sports, politics,weather" -> {"sports", "politics", "weather"}: split on commas, blanks
// around each label trimmed. Throws sbert::Error on an empty list, an empty label or a duplicate.
std::vector<std::string> parse_candidate_labels(const std::string& list);

// Throws sbert::Error on an empty list, an empty (blank) label or a duplicate label.
void validate_candidate_labels(const std::vector<std::string>& labels);

// Python str.format with one argument, as the pipeline calls hypothesis_template.format(label):
// "{}" and "{0}" are replaced by the label, "{{" and "}}" are literal braces. Throws sbert::Error
// when the template has no placeholder or an unsupported one ("{name}", "{1}", a lone brace).
std::string format_hypothesis(const std::string& hypothesis_template, const std::string& label);
void validate_hypothesis_template(const std::string& hypothesis_template);

// Which outputs of an NLI model mean entailment and contradiction.
struct NliLabelIndices {
  size_t entailment = 0;
  std::optional<size_t> contradiction;  // needed for multi-label scoring
};

// Finds the entailment output in `id2label` (label names in id order): the first name that
// starts with "entail" case-insensitively (ENTAILMENT, entailment, Entailment, entailed), as the
// transformers pipeline does. The contradiction output: the first name starting with
// "contradict"; for a two-label model without one (entailment / not_entailment), the other label.
// `entailment_label` / `contradiction_label`, when not empty, name the outputs instead (matched
// case-insensitively and in full). Throws sbert::Error listing the model's labels when there is no
// entailment output or a given name is not one of the labels.
NliLabelIndices find_nli_labels(const std::vector<std::string>& id2label,
                                const std::string& entailment_label = {},
                                const std::string& contradiction_label = {});

// Label scores from pair logits. Row t * num_candidates + j of `pair_logits` holds the model's
// logits for premise = text t, hypothesis = template(label j).
// single-label: per text, softmax over the candidates' entailment logits (scores sum to 1);
// multi-label: per candidate, softmax over [contradiction, entailment], entailment kept.
// As in the pipeline, a single candidate label is always scored the multi-label way.
// Returns [texts, num_candidates]. Throws sbert::Error on inconsistent shapes or when
// multi-label scoring needs a contradiction output the model does not have.
Matrix zero_shot_scores(const Matrix& pair_logits, size_t num_candidates,
                        const NliLabelIndices& indices, bool multi_label);

// Indices of `scores` ordered by score, highest first (ties keep their input order).
std::vector<size_t> rank_scores(const float* scores, size_t n);

// Softmax of one row of logits (computed in double, returned as float).
std::vector<float> softmax(const float* logits, size_t n);

// Candidate labels from a file: one per line, blank lines skipped, surrounding blanks trimmed.
std::vector<std::string> read_candidate_labels(const std::string& path);

// The labels to report for one text, best first: at most `top` (0: all), and only those scoring
// at least `threshold` (negative: no threshold).
std::vector<size_t> kept_labels(const float* scores, size_t n, size_t top, double threshold);

// Accuracy and a confusion matrix of predicted label indexes against gold label names
// (matched case-insensitively to `labels`); gold names that are not labels are counted apart.
class LabelConfusion {
 public:
  explicit LabelConfusion(std::vector<std::string> labels);
  void add(const std::string& gold, size_t predicted);
  size_t total() const;    // rows with a known gold label
  size_t correct() const;
  double accuracy() const;
  size_t count(size_t gold, size_t predicted) const { return m_[gold][predicted]; }
  size_t unknown() const { return unknown_; }
  // "accuracy 0.7500 (3/4)", the matrix as an aligned text table, and the skipped gold names.
  std::string report() const;
  // The counts as JSON, and the sum of such counts (shards of one evaluation: `sbert merge`).
  nlohmann::json to_json() const;
  // Adds counts written by to_json() for the same labels; throws sbert::Error otherwise.
  void add_counts(const nlohmann::json& counts);

 private:
  std::vector<std::string> labels_, lower_;
  std::vector<std::vector<size_t>> m_;
  size_t unknown_ = 0;
  std::vector<std::pair<std::string, size_t>> unknown_names_;  // in first-seen order
};

}  // namespace sbert
