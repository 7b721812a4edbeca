// Sequence-classification heads on top of TransformerEncoder, as the Hugging Face
// *ForSequenceClassification models compute them (dropout is the identity at inference):
//   BERT:       classifier(pooler(h)) where pooler = tanh(dense(h[CLS]))
//   RoBERTa:    out_proj(tanh(dense(h[<s>])))            (classifier.dense / classifier.out_proj)
//   ELECTRA:    out_proj(gelu(dense(h[CLS])))             (same names as RoBERTa)
//   DistilBERT: classifier(relu(pre_classifier(h[CLS])))
// The tensor names come from the architecture tables (nn/arch_tables.cpp).
#include <algorithm>

#include <ATen/Parallel.h>

#include "cpu/length_sorted_batcher.h"
#include "nn/transformer.h"
#include "nn/weight_store.h"
#include "sbert/json_parse.h"
#include "sbert/classifier.h"
#include "sbert/error.h"
#include "sbert/model_folder.h"

namespace sbert {
namespace fs = std::filesystem;

namespace {

using Head = cpu::HeadKind;

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

struct ClassifierImpl {
  nn::TransformerConfig config;
  std::unique_ptr<nn::WeightStore> store;
  std::unique_ptr<nn::TransformerEncoder> encoder;
  std::unique_ptr<Tokenizer> tokenizer;
  Head head = Head::PoolerLinear;
  at::Tensor w1, b1, w2, b2;  // head: first layer (dense / pre_classifier), final classifier
  std::vector<std::string> labels;
  ClassifierInfo info;
  ClassifierOptions options;
  size_t max_length = 0;
  bool use_type_ids = false;
  std::string ce_activation;

  at::Tensor head_forward(const at::Tensor& last_hidden) const {
    if (head == Head::PoolerLinear) return at::linear(encoder->pooler(last_hidden), w2, b2);
    at::Tensor x = last_hidden.select(1, 0);
    x = at::linear(x, w1, b1);
    switch (head) {
      case Head::DenseTanh: x = at::tanh(x); break;
      case Head::DenseGelu: x = at::gelu(x); break;
      case Head::PreClassifierRelu: x = at::relu(x); break;
      default: break;
    }
    return at::linear(x, w2, b2);
  }

  Matrix run(const std::vector<Encoding>& encs, ClassifyStats* stats) const {
    Matrix out(encs.size(), labels.size());
    if (encs.empty()) return out;
    std::vector<size_t> lengths(encs.size());
    for (size_t i = 0; i < encs.size(); ++i) {
      if (encs[i].ids.empty()) throw Error("classifier input " + std::to_string(i) + " has no tokens");
      if (encs[i].ids.size() > static_cast<size_t>(config.max_input_length()))
        throw Error("classifier input " + std::to_string(i) + " has " +
                    std::to_string(encs[i].ids.size()) + " tokens; the model takes at most " +
                    std::to_string(config.max_input_length()));
      lengths[i] = encs[i].ids.size();
    }
    cpu::LengthSortedBatcher batcher(lengths, options.batch_size, options.max_batch_tokens,
                                    static_cast<size_t>(config.max_input_length()));
    c10::InferenceMode guard;
    const int64_t pad = tokenizer->pad_id();
    for (size_t bi = 0; bi < batcher.batches().size(); ++bi) {
      const auto& batch = batcher.batches()[bi];
      const int64_t B = static_cast<int64_t>(batch.size());
      int64_t L = static_cast<int64_t>(batcher.padded_lengths()[bi]);
      for (size_t i : batch) L = std::max<int64_t>(L, static_cast<int64_t>(lengths[i]));
      std::vector<int64_t> ids(B * L, pad), mask(B * L, 0), types(B * L, 0);
      for (int64_t b = 0; b < B; ++b) {
        const Encoding& e = encs[batch[b]];
        for (size_t t = 0; t < e.ids.size(); ++t) {
          ids[b * L + t] = e.ids[t];
          mask[b * L + t] = 1;
          if (use_type_ids && t < e.type_ids.size()) types[b * L + t] = e.type_ids[t];
        }
        if (stats) stats->tokens += e.ids.size();
      }
      auto opt = at::TensorOptions().dtype(at::kLong);
      at::Tensor t_ids = at::from_blob(ids.data(), {B, L}, opt).clone();
      at::Tensor t_mask = at::from_blob(mask.data(), {B, L}, opt).clone();
      at::Tensor t_types = use_type_ids ? at::from_blob(types.data(), {B, L}, opt).clone() : at::Tensor();
      nn::EncoderOutput h = encoder->forward(t_ids, t_mask, t_types, false);
      at::Tensor logits = head_forward(h.last_hidden).to(at::kCPU, at::kFloat).contiguous();
      const float* p = logits.data_ptr<float>();
      const size_t C = labels.size();
      for (int64_t b = 0; b < B; ++b) std::copy(p + b * C, p + (b + 1) * C, out.row(batch[b]));
      if (stats) ++stats->batches;
    }
    if (stats) stats->pairs += encs.size();
    return out;
  }
};

namespace {

class LoadedClassifier final : public SequenceClassifier {
 public:
  explicit LoadedClassifier(std::unique_ptr<ClassifierImpl> impl) : impl_(std::move(impl)) {}
  Matrix logits(const std::vector<std::pair<std::string, std::string>>& pairs, Truncation truncation,
                ClassifyStats* stats) override;
  Matrix logits(const std::vector<std::string>& texts, ClassifyStats* stats) override;
  Matrix logits(const std::vector<Encoding>& encodings, ClassifyStats* stats) override {
    return impl_->run(encodings, stats);
  }
  const std::vector<std::string>& labels() const override { return impl_->labels; }
  size_t num_labels() const override { return impl_->labels.size(); }
  size_t max_length() const override { return impl_->max_length; }
  const ClassifierInfo& info() const override { return impl_->info; }
  const Tokenizer& tokenizer() const override { return *impl_->tokenizer; }
  const std::string& cross_encoder_activation() const override { return impl_->ce_activation; }

 private:
  std::unique_ptr<ClassifierImpl> impl_;
};

}  // namespace

std::unique_ptr<SequenceClassifier> SequenceClassifier::load(const fs::path& model_dir_in,
                                                             const ClassifierOptions& options) {
  if (!fs::is_directory(model_dir_in)) throw Error(model_dir_in.string() + ": model folder not found");
  fs::path dir = model_dir_in;
  // A sentence-transformers folder keeps the transformer in 0_Transformer/.
  if (!fs::exists(dir / "config.json") && fs::exists(dir / "0_Transformer" / "config.json"))
    dir = dir / "0_Transformer";
  auto impl = std::make_unique<ClassifierImpl>();
  ClassifierImpl& m = *impl;
  m.options = options;
  if (m.options.batch_size == 0) m.options.batch_size = 1;
  const std::string config_path = (dir / "config.json").string();
  m.config = nn::TransformerConfig::load(dir / "config.json");
  const auto& c = m.config;

  const Runtime runtime = setup_runtime(options);
  at::Device device = nn::to_torch(runtime.device, options.device);
  at::ScalarType dtype = nn::to_torch(runtime.dtype);
  at::TensorOptions topt = at::TensorOptions().dtype(dtype).device(device);

  m.store = nn::open_model_weights(dir);
  const std::string prefix = nn::find_encoder_prefix(*m.store);
  // The head sits beside the encoder: "bert." -> "", "model.roberta." -> "model.".
  std::string root;
  if (!prefix.empty()) {
    size_t dot = prefix.rfind('.', prefix.size() - 2);
    root = dot == std::string::npos ? "" : prefix.substr(0, dot + 1);
  }
  const auto weights_file = model::find_weight_file(dir);
  const std::string weights_name = weights_file ? weights_file->string() : "";
  const std::string where = weights_name.empty() ? dir.string() : weights_name;
  const int64_t H = c.hidden_size;
  const cpu::HeadNames& head = c.arch->head;
  m.head = head.kind;
  m.info.head = head.description;
  const std::string first_name = head.first ? head.first : "", final_name = head.final;
  const std::string final_w = root + final_name + ".weight";
  if (!m.store->contains(final_w) || (!first_name.empty() && !m.store->contains(root + first_name + ".weight"))) {
    std::string arch = c.architectures.empty() ? c.model_type : c.architectures[0];
    throw Error(where + ": no sequence-classification head (" +
                (first_name.empty() ? "" : root + first_name + ".weight, ") + final_w +
                " missing; architecture " + arch +
                "): a *ForSequenceClassification / cross-encoder checkpoint is needed, not a plain "
                "encoder or embedding model");
  }
  const std::vector<int64_t> fshape = m.store->shape(final_w);
  if (fshape.size() != 2 || fshape[0] <= 0 || fshape[1] != H)
    throw Error(where + ": " + final_w + " has an unexpected shape (expected [num_labels, " +
                std::to_string(H) + "])");
  const int64_t num_labels = fshape[0];

  // Labels from config.json id2label (keys are the ids as strings).
  m.labels.assign(static_cast<size_t>(num_labels), "");
  if (c.raw.contains("id2label") && c.raw["id2label"].is_object() && !c.raw["id2label"].empty()) {
    const auto& id2label = c.raw["id2label"];
    if (static_cast<int64_t>(id2label.size()) != num_labels)
      throw Error(config_path + ": id2label has " + std::to_string(id2label.size()) +
                  " labels but the classifier (" + final_w + ") has " +
                  std::to_string(num_labels) + " outputs");
    for (auto it = id2label.begin(); it != id2label.end(); ++it) {
      size_t id = 0, used = 0;
      try {
        id = std::stoul(it.key(), &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != it.key().size() || id >= m.labels.size() || !m.labels[id].empty() ||
          !it.value().is_string() || it.value().get<std::string>().empty())
        throw Error(config_path + ": id2label entry '" + it.key() +
                    "' is not a label for an id in 0.." + std::to_string(num_labels - 1));
      m.labels[id] = it.value().get<std::string>();
    }
  } else {
    for (int64_t i = 0; i < num_labels; ++i) m.labels[i] = "LABEL_" + std::to_string(i);
  }

  m.encoder = std::make_unique<nn::TransformerEncoder>(c, *m.store, prefix, topt, where, options.quantize == "int8");
  if (m.head == Head::PoolerLinear && !m.encoder->has_pooler())
    throw Error(where + ": BERT classification head needs the pooler (" + prefix +
                "pooler.dense.weight), which is missing");
  {
    nn::WeightLoader w(*m.store, root, topt, where);
    if (!first_name.empty()) {
      m.w1 = w.take(first_name + ".weight", {H, H});
      m.b1 = w.take(first_name + ".bias", {H});
    }
    m.w2 = w.take(final_name + ".weight", {num_labels, H});
    m.b2 = w.take(final_name + ".bias", {num_labels});
    w.finish();
  }
  m.tokenizer = load_tokenizer(dir, options.tokenizer);
  // BERT and ELECTRA take token type ids; the RoBERTa tokenizers return none (zeros), DistilBERT
  // has no type embeddings.
  m.use_type_ids = head.token_type_ids && c.type_vocab_size > 1;

  const size_t model_limit = static_cast<size_t>(c.max_input_length());
  if (options.max_length > 0) {
    if (options.max_length > model_limit)
      throw Error("max length " + std::to_string(options.max_length) + " exceeds the model's " +
                  std::to_string(model_limit) + " positions (" + config_path + ")");
    m.max_length = options.max_length;
  } else {
    size_t ml = 512;
    const nlohmann::json tc =
        model::read_json_if_exists(dir / "tokenizer_config.json").value_or(nlohmann::json());
    if (tc.is_object() && tc.contains("model_max_length") && tc["model_max_length"].is_number()) {
      double v = tc["model_max_length"].get<double>();
      if (v > 0 && v < 1e6) ml = static_cast<size_t>(v);
    }
    m.max_length = std::min(ml, model_limit);
  }
  m.ce_activation = activation_name(c.raw);

  m.info.model_type = c.model_type;
  m.info.architecture = c.architectures.empty() ? "" : c.architectures[0];
  m.info.hidden_size = static_cast<size_t>(H);
  m.info.layers = static_cast<size_t>(c.num_layers);
  m.info.num_labels = static_cast<size_t>(num_labels);
  m.info.max_length = m.max_length;
  m.info.weights = weights_name;
  m.info.dtype = options.dtype;
  m.info.device = device.str();
  return std::make_unique<LoadedClassifier>(std::move(impl));
}

Matrix LoadedClassifier::logits(const std::vector<std::pair<std::string, std::string>>& pairs,
                                  Truncation truncation, ClassifyStats* stats) {
  std::vector<Encoding> encs;
  encs.reserve(pairs.size());
  for (const auto& [a, b] : pairs) {
    Encoding e = impl_->tokenizer->encode_pair(a, b, 0, truncation);
    if (e.size() > impl_->max_length) {
      e = impl_->tokenizer->encode_pair(a, b, impl_->max_length, truncation);
      if (stats) ++stats->truncated;
    }
    encs.push_back(std::move(e));
  }
  return impl_->run(encs, stats);
}

Matrix LoadedClassifier::logits(const std::vector<std::string>& texts, ClassifyStats* stats) {
  std::vector<Encoding> encs;
  encs.reserve(texts.size());
  for (const auto& t : texts) {
    Encoding e = impl_->tokenizer->encode(t, true, 0);
    if (e.size() > impl_->max_length) {
      e = impl_->tokenizer->encode(t, true, impl_->max_length);
      if (stats) ++stats->truncated;
    }
    encs.push_back(std::move(e));
  }
  return impl_->run(encs, stats);
}

}  // namespace sbert
