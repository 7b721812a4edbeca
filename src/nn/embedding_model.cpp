#include "nn/embedding_model.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <sstream>

#include "cpu/embedding_model.h"
#include "cpu/length_sorted_batcher.h"
#include "sbert/error.h"

namespace sbert::nn {
namespace fs = std::filesystem;
namespace {

std::string weights_name(const fs::path& dir) {
  auto f = model::find_weight_file(dir);
  return f ? f->string() : dir.string();
}

}  // namespace

std::unique_ptr<EmbeddingModel> EmbeddingModel::load(const fs::path& dir,
                                                     const EncoderOptions& options) {
  std::unique_ptr<EmbeddingModel> m(new EmbeddingModel());
  const Runtime runtime = setup_runtime(options);
  m->device_ = to_torch(runtime.device, options.device);
  m->dtype_ = to_torch(runtime.dtype);
  m->layout_ = read_model_layout(dir, m->device_);
  const ModelLayout& layout = m->layout_;
  TransformerConfig config = TransformerConfig::load(layout.transformer_dir / "config.json");

  auto store = open_model_weights(layout.transformer_dir);
  const std::string where = weights_name(layout.transformer_dir);
  const std::string prefix = find_encoder_prefix(*store, *config.arch);
  m->encoder_ = std::make_unique<TransformerEncoder>(
      config, *store, prefix, at::TensorOptions().dtype(m->dtype_).device(m->device_), where,
      options.quantize == "int8");

  // Pooling, modules, dimension and limits: the same plan as the CPU runtime's.
  m->plan_ = cpu::plan_embedding(layout, m->encoder_->config(), options, m->encoder_->has_pooler(), where);
  m->info_ = cpu::embedding_info(layout, m->encoder_->config(), m->plan_, where, options, m->device_.str());
  return m;
}

void EmbeddingModel::check_inputs(const std::vector<const Encoding*>& inputs) const {
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Encoding& e = *inputs[i];
    if (e.ids.empty()) throw Error("input " + std::to_string(i) + " has no tokens");
    if (e.ids.size() > plan_.max_length)
      throw Error("input " + std::to_string(i) + " has " + std::to_string(e.ids.size()) +
                  " tokens, more than max_length " + std::to_string(plan_.max_length));
    const int64_t vocab = encoder_->config().vocab_size;
    for (int64_t id : e.ids)
      if (id < 0 || id >= vocab)
        throw Error("input " + std::to_string(i) + ": token id " + std::to_string(id) +
                    " is outside the model's vocabulary of " + std::to_string(vocab) +
                    " (tokenizer and model do not match?)");
  }
}

EmbeddingModel::Batch EmbeddingModel::make_batch(const std::vector<const Encoding*>& inputs,
                                                 const std::vector<size_t>& idx, size_t padded) const {
  Batch b;
  size_t L = padded;
  for (size_t i : idx) L = std::max(L, inputs[i]->ids.size());
  const int64_t B = static_cast<int64_t>(idx.size());
  auto opts = at::TensorOptions().dtype(at::kLong);
  b.ids = at::full({B, static_cast<int64_t>(L)}, encoder_->config().pad_token_id, opts);
  b.mask = at::zeros({B, static_cast<int64_t>(L)}, opts);
  b.types = at::zeros({B, static_cast<int64_t>(L)}, opts);
  int64_t* ids = b.ids.data_ptr<int64_t>();
  int64_t* mask = b.mask.data_ptr<int64_t>();
  int64_t* types = b.types.data_ptr<int64_t>();
  for (int64_t r = 0; r < B; ++r) {
    const Encoding& e = *inputs[idx[static_cast<size_t>(r)]];
    const size_t n = e.ids.size();
    std::memcpy(ids + r * L, e.ids.data(), n * sizeof(int64_t));
    std::fill(mask + r * L, mask + r * L + n, 1);
    if (e.type_ids.size() == n) std::memcpy(types + r * L, e.type_ids.data(), n * sizeof(int64_t));
    b.lengths.push_back(n);
  }
  return b;
}

at::Tensor EmbeddingModel::embed_batch(const Batch& batch, const at::Tensor& pool_mask,
                                       EncodeStats* stats) const {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  EncoderOutput out = encoder_->forward(batch.ids, batch.mask, batch.types, plan_.all_hidden);
  const auto t1 = Clock::now();
  at::Tensor hidden = out.last_hidden.to(at::kFloat);
  at::Tensor mask = pool_mask.to(hidden.device());
  std::vector<at::Tensor> parts;
  for (PoolingMode mode : plan_.modes) {
    if (mode == PoolingMode::Pooler) {
      parts.push_back(encoder_->pooler(out.last_hidden).to(at::kFloat));
    } else if (mode == PoolingMode::Last2Mean) {
      const auto& hs = out.hidden_states;
      parts.push_back(pool(hs[hs.size() - 2].to(at::kFloat), mask, PoolingMode::Mean));
    } else {
      parts.push_back(pool(hidden, mask, mode));
    }
  }
  at::Tensor x = parts.size() == 1 ? parts[0] : at::cat(parts, 1);
  for (const cpu::EmbeddingPlan::Step& p : plan_.steps) {
    if (!p.normalize) x = layout_.dense_modules[p.dense_index].apply(x);
    else x = x / x.norm(2, {1}, true).clamp_min(1e-12);
  }
  if (plan_.truncate_dim > 0) {
    x = x.narrow(1, 0, static_cast<int64_t>(plan_.truncate_dim));
    if (plan_.normalize) x = x / x.norm(2, {1}, true).clamp_min(1e-12);
  }
  x = x.to(at::kCPU).contiguous();
  if (stats) {
    stats->forward_seconds += std::chrono::duration<double>(t1 - t0).count();
    stats->pooling_seconds += std::chrono::duration<double>(Clock::now() - t1).count();
  }
  return x;
}

Matrix EmbeddingModel::embed(const std::vector<const Encoding*>& inputs, EncodeStats* stats,
                             const std::vector<size_t>* pool_skip) const {
  check_inputs(inputs);
  c10::InferenceMode guard;
  Matrix result(inputs.size(), plan_.dimension);
  std::vector<size_t> lengths;
  for (const Encoding* e : inputs) lengths.push_back(e->ids.size());
  cpu::LengthSortedBatcher batcher(lengths, plan_.batch_size, plan_.max_batch_tokens, plan_.max_length);
  for (size_t bi = 0; bi < batcher.batches().size(); ++bi) {
    const auto& idx = batcher.batches()[bi];
    Batch batch = make_batch(inputs, idx, batcher.padded_lengths()[bi]);
    at::Tensor pool_mask = batch.mask;
    if (pool_skip) {
      pool_mask = batch.mask.clone();
      for (size_t r = 0; r < idx.size(); ++r) {
        const int64_t skip = static_cast<int64_t>(std::min((*pool_skip)[idx[r]], batch.lengths[r]));
        if (skip > 0) pool_mask[static_cast<int64_t>(r)].narrow(0, 0, skip).zero_();
      }
    }
    at::Tensor emb = embed_batch(batch, pool_mask, stats);
    const float* src = emb.data_ptr<float>();
    for (size_t r = 0; r < idx.size(); ++r)
      std::memcpy(result.row(idx[r]), src + r * plan_.dimension, plan_.dimension * sizeof(float));
    if (stats) {
      for (size_t n : batch.lengths) stats->tokens += n;
    }
  }
  if (stats) stats->texts += inputs.size();
  return result;
}

std::vector<Matrix> EmbeddingModel::token_states(const std::vector<const Encoding*>& inputs,
                                                 int layer, EncodeStats* stats) const {
  check_inputs(inputs);
  const int n_states = static_cast<int>(encoder_->config().num_layers) + 1;
  const int index = layer < 0 ? n_states + layer : layer;
  if (index < 0 || index >= n_states)
    throw Error("layer " + std::to_string(layer) + " out of range (the model has " +
                std::to_string(n_states - 1) + " layers)");
  c10::InferenceMode guard;
  std::vector<Matrix> result(inputs.size());
  std::vector<size_t> lengths;
  for (const Encoding* e : inputs) lengths.push_back(e->ids.size());
  cpu::LengthSortedBatcher batcher(lengths, plan_.batch_size, plan_.max_batch_tokens, plan_.max_length);
  for (size_t bi = 0; bi < batcher.batches().size(); ++bi) {
    const auto& idx = batcher.batches()[bi];
    Batch batch = make_batch(inputs, idx, batcher.padded_lengths()[bi]);
    EncoderOutput out = encoder_->forward(batch.ids, batch.mask, batch.types, index != n_states - 1);
    at::Tensor h = (index == n_states - 1 ? out.last_hidden : out.hidden_states[static_cast<size_t>(index)])
                       .to(at::kCPU, at::kFloat)
                       .contiguous();
    const int64_t L = h.size(1), H = h.size(2);
    const float* src = h.data_ptr<float>();
    for (size_t r = 0; r < idx.size(); ++r) {
      Matrix m(batch.lengths[r], static_cast<size_t>(H));
      std::memcpy(m.data.data(), src + static_cast<int64_t>(r) * L * H, m.data.size() * sizeof(float));
      result[idx[r]] = std::move(m);
      if (stats) stats->tokens += batch.lengths[r];
    }
  }
  if (stats) stats->texts += inputs.size();
  return result;
}

}  // namespace sbert::nn
