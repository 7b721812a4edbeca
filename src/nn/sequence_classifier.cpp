// Sequence-classification heads on top of TransformerEncoder, as the Hugging Face
// *ForSequenceClassification models compute them (dropout is the identity at inference):
//   BERT:       classifier(pooler(h)) where pooler = tanh(dense(h[CLS]))
//   RoBERTa:    out_proj(tanh(dense(h[<s>])))            (classifier.dense / classifier.out_proj)
//   ELECTRA:    out_proj(gelu(dense(h[CLS])))             (same names as RoBERTa)
//   DistilBERT: classifier(relu(pre_classifier(h[CLS])))
// The tensor names come from the architecture tables (nn/arch_tables.cpp).
#include <algorithm>

#include <ATen/Parallel.h>

#include "cpu/classifier.h"
#include "cpu/runtime.h"
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

}  // namespace

// libtorch's runner of the head (any device and dtype); the folder's setup, tokenization and
// truncation are cpu/classifier.h's.
struct ClassifierImpl final : cpu::LogitsRunner {
  nn::TransformerConfig config;
  std::unique_ptr<nn::WeightStore> store;
  std::unique_ptr<nn::TransformerEncoder> encoder;
  Head head = Head::PoolerLinear;
  at::Tensor w1, b1, w2, b2;  // head: first layer (dense / pre_classifier), final classifier
  size_t num_labels = 0;
  ClassifierOptions options;
  bool use_type_ids = false;
  int64_t pad = 0;

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

  Matrix run(const std::vector<Encoding>& encs, ClassifyStats* stats) const override {
    Matrix out(encs.size(), num_labels);
    if (encs.empty()) return out;
    std::vector<size_t> lengths(encs.size());
    for (size_t i = 0; i < encs.size(); ++i) lengths[i] = encs[i].ids.size();
    cpu::LengthSortedBatcher batcher(lengths, options.batch_size, options.max_batch_tokens,
                                    static_cast<size_t>(config.max_input_length()));
    c10::InferenceMode guard;
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
      const size_t C = num_labels;
      for (int64_t b = 0; b < B; ++b) std::copy(p + b * C, p + (b + 1) * C, out.row(batch[b]));
      if (stats) ++stats->batches;
    }
    if (stats) stats->pairs += encs.size();
    return out;
  }
};

std::unique_ptr<SequenceClassifier> SequenceClassifier::load(const fs::path& model_dir,
                                                             const ClassifierOptions& options) {
  if (cpu::serves(options)) return cpu::load_classifier(model_dir, options);
  const fs::path dir = cpu::classifier_dir(model_dir);
  auto impl = std::make_unique<ClassifierImpl>();
  ClassifierImpl& m = *impl;
  m.options = options;
  if (m.options.batch_size == 0) m.options.batch_size = 1;
  const Runtime runtime = setup_runtime(options);
  at::Device device = nn::to_torch(runtime.device, options.device);
  at::ScalarType dtype = nn::to_torch(runtime.dtype);
  at::TensorOptions topt = at::TensorOptions().dtype(dtype).device(device);
  m.store = nn::open_model_weights(dir);
  cpu::ClassifierSetup setup = cpu::read_classifier_setup(
      model_dir, options, m.store->names(), [&](const std::string& n) { return m.store->shape(n); }, device.str());
  m.config = setup.config;
  const auto& c = m.config;
  const int64_t H = c.hidden_size;
  const cpu::HeadNames& head = c.arch->head;
  m.head = head.kind;
  m.num_labels = setup.labels.size();
  m.use_type_ids = setup.use_type_ids;
  m.encoder = std::make_unique<nn::TransformerEncoder>(c, *m.store, setup.prefix, topt, setup.where,
                                                       options.quantize == "int8");
  if (m.head == Head::PoolerLinear && !m.encoder->has_pooler())
    throw Error(setup.where + ": BERT classification head needs the pooler (" + setup.prefix +
                "pooler.dense.weight), which is missing");
  {
    nn::WeightLoader w(*m.store, setup.root, topt, setup.where);
    if (head.first) {
      m.w1 = w.take(std::string(head.first) + ".weight", {H, H});
      m.b1 = w.take(std::string(head.first) + ".bias", {H});
    }
    m.w2 = w.take(std::string(head.final) + ".weight", {setup.num_labels, H});
    m.b2 = w.take(std::string(head.final) + ".bias", {setup.num_labels});
    w.finish();
  }
  auto tokenizer = load_tokenizer(setup.dir, options.tokenizer);
  m.pad = tokenizer->pad_id();
  return cpu::make_sequence_classifier(std::move(setup), std::move(impl), std::move(tokenizer));
}

}  // namespace sbert
