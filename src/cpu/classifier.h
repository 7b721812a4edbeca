// Sequence-classification models (NLI, cross-encoders, rerankers) without libtorch: what a
// folder says about its head and labels (ClassifierSetup, read by sbert's CPU runtime and by
// libtorch's nn/sequence_classifier.cpp alike), the SequenceClassifier over any runner of
// encoded inputs (tokenization, truncation, batching order), and the CPU runtime's heads, as
// the Hugging Face *ForSequenceClassification models compute them (dropout is the identity):
//   PoolerLinear:      classifier(tanh(pooler(h[0])))    BERT
//   DenseTanh:         out_proj(tanh(dense(h[0])))        RoBERTa
//   DenseGelu:         out_proj(gelu(dense(h[0])))        ELECTRA
//   PreClassifierRelu: classifier(relu(pre_classifier(h[0])))  DistilBERT
#pragma once
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cpu/model_config.h"
#include "sbert/classifier.h"

namespace sbert::cpu {

struct ClassifierSetup {
  std::filesystem::path dir;  // the folder with config.json (0_Transformer/ of an ST folder)
  ModelConfig config;
  std::string where;          // the weight file (or the folder), for messages
  std::string prefix;         // the encoder's tensors ("bert.", "roberta.", "")
  std::string root;           // the head's tensors ("" beside "bert.", "model." beside "model.roberta.")
  int64_t num_labels = 0;
  std::vector<std::string> labels;
  size_t max_length = 0;
  bool use_type_ids = false;
  std::string ce_activation;  // "sigmoid", "identity", ... ("" when the config names none)
  ClassifierInfo info;
};

// The folder holding config.json of `model_dir` (an ST folder keeps it in 0_Transformer/).
std::filesystem::path classifier_dir(const std::filesystem::path& model_dir);
// Reads config.json, tokenizer_config.json and the checkpoint's names (`names`, `shape`: the
// store's) into a setup; errors name the file: no head in the checkpoint, a head of the wrong
// shape, id2label against the head, max_length beyond the positions.
ClassifierSetup read_classifier_setup(const std::filesystem::path& model_dir, const ClassifierOptions& options,
                                      const std::vector<std::string>& names,
                                      const std::function<std::vector<int64_t>(const std::string&)>& shape,
                                      const std::string& device);

// Runs already encoded inputs (specials included) to logits [inputs, num_labels], rows in input
// order.
class LogitsRunner {
 public:
  virtual ~LogitsRunner() = default;
  virtual Matrix run(const std::vector<Encoding>& encodings, ClassifyStats* stats) const = 0;
};
std::unique_ptr<SequenceClassifier> make_sequence_classifier(ClassifierSetup setup, std::unique_ptr<LogitsRunner> runner,
                                                             std::unique_ptr<Tokenizer> tokenizer);

// The CPU runtime's classifier (float32, or int8 encoder layers).
std::unique_ptr<SequenceClassifier> load_cpu_classifier(const std::filesystem::path& model_dir,
                                                        const ClassifierOptions& options);

}  // namespace sbert::cpu
