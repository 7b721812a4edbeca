// Sequence classification (Hugging Face *ForSequenceClassification checkpoints: BERT, RoBERTa /
// XLM-RoBERTa, DistilBERT, ELECTRA) behind a torch-free interface: NLI, zero-shot labeling and
// cross-encoder scoring/reranking.
#pragma once
#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "sbert/matrix.h"
#include "sbert/runtime.h"
#include "sbert/tokenizer.h"
#include "sbert/zero_shot.h"

namespace sbert {

// Device, dtype, threads, batch_size (pairs per forward pass), max_batch_tokens (padded tokens
// per batch; 0: no bound beyond batch_size), max_length (tokens per pair, specials included; 0:
// the tokenizer's model_max_length, else 512; capped by the position table) and tokenizer come
// from RuntimeOptions.
struct ClassifierOptions : RuntimeOptions {};

struct ClassifierInfo {
  std::string model_type;    // bert, xlm-roberta, distilbert, electra, ...
  std::string architecture;  // config.json architectures[0] (may be empty)
  std::string head;          // "pooler+linear", "dense+tanh+out_proj", "pre_classifier+relu+linear", ...
  size_t hidden_size = 0, layers = 0, num_labels = 0;
  size_t max_length = 0;
  std::string weights, dtype, device;
};

struct ClassifyStats {
  size_t pairs = 0;
  size_t tokens = 0;     // tokens fed to the model (specials included, padding excluded)
  size_t truncated = 0;  // inputs that were cut to max_length
  size_t batches = 0;
};

class SequenceClassifier {
 public:
  // Loads a model folder holding a sequence-classification checkpoint (config.json with
  // id2label, weights with the classification head, tokenizer). A model without a classification
  // head (a plain encoder, a sentence-transformers bi-encoder) is a clear sbert::Error.
  static std::unique_ptr<SequenceClassifier> load(const std::filesystem::path& model_dir,
                                                  const ClassifierOptions& options = {});
  virtual ~SequenceClassifier() = default;
  SequenceClassifier(const SequenceClassifier&) = delete;
  SequenceClassifier& operator=(const SequenceClassifier&) = delete;

  // Raw logits, one row per pair (input order), num_labels() columns. Each pair is encoded as the
  // reference does ([CLS] a [SEP] b [SEP] with token type ids for BERT, <s> a </s></s> b </s> for
  // RoBERTa) and truncated to max_length() with `truncation`; inputs are sorted by length and
  // padded per batch.
  virtual Matrix logits(const std::vector<std::pair<std::string, std::string>>& pairs,
                        Truncation truncation = Truncation::OnlyFirst, ClassifyStats* stats = nullptr) = 0;
  // Single texts (sentiment-style classifiers).
  virtual Matrix logits(const std::vector<std::string>& texts, ClassifyStats* stats = nullptr) = 0;
  // Already encoded inputs (with special tokens, at most max_length() tokens each).
  virtual Matrix logits(const std::vector<Encoding>& encodings, ClassifyStats* stats = nullptr) = 0;

  // id2label in id order ("LABEL_0", ... when config.json names none).
  virtual const std::vector<std::string>& labels() const = 0;
  virtual size_t num_labels() const = 0;
  virtual size_t max_length() const = 0;
  virtual const ClassifierInfo& info() const = 0;
  virtual const Tokenizer& tokenizer() const = 0;
  // The config.json object "sentence_transformers"/"sbert_ce_default_activation_function"
  // activation of a CrossEncoder ("sigmoid", "identity", ...), empty when none is recorded.
  virtual const std::string& cross_encoder_activation() const = 0;

 protected:
  SequenceClassifier() = default;
};

// Zero-shot labeling with an NLI model, as the transformers zero-shot pipeline: premise = text,
// hypothesis = template with the label, one model row per (text, label) pair.
struct ZeroShotOptions {
  std::string hypothesis_template = "This example is {}.";
  bool multi_label = false;
  std::string entailment_label;     // override the model's entailment output by name
  std::string contradiction_label;  // override the contradiction output by name
  Truncation truncation = Truncation::OnlyFirst;
};

class ZeroShotClassifier {
 public:
  // Checks the labels (non-empty, no duplicates), the template ({} placeholder) and finds the
  // entailment/contradiction outputs of the model; throws sbert::Error otherwise.
  ZeroShotClassifier(SequenceClassifier& model, std::vector<std::string> candidate_labels,
                     ZeroShotOptions options = {});
  // [texts, candidate labels] scores, candidate labels in the given order.
  Matrix scores(const std::vector<std::string>& texts, ClassifyStats* stats = nullptr);
  // The pair logits behind the scores: row t * labels + j (see zero_shot_scores).
  Matrix pair_logits(const std::vector<std::string>& texts, ClassifyStats* stats = nullptr);
  const std::vector<std::string>& candidate_labels() const { return labels_; }
  const std::vector<std::string>& hypotheses() const { return hypotheses_; }
  const NliLabelIndices& indices() const { return indices_; }

 private:
  SequenceClassifier& model_;
  std::vector<std::string> labels_, hypotheses_;
  ZeroShotOptions options_;
  NliLabelIndices indices_;
};

// A cross-encoder: one relevance score per (query, document) pair, as sentence-transformers'
// CrossEncoder.predict: sigmoid of the logit for one-label models (unless the model records
// another activation), truncation longest_first.
struct RankedDocument {
  size_t index = 0;  // into the documents given to rank()
  float score = 0;
};

class CrossEncoder {
 public:
  static std::unique_ptr<CrossEncoder> load(const std::filesystem::path& model_dir,
                                            const ClassifierOptions& options = {});
  explicit CrossEncoder(std::unique_ptr<SequenceClassifier> model);

  // One score per pair, input order. Throws sbert::Error for a model with more than one output
  // (e.g. an NLI model; use SequenceClassifier or `sbert nli` for those).
  std::vector<float> score(const std::vector<std::pair<std::string, std::string>>& pairs,
                           ClassifyStats* stats = nullptr);
  // Documents sorted by score for one query, highest first; top_k = 0 keeps all.
  std::vector<RankedDocument> rank(const std::string& query, const std::vector<std::string>& documents,
                                   size_t top_k = 0, ClassifyStats* stats = nullptr);
  // Many queries at once: documents[i] is scored against queries[i]. One group per distinct
  // query, in order of first appearance, each sorted by score (at most top_k per group); the
  // RankedDocument indexes point into `documents`. All pairs go through one score() call, so
  // batches are length-sorted across queries.
  struct Group {
    std::string query;
    std::vector<RankedDocument> ranked;
    size_t documents = 0;  // documents of this query before top_k
  };
  std::vector<Group> rank_grouped(const std::vector<std::string>& queries, const std::vector<std::string>& documents,
                                  size_t top_k = 0, ClassifyStats* stats = nullptr);
  SequenceClassifier& model() { return *model_; }

 private:
  std::unique_ptr<SequenceClassifier> model_;
  bool sigmoid_ = true;
};

}  // namespace sbert
