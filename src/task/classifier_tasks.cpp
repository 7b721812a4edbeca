// Tasks over a SequenceClassifier: zero-shot labeling (transformers zero-shot pipeline) and
// cross-encoder scoring/reranking (sentence-transformers CrossEncoder).
#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "sbert/classifier.h"
#include "sbert/error.h"

namespace sbert {

ZeroShotClassifier::ZeroShotClassifier(SequenceClassifier& model,
                                       std::vector<std::string> candidate_labels,
                                       ZeroShotOptions options)
    : model_(model), labels_(std::move(candidate_labels)), options_(std::move(options)) {
  validate_candidate_labels(labels_);
  validate_hypothesis_template(options_.hypothesis_template);
  indices_ = find_nli_labels(model_.labels(), options_.entailment_label, options_.contradiction_label);
  if ((options_.multi_label || labels_.size() == 1) && !indices_.contradiction)
    throw Error("multi-label zero-shot scoring needs a contradiction output, and the model's labels "
                "have none (name it with --contradiction-label)");
  for (const auto& l : labels_) hypotheses_.push_back(format_hypothesis(options_.hypothesis_template, l));
}

Matrix ZeroShotClassifier::pair_logits(const std::vector<std::string>& texts, ClassifyStats* stats) {
  std::vector<std::pair<std::string, std::string>> pairs;
  pairs.reserve(texts.size() * labels_.size());
  for (const auto& t : texts)
    for (const auto& h : hypotheses_) pairs.emplace_back(t, h);
  return model_.logits(pairs, options_.truncation, stats);
}

Matrix ZeroShotClassifier::scores(const std::vector<std::string>& texts, ClassifyStats* stats) {
  if (texts.empty()) return Matrix(0, labels_.size());
  return zero_shot_scores(pair_logits(texts, stats), labels_.size(), indices_, options_.multi_label);
}

std::unique_ptr<CrossEncoder> CrossEncoder::load(const std::filesystem::path& model_dir,
                                                 const ClassifierOptions& options) {
  return std::make_unique<CrossEncoder>(SequenceClassifier::load(model_dir, options));
}

CrossEncoder::CrossEncoder(std::unique_ptr<SequenceClassifier> model) : model_(std::move(model)) {
  if (model_->num_labels() != 1) {
    std::string names;
    for (const auto& l : model_->labels()) names += (names.empty() ? "" : ", ") + l;
    throw Error("cross-encoder scoring needs a model with one output; this one has " +
                std::to_string(model_->num_labels()) + " (" + names +
                ") — for NLI models use `sbert nli` or `sbert nli-zeroshot`");
  }
  const std::string& act = model_->cross_encoder_activation();
  if (act.empty() || act == "sigmoid") sigmoid_ = true;
  else if (act == "identity") sigmoid_ = false;
  else
    throw Error("cross-encoder activation '" + act +
                "' recorded in config.json is not supported (sigmoid, identity)");
}

std::vector<float> CrossEncoder::score(const std::vector<std::pair<std::string, std::string>>& pairs,
                                       ClassifyStats* stats) {
  Matrix logits = model_->logits(pairs, Truncation::LongestFirst, stats);
  std::vector<float> out(logits.rows);
  for (size_t i = 0; i < logits.rows; ++i) {
    const float x = logits.at(i, 0);
    out[i] = sigmoid_ ? static_cast<float>(1.0 / (1.0 + std::exp(-static_cast<double>(x)))) : x;
  }
  return out;
}

std::vector<RankedDocument> CrossEncoder::rank(const std::string& query,
                                               const std::vector<std::string>& documents,
                                               size_t top_k, ClassifyStats* stats) {
  std::vector<std::pair<std::string, std::string>> pairs;
  pairs.reserve(documents.size());
  for (const auto& d : documents) pairs.emplace_back(query, d);
  std::vector<float> s = score(pairs, stats);
  std::vector<size_t> order = rank_scores(s.data(), s.size());
  if (top_k > 0 && order.size() > top_k) order.resize(top_k);
  std::vector<RankedDocument> out;
  out.reserve(order.size());
  for (size_t i : order) out.push_back({i, s[i]});
  return out;
}

std::vector<CrossEncoder::Group> CrossEncoder::rank_grouped(const std::vector<std::string>& queries,
                                                            const std::vector<std::string>& documents,
                                                            size_t top_k, ClassifyStats* stats) {
  if (queries.size() != documents.size())
    throw Error("rank_grouped: " + std::to_string(queries.size()) + " queries for " +
                std::to_string(documents.size()) + " documents");
  std::unordered_map<std::string, size_t> where;
  std::vector<std::vector<size_t>> members;
  std::vector<Group> groups;
  for (size_t i = 0; i < queries.size(); ++i) {
    auto [pos, fresh] = where.emplace(queries[i], groups.size());
    if (fresh) {
      groups.push_back({queries[i], {}, 0});
      members.emplace_back();
    }
    members[pos->second].push_back(i);
  }
  std::vector<std::pair<std::string, std::string>> pairs;
  pairs.reserve(documents.size());
  for (size_t g = 0; g < groups.size(); ++g)
    for (size_t i : members[g]) pairs.emplace_back(groups[g].query, documents[i]);
  const std::vector<float> s = score(pairs, stats);
  size_t offset = 0;
  for (size_t g = 0; g < groups.size(); ++g) {
    const size_t n = members[g].size();
    std::vector<size_t> order = rank_scores(s.data() + offset, n);
    if (top_k > 0 && order.size() > top_k) order.resize(top_k);
    groups[g].documents = n;
    for (size_t k : order) groups[g].ranked.push_back({members[g][k], s[offset + k]});
    offset += n;
  }
  return groups;
}

}  // namespace sbert
