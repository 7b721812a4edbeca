// The encoder forward of the CPU runtime, following Hugging Face's eager computation for float32
// parity (scores * 1/sqrt(d), softmax over the sequence's own tokens, post-LayerNorm blocks) on
// packed token rows.
#include "cpu/encoder.h"

#include <cmath>
#include <algorithm>
#include <cstring>
#include <mutex>

#include "cpu/cpu_kernels.h"
#include "cpu/cpu_pool.h"
#include "cpu/relative_position.h"
#include "sbert/error.h"

namespace sbert::cpu {

struct Linear::State {
  std::vector<Floats> keep;  // the weight's storage (for `rows`)
  RowMajorWeight rows;
  std::shared_ptr<const QuantizedLinear> i8;
  std::function<void()> release;
  mutable std::once_flag packing;
  mutable std::shared_ptr<const PackedWeight> packed;
};

Linear::Linear(std::vector<Floats> parts, int64_t in, std::vector<float> bias, bool int8,
               std::function<void()> release)
    : in_(in), defined_(true), state_(std::make_shared<State>()), bias_(std::move(bias)) {
  std::vector<std::pair<const float*, int64_t>> blocks;
  for (const Floats& f : parts) {
    blocks.emplace_back(f.data, static_cast<int64_t>(f.size) / in);
    out_ += blocks.back().second;
  }
  State& s = *state_;
  if (int8) {
    if (blocks.size() == 1) {
      s.i8 = std::make_shared<const QuantizedLinear>(blocks[0].first, out_, in);
    } else {
      std::vector<float> stacked;
      stacked.reserve(static_cast<size_t>(out_ * in));
      for (const auto& [w, rows] : blocks) stacked.insert(stacked.end(), w, w + rows * in);
      s.i8 = std::make_shared<const QuantizedLinear>(stacked.data(), out_, in);
    }
    if (release) release();
    return;
  }
  s.rows = RowMajorWeight(std::move(blocks), in);
  s.keep = std::move(parts);
  s.release = std::move(release);
}

void Linear::forward(const float* x, int64_t M, float* out, const GemmEpilogue* epilogue) const {
  const float* b = bias();
  const GemmEpilogue add_bias_epi{[b](float* o, int64_t ld, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
                                    add_bias(o, ld, b, c0, c1, r0, r1);
                                  },
                                  false};
  if (epilogue == nullptr && b != nullptr) epilogue = &add_bias_epi;
  const State& s = *state_;
  if (s.i8) {
    s.i8->forward(x, M, out);
    if (epilogue != nullptr) {
      const int64_t n = out_;
      cpu_pool().parallel_for(M, 8, [&](int64_t r0, int64_t r1) { epilogue->apply(out, n, r0, r1, 0, n); });
    }
    return;
  }
  if (M >= kPackRows) {
    std::call_once(s.packing, [&] {
      s.packed = std::make_shared<const PackedWeight>(s.rows.parts(), in_);
      if (s.release) s.release();
    });
  }
  if (s.packed) return gemm(x, M, *s.packed, out, epilogue);
  gemm(x, M, s.rows, out, epilogue);
}

Linear read_linear(ParameterReader& r, const std::string& name, int64_t out, int64_t in, bool bias, bool int8) {
  Floats w = r.take(name + ".weight", {out, in});
  Floats b;
  if (bias) b = r.take(name + ".bias", {out});
  if (w.empty() || (bias && b.empty())) return Linear();  // reported by finish()
  std::vector<float> bv(b.begin(), b.end());
  std::vector<Floats> parts;
  parts.push_back(std::move(w));
  return Linear(std::move(parts), in, std::move(bv), int8, r.releaser({name + ".weight"}));
}

namespace {

constexpr int64_t kMlpBlockRows = 2048;

}  // namespace

void Encoder::check(const TokenBatch& batch) const {
  const ModelConfig& c = config_;
  if (batch.offsets.empty() || batch.offsets.front() != 0 || batch.offsets.back() != batch.tokens())
    throw Error("encoder: token offsets do not cover the batch");
  if (!batch.types.empty() && batch.types.size() != batch.ids.size())
    throw Error("encoder: one token type per token expected");
  for (int64_t s = 0; s < batch.sequences(); ++s) {
    const int64_t n = batch.offsets[s + 1] - batch.offsets[s];
    if (n < 0) throw Error("encoder: token offsets are not increasing");
    if (n > c.max_input_length())
      throw Error("input of " + std::to_string(n) + " tokens exceeds the model's " +
                  std::to_string(c.max_input_length()) + " positions");
  }
  // Ids outside the embedding tables are the tokenizer's and the model's disagreement: name it.
  for (int64_t id : batch.ids)
    if (id < 0 || id >= c.vocab_size)
      throw Error(where_ + ": token id " + std::to_string(id) + " is outside the model's vocabulary (vocab_size " +
                  std::to_string(c.vocab_size) + " in config.json); tokenizer and model do not match");
  if (!token_type_.empty())
    for (int64_t t : batch.types)
      if (t < 0 || t >= c.type_vocab_size)
        throw Error(where_ + ": token type id " + std::to_string(t) +
                    " is outside the model's type vocabulary (type_vocab_size " + std::to_string(c.type_vocab_size) +
                    " in config.json); the tokenizer's post-processor and the model do not match");
}

std::vector<float> Encoder::embed(const TokenBatch& batch) const {
  const ModelConfig& c = config_;
  const int64_t T = batch.tokens(), E = c.embedding_size;
  const bool after_padding = c.arch->positions == PositionKind::AbsoluteAfterPadding;
  // Position of each token: its index in the sequence, or RoBERTa's count of non-padding ids
  // from pad_token_id + 1 (a padding id inside the text gets pad_token_id itself).
  std::vector<int64_t> pos(static_cast<size_t>(T));
  for (int64_t s = 0; s < batch.sequences(); ++s) {
    int64_t count = 0;
    for (int64_t t = batch.offsets[s]; t < batch.offsets[s + 1]; ++t) {
      if (!after_padding) {
        pos[t] = t - batch.offsets[s];
      } else if (batch.ids[t] == c.pad_token_id) {
        pos[t] = c.pad_token_id;
      } else {
        pos[t] = ++count + c.pad_token_id;
      }
    }
  }
  std::vector<float> x(static_cast<size_t>(T * E));
  const float eps = static_cast<float>(c.layer_norm_eps);
  const float scale = static_cast<float>(c.embedding_scale);
  cpu_pool().parallel_for(T, 8, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      float* row = x.data() + t * E;
      const float* word = word_.data + batch.ids[t] * E;
      const float* type =
          token_type_.empty() ? nullptr : token_type_.data + (batch.types.empty() ? 0 : batch.types[t]) * E;
      const float* p = position_.empty() ? nullptr : position_.data + pos[t] * E;
      if (p && type) {
        for (int64_t e = 0; e < E; ++e) row[e] = (word[e] + type[e]) + p[e];
      } else if (p) {
        for (int64_t e = 0; e < E; ++e) row[e] = word[e] + p[e];
      } else if (type) {  // rotary positions with token types (NomicBERT, GTE)
        for (int64_t e = 0; e < E; ++e) row[e] = word[e] + type[e];
      } else if (scale == 1.0f) {  // rotary positions: the (scaled) word vector alone
        std::memcpy(row, word, sizeof(float) * static_cast<size_t>(E));
      } else {
        for (int64_t e = 0; e < E; ++e) row[e] = word[e] * scale;
      }
    }
    if (!emb_norm_w_.empty())
      add_layer_norm(x.data(), nullptr, nullptr, emb_norm_w_.data(), emb_norm_b_.data(), E, eps, t0, t1);
  });
  if (!project_.defined()) return x;
  std::vector<float> y(static_cast<size_t>(T * c.hidden_size));
  project_.forward(x.data(), T, y.data());
  return y;
}

std::vector<float> Encoder::forward(const TokenBatch& batch, std::vector<std::vector<float>>* all) const {
  check(batch);
  std::vector<float> x = embed(batch);
  if (all) {
    all->clear();
    all->push_back(x);
  }
  if (config_.arch->norm_placement == NormPlacement::Post) return forward_post_norm(batch, std::move(x), all);
  return forward_pre_norm(batch, std::move(x), all);
}

std::vector<int64_t> Encoder::positions(const TokenBatch& batch, int64_t& longest) {
  std::vector<int64_t> pos(static_cast<size_t>(batch.tokens()));
  longest = 0;
  for (int64_t s = 0; s < batch.sequences(); ++s) {
    longest = std::max(longest, batch.offsets[s + 1] - batch.offsets[s]);
    for (int64_t t = batch.offsets[s]; t < batch.offsets[s + 1]; ++t) pos[t] = t - batch.offsets[s];
  }
  return pos;
}

void Encoder::rotate(float* qkv, const std::vector<int64_t>& pos, const RotaryTable* table, const Layer& layer) const {
  const ModelConfig& c = config_;
  const int64_t d = c.head_dim(), nh = c.num_heads, nkv = c.num_kv_heads, W = (nh + 2 * nkv) * d;
  const int64_t rd = c.rotary_features(), half = rd / 2;
  const bool interleaved = c.rotary_interleaved;
  const float eps = static_cast<float>(c.layer_norm_eps);
  if (!table && layer.q_norm.empty() && layer.k_norm.empty()) return;
  cpu_pool().parallel_for(static_cast<int64_t>(pos.size()), 8, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      float* row = qkv + t * W;
      const float* cs = table ? table->cos.data() + pos[t] * half : nullptr;
      const float* sn = table ? table->sin.data() + pos[t] * half : nullptr;
      for (int64_t k = 0; k < nh + nkv; ++k) {  // query heads, then key heads
        float* v = row + k * d;
        const std::vector<float>& gain = k < nh ? layer.q_norm : layer.k_norm;
        if (!gain.empty()) rms_norm(v, v, d, gain.data(), nullptr, d, eps, 0, 1);
        if (!cs) continue;
        if (interleaved) rotate_interleaved(v, rd, cs, sn);
        else rotate_half(v, rd, cs, sn);
      }
    }
  });
}

void Encoder::norm_rows(const float* in, float* out, int64_t T, const std::vector<float>& gain,
                        const std::vector<float>& bias) const {
  const int64_t H = config_.hidden_size;
  const float eps = static_cast<float>(config_.layer_norm_eps);
  const bool layer_norm = config_.arch->norm == NormKind::LayerNorm;
  cpu_pool().parallel_for(T, 8, [&](int64_t r0, int64_t r1) {
    if (!layer_norm) return rms_norm(in, out, H, gain.data(), nullptr, H, eps, r0, r1);
    if (in != out) std::memcpy(out + r0 * H, in + r0 * H, sizeof(float) * static_cast<size_t>((r1 - r0) * H));
    add_layer_norm(out, nullptr, nullptr, gain.data(), bias.data(), H, eps, r0, r1);
  });
}

std::vector<float> Encoder::relative_bias(int64_t longest) const {
  if (relative_bias_.empty()) return {};
  const ModelConfig& c = config_;
  return relative_position_bias(relative_bias_.data, c.num_heads, c.relative_buckets, c.relative_max_distance, longest);
}

const float* Encoder::mlp_up(const Layer& layer, const float* in, int64_t rows, float* up_out, float* gated_out) const {
  if (config_.arch->mlp == MlpKind::Gated) {
    layer.up.forward(in, rows, up_out);
    const int64_t I = config_.intermediate_size;
    const Activation act = act_;
    cpu_pool().parallel_for(rows, 8, [&](int64_t r0, int64_t r1) { gated_activation(up_out, I, act, gated_out, r0, r1); });
    return gated_out;
  }
  const float* up_b = layer.up.bias();
  const Activation act = act_;
  const GemmEpilogue activation{[up_b, act](float* o, int64_t ld, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
                                  if (act == Activation::GeluErf && up_b) bias_gelu(o, ld, up_b, c0, c1, r0, r1);
                                  else bias_activation(o, ld, up_b, act, c0, c1, r0, r1);
                                },
                                false};
  layer.up.forward(in, rows, up_out, &activation);
  return up_out;
}

void Encoder::attend(const float* qkv, float* ctx, const TokenBatch& batch, size_t l, const std::vector<float>& bias,
                     int64_t bias_stride) const {
  const ModelConfig& c = config_;
  const ModelConfig::LayerAttention& la = c.layer(l);
  AttentionLayout layout{c.num_heads, c.num_kv_heads, c.head_dim(), c.scale(), la.left, la.right};
  if (!bias.empty()) {
    layout.bias = bias.data();
    layout.bias_stride = bias_stride;
  }
  const int64_t* off = batch.offsets.data();
  cpu_pool().parallel_for(batch.sequences() * c.num_heads, 1, [&](int64_t i0, int64_t i1) {
    packed_attention(qkv, ctx, off, layout, i0, i1);
  });
}

// Post-LayerNorm layers (the BERT family, NomicBERT, GTE, MPNet): x = norm(x + out(attention(x)));
// x = norm(x + mlp(x)); rotary positions and a relative position bias as the model has them.
std::vector<float> Encoder::forward_post_norm(const TokenBatch& batch, std::vector<float> x,
                                              std::vector<std::vector<float>>* all) const {
  const ModelConfig& c = config_;
  const Architecture& a = *c.arch;
  const int64_t T = batch.tokens(), H = c.hidden_size, d = c.head_dim(), I = c.intermediate_size;
  const int64_t Q = c.num_heads * d, W = (c.num_heads + 2 * c.num_kv_heads) * d;
  const bool gated = a.mlp == MlpKind::Gated;
  const float eps = static_cast<float>(c.layer_norm_eps);
  int64_t longest = 0;
  const std::vector<int64_t> pos = positions(batch, longest);
  const std::vector<float> bias = relative_bias(longest);
  std::vector<float> qkv(static_cast<size_t>(T * W)), ctx(static_cast<size_t>(T * Q)), h1(static_cast<size_t>(T * H)),
      ff(static_cast<size_t>(T * (gated ? 2 * I : I))), g(gated ? static_cast<size_t>(T * I) : 0);
  // Bias + residual + LayerNorm on whole rows of a [T, H] GEMM result.
  auto residual_norm = [&](const float* bias, const float* residual, const std::vector<float>& gamma,
                           const std::vector<float>& beta) {
    return GemmEpilogue{[=, g = gamma.data(), bt = beta.data()](float* o, int64_t, int64_t r0, int64_t r1, int64_t,
                                                                 int64_t) {
                          add_layer_norm(o, bias, residual, g, bt, H, eps, r0, r1);
                        },
                        true};
  };
  for (size_t l = 0; l < layers_.size(); ++l) {
    const Layer& layer = layers_[l];
    layer.qkv.forward(x.data(), T, qkv.data());  // bias added block by block
    if (a.positions == PositionKind::Rotary) rotate(qkv.data(), pos, rotary(c.layer(l).rope_theta, longest).get(), layer);
    attend(qkv.data(), ctx.data(), batch, l, bias, longest);
    const GemmEpilogue norm1 = residual_norm(layer.out.bias(), x.data(), layer.norm1_w, layer.norm1_b);
    layer.out.forward(ctx.data(), T, h1.data(), &norm1);
    const float* down_in = mlp_up(layer, h1.data(), T, ff.data(), g.data());
    const GemmEpilogue norm2 = residual_norm(layer.down.bias(), h1.data(), layer.norm2_w, layer.norm2_b);
    layer.down.forward(down_in, T, x.data(), &norm2);
    if (all) all->push_back(x);
  }
  return x;
}

std::shared_ptr<const Encoder::RotaryTable> Encoder::rotary(double theta, int64_t positions) const {
  std::lock_guard<std::mutex> lock(rotary_mu_);
  for (auto& [base, table] : rotary_)
    if (base == theta && table->positions >= positions) return table;
  // Grown in steps so that a run of longer and longer inputs does not rebuild it each time.
  auto t = std::make_shared<RotaryTable>();
  t->positions = std::max<int64_t>(positions, 512);
  for (auto& [base, table] : rotary_)
    if (base == theta) t->positions = std::max(t->positions, 2 * table->positions);
  t->positions = std::min(t->positions, std::max(positions, config_.max_input_length()));
  rotary_table(theta, config_.rotary_features(), t->positions, t->cos, t->sin, config_.rope_freq_divisor);
  for (auto& [base, table] : rotary_)
    if (base == theta) {
      table = t;
      return t;
    }
  rotary_.emplace_back(theta, t);
  return t;
}

// Pre-norm and sandwich layers (Qwen3, Gemma 3, ModernBERT): h = norm(x); x += [norm](out(attention(h)));
// h = norm(x); x += [norm](down(act(gate(h)) * up(h))); the final norm after the last layer.
std::vector<float> Encoder::forward_pre_norm(const TokenBatch& batch, std::vector<float> x,
                                             std::vector<std::vector<float>>* all) const {
  const ModelConfig& c = config_;
  const Architecture& a = *c.arch;
  const int64_t T = batch.tokens(), H = c.hidden_size, d = c.head_dim(), I = c.intermediate_size;
  const int64_t nh = c.num_heads, nkv = c.num_kv_heads, Q = nh * d, W = (nh + 2 * nkv) * d;
  const bool gated = a.mlp == MlpKind::Gated;
  const float eps = static_cast<float>(c.layer_norm_eps);
  int64_t longest = 0;
  const std::vector<int64_t> pos = positions(batch, longest);
  const std::vector<float> bias = relative_bias(longest);
  // The MLP runs on blocks of rows, so that a long input's [T, 2I] intermediate stays bounded
  // (each row's result is the same whatever the block).
  const int64_t mlp_rows = std::min<int64_t>(T, kMlpBlockRows);
  std::vector<float> h(static_cast<size_t>(T * H)), qkv(static_cast<size_t>(T * W)), ctx(static_cast<size_t>(T * Q)),
      gu(static_cast<size_t>(mlp_rows * (gated ? 2 * I : I))), g(gated ? static_cast<size_t>(mlp_rows * I) : 0);
  // The projection's result plus the residual stream, normed first in a sandwich: whole rows.
  auto add_to_stream = [&](const float* bias, const std::vector<float>& post_gain, const float* residual) {
    return GemmEpilogue{[=, gain = post_gain.empty() ? nullptr : post_gain.data()](float* o, int64_t ld, int64_t r0,
                                                                                  int64_t r1, int64_t, int64_t) {
                          if (bias) add_bias(o, ld, bias, 0, H, r0, r1);
                          if (gain) {
                            rms_norm(o, o, ld, gain, residual, H, eps, r0, r1);
                            return;
                          }
                          for (int64_t r = r0; r < r1; ++r)
                            for (int64_t k = 0; k < H; ++k) o[r * ld + k] += residual[r * H + k];
                        },
                        true};
  };
  for (size_t l = 0; l < layers_.size(); ++l) {
    const Layer& layer = layers_[l];
    // No norm before attention (ModernBERT's first layer): the stream itself.
    if (!layer.input.empty()) norm_rows(x.data(), h.data(), T, layer.input, layer.input_b);
    layer.qkv.forward(layer.input.empty() ? x.data() : h.data(), T, qkv.data());
    const auto table = a.positions == PositionKind::Rotary ? rotary(c.layer(l).rope_theta, longest) : nullptr;
    rotate(qkv.data(), pos, table.get(), layer);
    attend(qkv.data(), ctx.data(), batch, l, bias, longest);
    const GemmEpilogue attn_out = add_to_stream(layer.out.bias(), layer.post_attention, x.data());
    layer.out.forward(ctx.data(), T, h.data(), &attn_out);
    x.swap(h);  // x: the stream after attention
    norm_rows(x.data(), h.data(), T, layer.pre_mlp, layer.pre_mlp_b);
    for (int64_t b0 = 0; b0 < T; b0 += mlp_rows) {
      const int64_t rows = std::min(mlp_rows, T - b0);
      const float* down_in = mlp_up(layer, h.data() + b0 * H, rows, gu.data(), g.data());
      // The result overwrites the block's normed rows, which nothing reads any more.
      const GemmEpilogue mlp_out = add_to_stream(layer.down.bias(), layer.post_mlp, x.data() + b0 * H);
      layer.down.forward(down_in, rows, h.data() + b0 * H, &mlp_out);
    }
    x.swap(h);
    if (all && l + 1 < layers_.size()) all->push_back(x);
  }
  // transformers' hidden_states end with the final norm's output (not the last layer's).
  if (!final_norm_.empty()) norm_rows(x.data(), x.data(), T, final_norm_, final_norm_b_);
  if (all) all->push_back(x);
  return x;
}

std::vector<float> Encoder::pooler(const float* rows, int64_t n) const {
  if (!has_pooler()) throw Error(where_ + ": the checkpoint has no pooler weights (pooler.dense.*)");
  std::vector<float> out(static_cast<size_t>(n * config_.hidden_size));
  const float* b = pooler_.bias();
  const GemmEpilogue tanh_epi{[b](float* o, int64_t ld, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
                                bias_activation(o, ld, b, Activation::Tanh, c0, c1, r0, r1);
                              },
                              false};
  pooler_.forward(rows, n, out.data(), &tanh_epi);
  return out;
}

}  // namespace sbert::cpu
