#include "cpu/embedding_model.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include "cpu/cpu_pool.h"
#include "cpu/length_sorted_batcher.h"
#include "sbert/error.h"

namespace sbert::cpu {
namespace fs = std::filesystem;

Activation dense_activation(const std::string& name, const std::string& where) {
  if (name.empty() || name == "identity") return Activation::Identity;
  if (name == "tanh") return Activation::Tanh;
  if (name == "relu") return Activation::Relu;
  if (name == "sigmoid") return Activation::Sigmoid;
  if (name == "gelu") return Activation::GeluErf;
  throw Error(where + ": unsupported Dense activation '" + name + "'");
}

EmbeddingPlan plan_embedding(const model::ModelFolder& folder, const ModelConfig& cfg, const EncoderOptions& options,
                             bool has_pooler, const std::string& where) {
  EmbeddingPlan p;
  if (!options.pooling.empty()) {
    p.modes = parse_pooling_modes(options.pooling);
  } else {
    for (const std::string& m : folder.pooling.modes) {
      try {
        p.modes.push_back(parse_pooling_mode(m));
      } catch (const Error& e) {
        throw Error(folder.pooling.file.string() + ": " + e.what());
      }
    }
  }
  for (PoolingMode mode : p.modes) {
    if (mode == PoolingMode::Pooler && !has_pooler)
      throw Error(where + ": pooling 'pooler' needs pooler weights (pooler.dense.*), which this checkpoint does not have");
    if (mode == PoolingMode::Last2Mean) p.all_hidden = true;
  }
  int64_t dim = cfg.hidden_size * static_cast<int64_t>(p.modes.size());
  for (const model::ModuleEntry* m : folder.post_modules()) {
    if (m->kind != model::ModuleKind::Dense) {
      if (options.normalize.value_or(true)) p.steps.push_back({true, 0});
      continue;
    }
    const model::DenseSpec& d = folder.dense[m->dense_index];
    if (d.in_features != dim)
      throw Error((d.dir / "config.json").string() + ": in_features " + std::to_string(d.in_features) +
                  " does not match the pooled dimension " + std::to_string(dim));
    dim = d.out_features;
    p.steps.push_back({false, m->dense_index});
  }
  for (const auto& s : p.steps) p.normalize = p.normalize || s.normalize;
  if (options.normalize.value_or(false) && !p.normalize) {
    p.steps.push_back({true, 0});
    p.normalize = true;
  }
  if (options.truncate_dim > 0) {
    if (options.truncate_dim > static_cast<size_t>(dim))
      throw Error("truncate_dim " + std::to_string(options.truncate_dim) + " exceeds the embedding dimension " +
                  std::to_string(dim));
    p.truncate_dim = options.truncate_dim;
    dim = static_cast<int64_t>(options.truncate_dim);
  }
  p.dimension = static_cast<size_t>(dim);
  const size_t limit = static_cast<size_t>(cfg.max_input_length());
  if (options.max_length > 0) {
    if (options.max_length > limit)
      throw Error("max_length " + std::to_string(options.max_length) + " exceeds the model's " +
                  std::to_string(limit) + " positions (" + (folder.transformer_dir / "config.json").string() + ")");
    p.max_length = options.max_length;
  } else {
    p.max_length = std::min(folder.max_seq_length > 0 ? folder.max_seq_length : size_t(512), limit);
  }
  p.batch_size = std::max<size_t>(options.batch_size, 1);
  p.max_batch_tokens = options.max_batch_tokens > 0 ? options.max_batch_tokens : 16384;
  return p;
}

ModelInfo embedding_info(const model::ModelFolder& folder, const ModelConfig& cfg, const EmbeddingPlan& plan,
                         const std::string& weights, const EncoderOptions& options, const std::string& device) {
  ModelInfo info;
  info.model_type = cfg.model_type;
  info.architecture = cfg.architectures.empty() ? "" : cfg.architectures[0];
  info.hidden_size = static_cast<size_t>(cfg.hidden_size);
  info.layers = static_cast<size_t>(cfg.num_layers);
  info.heads = static_cast<size_t>(cfg.num_heads);
  info.vocab_size = static_cast<size_t>(cfg.vocab_size);
  info.max_length = plan.max_length;
  for (size_t i = 0; i < plan.modes.size(); ++i) info.pooling += (i ? "+" : "") + pooling_mode_name(plan.modes[i]);
  info.dense_layers = folder.dense.size();
  info.prompts = folder.prompts;
  info.normalize = plan.normalize;
  info.dimension = plan.dimension;
  info.weights = weights;
  info.dtype = options.dtype;
  info.device = device;
  info.sentence_transformers = folder.sentence_transformers;
  return info;
}

std::unique_ptr<EmbeddingModel> EmbeddingModel::load(const fs::path& dir, const EncoderOptions& options) {
  std::unique_ptr<EmbeddingModel> m(new EmbeddingModel());
  m->folder_ = model::read_model_folder(dir);
  const model::ModelFolder& folder = m->folder_;
  ModelConfig config = ModelConfig::load(folder.transformer_dir / "config.json");
  const auto file = model::find_weight_file(folder.transformer_dir);
  const std::string where = file ? file->string() : folder.transformer_dir.string();
  std::shared_ptr<const TensorFile> tensors = open_model_tensors(folder.transformer_dir);
  const std::string anchor = std::string(config.arch->tensors.word_embeddings) + ".weight";
  const std::string prefix = find_prefix(tensors->names(), anchor);
  m->encoder_ = std::make_unique<Encoder>(config, tensors, prefix, where, options.quantize == "int8");
  m->plan_ = plan_embedding(folder, config, options, m->encoder_->has_pooler(), where);
  for (const model::DenseSpec& d : folder.dense) {
    std::shared_ptr<const TensorFile> store = open_model_tensors(d.dir);
    m->files_.push_back(store);
    const std::string dwhere = store->contains("linear.weight") ? store->source("linear.weight") : d.dir.string();
    ParameterReader r(*store, "", dwhere);
    Dense dense;
    dense.activation = dense_activation(d.activation, (d.dir / "config.json").string());
    dense.linear = read_linear(r, "linear", d.out_features, d.in_features, d.bias, false);
    r.finish();
    m->dense_.push_back(std::move(dense));
  }
  m->info_ = embedding_info(folder, config, m->plan_, where, options, "cpu");
  return m;
}

void EmbeddingModel::check_inputs(const std::vector<const Encoding*>& inputs) const {
  const int64_t vocab = encoder_->config().vocab_size;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Encoding& e = *inputs[i];
    if (e.ids.empty()) throw Error("input " + std::to_string(i) + " has no tokens");
    if (e.ids.size() > plan_.max_length)
      throw Error("input " + std::to_string(i) + " has " + std::to_string(e.ids.size()) +
                  " tokens, more than max_length " + std::to_string(plan_.max_length));
    for (int64_t id : e.ids)
      if (id < 0 || id >= vocab)
        throw Error("input " + std::to_string(i) + ": token id " + std::to_string(id) +
                    " is outside the model's vocabulary of " + std::to_string(vocab) +
                    " (tokenizer and model do not match?)");
  }
}

TokenBatch EmbeddingModel::batch_of(const std::vector<const Encoding*>& inputs, const std::vector<size_t>& idx) const {
  TokenBatch b;
  b.offsets.push_back(0);
  for (size_t i : idx) {
    const Encoding& e = *inputs[i];
    b.ids.insert(b.ids.end(), e.ids.begin(), e.ids.end());
    if (e.type_ids.size() == e.ids.size()) b.types.insert(b.types.end(), e.type_ids.begin(), e.type_ids.end());
    else b.types.insert(b.types.end(), e.ids.size(), 0);
    b.offsets.push_back(static_cast<int64_t>(b.ids.size()));
  }
  return b;
}

Matrix EmbeddingModel::embed(const std::vector<const Encoding*>& inputs, EncodeStats* stats,
                             const std::vector<size_t>* pool_skip) const {
  using Clock = std::chrono::steady_clock;
  check_inputs(inputs);
  Matrix result(inputs.size(), plan_.dimension);
  std::vector<size_t> lengths;
  for (const Encoding* e : inputs) lengths.push_back(e->ids.size());
  LengthSortedBatcher batcher(lengths, plan_.batch_size, plan_.max_batch_tokens, plan_.max_length);
  const int64_t H = encoder_->config().hidden_size;
  for (const auto& idx : batcher.batches()) {
    const TokenBatch batch = batch_of(inputs, idx);
    const int64_t B = batch.sequences();
    std::vector<size_t> skip;
    if (pool_skip)
      for (size_t i : idx) skip.push_back((*pool_skip)[i]);
    const auto t0 = Clock::now();
    std::vector<std::vector<float>> all;
    const std::vector<float> hidden = encoder_->forward(batch, plan_.all_hidden ? &all : nullptr);
    const auto t1 = Clock::now();
    // Pooled [B, width]: the modes side by side.
    int64_t width = H * static_cast<int64_t>(plan_.modes.size());
    std::vector<float> x(static_cast<size_t>(B * width));
    for (size_t k = 0; k < plan_.modes.size(); ++k) {
      const PoolingMode mode = plan_.modes[k];
      float* out = x.data() + static_cast<int64_t>(k) * H;
      if (mode == PoolingMode::Pooler) {
        std::vector<float> first(static_cast<size_t>(B * H));
        pool_rows(hidden.data(), batch.offsets, H, PoolingMode::Cls, nullptr, first.data(), H);
        const std::vector<float> pooled = encoder_->pooler(first.data(), B);
        for (int64_t b = 0; b < B; ++b) std::copy(&pooled[b * H], &pooled[b * H] + H, out + b * width);
      } else if (mode == PoolingMode::Last2Mean) {
        pool_rows(all[all.size() - 2].data(), batch.offsets, H, PoolingMode::Mean, pool_skip ? &skip : nullptr, out,
                  width);
      } else {
        pool_rows(hidden.data(), batch.offsets, H, mode, pool_skip ? &skip : nullptr, out, width);
      }
    }
    auto normalize_rows = [&](std::vector<float>& v, int64_t w) {
      for (int64_t b = 0; b < B; ++b) {
        float* row = v.data() + b * w;
        double sq = 0;
        for (int64_t j = 0; j < w; ++j) sq += static_cast<double>(row[j]) * row[j];
        const float norm = std::max(static_cast<float>(std::sqrt(sq)), 1e-12f);
        for (int64_t j = 0; j < w; ++j) row[j] /= norm;
      }
    };
    for (const EmbeddingPlan::Step& step : plan_.steps) {
      if (step.normalize) {
        normalize_rows(x, width);
        continue;
      }
      const Dense& d = dense_[step.dense_index];
      std::vector<float> y(static_cast<size_t>(B * d.linear.outputs()));
      const float* bias = d.linear.bias();
      const Activation act = d.activation;
      const GemmEpilogue epi{[bias, act](float* o, int64_t ld, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
                               bias_activation(o, ld, bias, act, c0, c1, r0, r1);
                             },
                             false};
      d.linear.forward(x.data(), B, y.data(), &epi);
      x = std::move(y);
      width = d.linear.outputs();
    }
    const int64_t dim = static_cast<int64_t>(plan_.dimension);
    if (plan_.truncate_dim > 0) {
      std::vector<float> t(static_cast<size_t>(B * dim));
      for (int64_t b = 0; b < B; ++b) std::copy(&x[b * width], &x[b * width] + dim, &t[b * dim]);
      x = std::move(t);
      width = dim;
      if (plan_.normalize) normalize_rows(x, width);
    }
    for (size_t r = 0; r < idx.size(); ++r)
      std::memcpy(result.row(idx[r]), x.data() + static_cast<int64_t>(r) * dim, static_cast<size_t>(dim) * sizeof(float));
    if (stats) {
      stats->forward_seconds += std::chrono::duration<double>(t1 - t0).count();
      stats->pooling_seconds += std::chrono::duration<double>(Clock::now() - t1).count();
      stats->tokens += static_cast<size_t>(batch.tokens());
    }
  }
  if (stats) stats->texts += inputs.size();
  return result;
}

std::vector<Matrix> EmbeddingModel::token_states(const std::vector<const Encoding*>& inputs, int layer,
                                                 EncodeStats* stats) const {
  check_inputs(inputs);
  const int n_states = static_cast<int>(encoder_->config().num_layers) + 1;
  const int index = layer < 0 ? n_states + layer : layer;
  if (index < 0 || index >= n_states)
    throw Error("layer " + std::to_string(layer) + " out of range (the model has " + std::to_string(n_states - 1) +
                " layers)");
  std::vector<Matrix> result(inputs.size());
  std::vector<size_t> lengths;
  for (const Encoding* e : inputs) lengths.push_back(e->ids.size());
  LengthSortedBatcher batcher(lengths, plan_.batch_size, plan_.max_batch_tokens, plan_.max_length);
  const size_t H = static_cast<size_t>(encoder_->config().hidden_size);
  for (const auto& idx : batcher.batches()) {
    const TokenBatch batch = batch_of(inputs, idx);
    std::vector<std::vector<float>> all;
    const bool last = index == n_states - 1;
    const std::vector<float> h = encoder_->forward(batch, last ? nullptr : &all);
    const std::vector<float>& states = last ? h : all[static_cast<size_t>(index)];
    for (size_t r = 0; r < idx.size(); ++r) {
      const size_t n = inputs[idx[r]]->ids.size();
      Matrix m(n, H);
      std::memcpy(m.data.data(), states.data() + batch.offsets[r] * static_cast<int64_t>(H), n * H * sizeof(float));
      result[idx[r]] = std::move(m);
      if (stats) stats->tokens += n;
    }
  }
  if (stats) stats->texts += inputs.size();
  return result;
}

}  // namespace sbert::cpu
