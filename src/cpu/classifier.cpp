#include "cpu/classifier.h"

#include <algorithm>

#include "cpu/encoder.h"
#include "cpu/length_sorted_batcher.h"
#include "cpu/pooling.h"
#include "sbert/error.h"
#include "sbert/model_folder.h"

namespace sbert::cpu {
namespace fs = std::filesystem;

namespace {

// "torch.nn.modules.activation.Sigmoid" -> "sigmoid".
std::string activation_name(const nlohmann::json& config) {
  std::string full;
  if (config.contains("sentence_transformers") && config["sentence_transformers"].is_object() &&
      config["sentence_transformers"].contains("activation_fn") &&
      config["sentence_transformers"]["activation_fn"].is_string())
    full = config["sentence_transformers"]["activation_fn"].get<std::string>();
  else if (config.contains("sbert_ce_default_activation_function") &&
           config["sbert_ce_default_activation_function"].is_string())
    full = config["sbert_ce_default_activation_function"].get<std::string>();
  if (full.empty()) return "";
  std::string last = full.substr(full.rfind('.') == std::string::npos ? 0 : full.rfind('.') + 1);
  for (char& c : last)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return last;
}

}  // namespace

fs::path classifier_dir(const fs::path& model_dir) {
  if (!fs::is_directory(model_dir)) throw Error(model_dir.string() + ": model folder not found");
  if (!fs::exists(model_dir / "config.json") && fs::exists(model_dir / "0_Transformer" / "config.json"))
    return model_dir / "0_Transformer";
  return model_dir;
}

ClassifierSetup read_classifier_setup(const fs::path& model_dir, const ClassifierOptions& options,
                                      const std::vector<std::string>& names,
                                      const std::function<std::vector<int64_t>(const std::string&)>& shape,
                                      const std::string& device) {
  ClassifierSetup s;
  s.dir = classifier_dir(model_dir);
  const std::string config_path = (s.dir / "config.json").string();
  s.config = ModelConfig::load(s.dir / "config.json");
  const ModelConfig& c = s.config;
  const auto weights_file = model::find_weight_file(s.dir);
  const std::string weights_name = weights_file ? weights_file->string() : "";
  s.where = weights_name.empty() ? s.dir.string() : weights_name;
  s.prefix = find_prefix(names, std::string(c.arch->tensors.word_embeddings) + ".weight");
  // The head sits beside the encoder: "bert." -> "", "model.roberta." -> "model.".
  if (!s.prefix.empty()) {
    const size_t dot = s.prefix.rfind('.', s.prefix.size() - 2);
    s.root = dot == std::string::npos ? "" : s.prefix.substr(0, dot + 1);
  }
  auto has = [&](const std::string& n) { return std::find(names.begin(), names.end(), n) != names.end(); };
  const int64_t H = c.hidden_size;
  const HeadNames& head = c.arch->head;
  if (!head.final)
    throw Error(s.dir.string() + "/config.json: sbert has no sequence-classification head for architecture '" +
                c.arch->name + "' (its models serve embed, similarity, search, ...; NLI, rerank and zero-shot need a "
                "classifier such as BertForSequenceClassification)");
  const std::string first_name = head.first ? head.first : "", final_name = head.final;
  const std::string final_w = s.root + final_name + ".weight";
  if (!has(final_w) || (!first_name.empty() && !has(s.root + first_name + ".weight"))) {
    const std::string arch = c.architectures.empty() ? c.model_type : c.architectures[0];
    throw Error(s.where + ": no sequence-classification head (" +
                (first_name.empty() ? "" : s.root + first_name + ".weight, ") + final_w +
                " missing; architecture " + arch +
                "): a *ForSequenceClassification / cross-encoder checkpoint is needed, not a plain "
                "encoder or embedding model");
  }
  const std::vector<int64_t> fshape = shape(final_w);
  if (fshape.size() != 2 || fshape[0] <= 0 || fshape[1] != H)
    throw Error(s.where + ": " + final_w + " has an unexpected shape (expected [num_labels, " + std::to_string(H) + "])");
  s.num_labels = fshape[0];

  // Labels from config.json id2label (keys are the ids as strings).
  s.labels.assign(static_cast<size_t>(s.num_labels), "");
  if (c.raw.contains("id2label") && c.raw["id2label"].is_object() && !c.raw["id2label"].empty()) {
    const auto& id2label = c.raw["id2label"];
    if (static_cast<int64_t>(id2label.size()) != s.num_labels)
      throw Error(config_path + ": id2label has " + std::to_string(id2label.size()) +
                  " labels but the classifier (" + final_w + ") has " + std::to_string(s.num_labels) + " outputs");
    for (auto it = id2label.begin(); it != id2label.end(); ++it) {
      size_t id = 0, used = 0;
      try {
        id = std::stoul(it.key(), &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != it.key().size() || id >= s.labels.size() || !s.labels[id].empty() || !it.value().is_string() ||
          it.value().get<std::string>().empty())
        throw Error(config_path + ": id2label entry '" + it.key() + "' is not a label for an id in 0.." +
                    std::to_string(s.num_labels - 1));
      s.labels[id] = it.value().get<std::string>();
    }
  } else {
    for (int64_t i = 0; i < s.num_labels; ++i) s.labels[static_cast<size_t>(i)] = "LABEL_" + std::to_string(i);
  }
  // BERT and ELECTRA take token type ids; the RoBERTa tokenizers return none (zeros), DistilBERT
  // has no type embeddings.
  s.use_type_ids = head.token_type_ids && c.type_vocab_size > 1;
  const size_t model_limit = static_cast<size_t>(c.max_input_length());
  if (options.max_length > 0) {
    if (options.max_length > model_limit)
      throw Error("max length " + std::to_string(options.max_length) + " exceeds the model's " +
                  std::to_string(model_limit) + " positions (" + config_path + ")");
    s.max_length = options.max_length;
  } else {
    size_t ml = 512;
    const nlohmann::json tc = model::read_json_if_exists(s.dir / "tokenizer_config.json").value_or(nlohmann::json());
    if (tc.is_object() && tc.contains("model_max_length") && tc["model_max_length"].is_number()) {
      const double v = tc["model_max_length"].get<double>();
      if (v > 0 && v < 1e6) ml = static_cast<size_t>(v);
    }
    s.max_length = std::min(ml, model_limit);
  }
  s.ce_activation = activation_name(c.raw);
  ClassifierInfo& info = s.info;
  info.model_type = c.model_type;
  info.architecture = c.architectures.empty() ? "" : c.architectures[0];
  info.head = head.description;
  info.hidden_size = static_cast<size_t>(H);
  info.layers = static_cast<size_t>(c.num_layers);
  info.num_labels = static_cast<size_t>(s.num_labels);
  info.max_length = s.max_length;
  info.weights = weights_name;
  info.dtype = options.dtype;
  info.device = device;
  return s;
}

namespace {

class TokenizingClassifier final : public SequenceClassifier {
 public:
  TokenizingClassifier(ClassifierSetup setup, std::unique_ptr<LogitsRunner> runner, std::unique_ptr<Tokenizer> tokenizer)
      : s_(std::move(setup)), runner_(std::move(runner)), tokenizer_(std::move(tokenizer)) {}

  Matrix logits(const std::vector<std::pair<std::string, std::string>>& pairs, Truncation truncation,
                ClassifyStats* stats) override {
    std::vector<Encoding> encs;
    encs.reserve(pairs.size());
    for (const auto& [a, b] : pairs) {
      Encoding e = tokenizer_->encode_pair(a, b, 0, truncation);
      if (e.size() > s_.max_length) {
        e = tokenizer_->encode_pair(a, b, s_.max_length, truncation);
        if (stats) ++stats->truncated;
      }
      encs.push_back(std::move(e));
    }
    return run(encs, stats);
  }
  Matrix logits(const std::vector<std::string>& texts, ClassifyStats* stats) override {
    std::vector<Encoding> encs;
    encs.reserve(texts.size());
    for (const auto& t : texts) {
      Encoding e = tokenizer_->encode(t, true, 0);
      if (e.size() > s_.max_length) {
        e = tokenizer_->encode(t, true, s_.max_length);
        if (stats) ++stats->truncated;
      }
      encs.push_back(std::move(e));
    }
    return run(encs, stats);
  }
  Matrix logits(const std::vector<Encoding>& encodings, ClassifyStats* stats) override { return run(encodings, stats); }
  const std::vector<std::string>& labels() const override { return s_.labels; }
  size_t num_labels() const override { return s_.labels.size(); }
  size_t max_length() const override { return s_.max_length; }
  const ClassifierInfo& info() const override { return s_.info; }
  const Tokenizer& tokenizer() const override { return *tokenizer_; }
  const std::string& cross_encoder_activation() const override { return s_.ce_activation; }

 private:
  Matrix run(const std::vector<Encoding>& encs, ClassifyStats* stats) const {
    const size_t limit = static_cast<size_t>(s_.config.max_input_length());
    for (size_t i = 0; i < encs.size(); ++i) {
      if (encs[i].ids.empty()) throw Error("classifier input " + std::to_string(i) + " has no tokens");
      if (encs[i].ids.size() > limit)
        throw Error("classifier input " + std::to_string(i) + " has " + std::to_string(encs[i].ids.size()) +
                    " tokens; the model takes at most " + std::to_string(limit));
    }
    return runner_->run(encs, stats);
  }

  ClassifierSetup s_;
  std::unique_ptr<LogitsRunner> runner_;
  std::unique_ptr<Tokenizer> tokenizer_;
};

class CpuHead final : public LogitsRunner {
 public:
  CpuHead(const ClassifierSetup& s, std::shared_ptr<const TensorFile> file, const ClassifierOptions& options)
      : encoder_(s.config, file, s.prefix, s.where, options.quantize == "int8"),
        kind_(s.config.arch->head.kind),
        use_type_ids_(s.use_type_ids),
        batch_size_(std::max<size_t>(options.batch_size, 1)),
        max_batch_tokens_(options.max_batch_tokens),
        limit_(static_cast<size_t>(s.config.max_input_length())) {
    const HeadNames& head = s.config.arch->head;
    if (kind_ == HeadKind::PoolerLinear && !encoder_.has_pooler())
      throw Error(s.where + ": BERT classification head needs the pooler (" + s.prefix +
                  "pooler.dense.weight), which is missing");
    const int64_t H = s.config.hidden_size;
    ParameterReader r(*file, s.root, s.where);
    if (head.first) first_ = read_linear(r, head.first, H, H, true, false);
    final_ = read_linear(r, head.final, s.num_labels, H, true, false);
    r.finish();
  }

  Matrix run(const std::vector<Encoding>& encs, ClassifyStats* stats) const override {
    const int64_t H = encoder_.config().hidden_size, C = final_.outputs();
    Matrix out(encs.size(), static_cast<size_t>(C));
    if (encs.empty()) return out;
    std::vector<size_t> lengths(encs.size());
    for (size_t i = 0; i < encs.size(); ++i) lengths[i] = encs[i].ids.size();
    LengthSortedBatcher batcher(lengths, batch_size_, max_batch_tokens_, limit_);
    for (const auto& idx : batcher.batches()) {
      TokenBatch b;
      b.offsets.push_back(0);
      for (size_t i : idx) {
        const Encoding& e = encs[i];
        b.ids.insert(b.ids.end(), e.ids.begin(), e.ids.end());
        for (size_t t = 0; t < e.ids.size(); ++t)
          b.types.push_back(use_type_ids_ && t < e.type_ids.size() ? e.type_ids[t] : 0);
        b.offsets.push_back(b.tokens());
        if (stats) stats->tokens += e.ids.size();
      }
      const int64_t B = b.sequences();
      const std::vector<float> hidden = encoder_.forward(b);
      std::vector<float> x(static_cast<size_t>(B * H));
      pool_rows(hidden.data(), b.offsets, H, PoolingMode::Cls, nullptr, x.data(), H);
      if (kind_ == HeadKind::PoolerLinear) {
        x = encoder_.pooler(x.data(), B);
      } else {
        const Activation act = kind_ == HeadKind::DenseTanh   ? Activation::Tanh
                               : kind_ == HeadKind::DenseGelu ? Activation::GeluErf
                                                              : Activation::Relu;
        const float* bias = first_.bias();
        const GemmEpilogue epi{[bias, act](float* o, int64_t ld, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
                                 bias_activation(o, ld, bias, act, c0, c1, r0, r1);
                               },
                               false};
        std::vector<float> y(static_cast<size_t>(B * H));
        first_.forward(x.data(), B, y.data(), &epi);
        x = std::move(y);
      }
      std::vector<float> logits(static_cast<size_t>(B * C));
      final_.forward(x.data(), B, logits.data());
      for (int64_t r = 0; r < B; ++r) std::copy(&logits[r * C], &logits[r * C] + C, out.row(idx[static_cast<size_t>(r)]));
      if (stats) ++stats->batches;
    }
    if (stats) stats->pairs += encs.size();
    return out;
  }

 private:
  Encoder encoder_;
  HeadKind kind_;
  bool use_type_ids_;
  size_t batch_size_, max_batch_tokens_, limit_;
  Linear first_, final_;
};

}  // namespace

std::unique_ptr<SequenceClassifier> make_sequence_classifier(ClassifierSetup setup, std::unique_ptr<LogitsRunner> runner,
                                                             std::unique_ptr<Tokenizer> tokenizer) {
  return std::make_unique<TokenizingClassifier>(std::move(setup), std::move(runner), std::move(tokenizer));
}

std::unique_ptr<SequenceClassifier> load_cpu_classifier(const fs::path& model_dir, const ClassifierOptions& options) {
  const fs::path dir = classifier_dir(model_dir);
  std::shared_ptr<const TensorFile> file = open_model_tensors(dir);
  ClassifierSetup setup = read_classifier_setup(
      model_dir, options, file->names(), [&](const std::string& n) { return file->shape(n); }, "cpu");
  auto runner = std::make_unique<CpuHead>(setup, file, options);
  auto tokenizer = load_tokenizer(setup.dir, options.tokenizer);
  return make_sequence_classifier(std::move(setup), std::move(runner), std::move(tokenizer));
}

}  // namespace sbert::cpu
