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

std::vector<float> copy(const Floats& f) { return f.empty() ? std::vector<float>() : std::vector<float>(f.begin(), f.end()); }

}  // namespace

Encoder::Encoder(ModelConfig config, std::shared_ptr<const TensorFile> file, const std::string& prefix,
                 const std::string& where, bool int8)
    : file_(std::move(file)), config_(std::move(config)), where_(where), int8_(int8) {
  const ModelConfig& c = config_;
  const Architecture& a = *c.arch;
  const bool post = a.norm_placement == NormPlacement::Post;
  const bool rms = a.norm == NormKind::RMSNorm || a.norm == NormKind::RMSNormOnePlus;
  if (post ? (a.norm != NormKind::LayerNorm || a.mlp != MlpKind::Plain || a.attention != AttentionKind::Bidirectional ||
              a.positions == PositionKind::Rotary)
           : !rms)
    throw Error(where + ": the CPU runtime has no executor for the blocks of architecture '" + a.name + "'");
  act_ = parse_activation(c.activation, where);
  const TensorNames& n = a.tensors;
  const int64_t H = c.hidden_size, E = c.embedding_size;
  ParameterReader r(*file_, prefix, where);
  auto w = [](const std::string& s) { return s + ".weight"; };
  auto b = [](const std::string& s) { return s + ".bias"; };
  {
    // Fail fast when the config promises more layers than the checkpoint holds (a huge
    // num_hidden_layers would otherwise list millions of missing tensors first).
    const std::string last = n.layer_prefix + std::to_string(c.num_layers - 1) + "." + n.query + ".weight";
    if (!r.has(last))
      throw Error(where + ": config.json says " + std::to_string(c.num_layers) +
                  " layers but the checkpoint has no tensor '" + prefix + last + "'");
  }
  word_ = r.take(w(n.word_embeddings), {c.vocab_size, E});
  if (n.position_embeddings) position_ = r.take(w(n.position_embeddings), {c.max_position_embeddings, E});
  if (n.token_type_embeddings && c.type_vocab_size > 0) token_type_ = r.take(w(n.token_type_embeddings), {c.type_vocab_size, E});
  if (n.embeddings_norm) {
    emb_norm_w_ = copy(r.take(w(n.embeddings_norm), {E}));
    emb_norm_b_ = copy(r.take(b(n.embeddings_norm), {E}));
  }
  if (n.embeddings_project && E != H) project_ = read_linear(r, n.embeddings_project, H, E, true, false);
  for (int64_t l = 0; l < c.num_layers; ++l) {
    const std::string p = n.layer_prefix + std::to_string(l) + ".";
    Layer L;
    {
      // q, k and v fused into one [(heads + 2 kv_heads) * head_dim, H] GEMM.
      const int64_t Q = c.num_heads * c.head_dim(), KV = c.num_kv_heads * c.head_dim();
      const bool bias = c.attention_bias;
      Floats qw = r.take(w(p + n.query), {Q, H}), kw = r.take(w(p + n.key), {KV, H}),
             vw = r.take(w(p + n.value), {KV, H});
      Floats qb, kb, vb;
      if (bias) qb = r.take(b(p + n.query), {Q}), kb = r.take(b(p + n.key), {KV}), vb = r.take(b(p + n.value), {KV});
      if (!qw.empty() && !kw.empty() && !vw.empty() && (!bias || (!qb.empty() && !kb.empty() && !vb.empty()))) {
        std::vector<float> qkv_b;
        if (bias)
          for (const Floats* f : {&qb, &kb, &vb}) qkv_b.insert(qkv_b.end(), f->begin(), f->end());
        std::vector<Floats> parts;
        parts.push_back(std::move(qw));
        parts.push_back(std::move(kw));
        parts.push_back(std::move(vw));
        L.qkv = Linear(std::move(parts), H, std::move(qkv_b), int8,
                       r.releaser({w(p + n.query), w(p + n.key), w(p + n.value)}));
      }
      L.out = read_linear(r, p + n.attention_out, H, Q, bias, int8);
    }
    if (post)
      read_post_norm_layer(r, p, L);
    else
      read_pre_norm_layer(r, p, L);
    layers_.push_back(std::move(L));
  }
  if (n.final_norm) final_norm_ = read_gain(r, n.final_norm, H);
  if (n.pooler && r.has(w(n.pooler)) && r.has(b(n.pooler))) pooler_ = read_linear(r, n.pooler, H, H, true, false);
  r.finish();
}

void Encoder::read_post_norm_layer(ParameterReader& r, const std::string& p, Layer& L) const {
  const ModelConfig& c = config_;
  const TensorNames& n = c.arch->tensors;
  const int64_t H = c.hidden_size, I = c.intermediate_size;
  L.norm1_w = copy(r.take(p + n.attention_norm + ".weight", {H}));
  L.norm1_b = copy(r.take(p + n.attention_norm + ".bias", {H}));
  L.up = read_linear(r, p + n.mlp_up, I, H, c.arch->bias, int8_);
  L.down = read_linear(r, p + n.mlp_down, H, I, c.arch->bias, int8_);
  L.norm2_w = copy(r.take(p + n.mlp_norm + ".weight", {H}));
  L.norm2_b = copy(r.take(p + n.mlp_norm + ".bias", {H}));
}

void Encoder::read_pre_norm_layer(ParameterReader& r, const std::string& p, Layer& L) const {
  const ModelConfig& c = config_;
  const Architecture& a = *c.arch;
  const TensorNames& n = a.tensors;
  const int64_t H = c.hidden_size, I = c.intermediate_size, d = c.head_dim();
  L.input = read_gain(r, p + n.input_norm, H);
  L.pre_mlp = read_gain(r, p + n.pre_mlp_norm, H);
  if (a.norm_placement == NormPlacement::Sandwich) {
    L.post_attention = read_gain(r, p + n.post_attention_norm, H);
    L.post_mlp = read_gain(r, p + n.post_mlp_norm, H);
  }
  if (n.q_norm) L.q_norm = read_gain(r, p + n.q_norm, d);
  if (n.k_norm) L.k_norm = read_gain(r, p + n.k_norm, d);
  if (a.mlp == MlpKind::Gated) {
    // gate and up fused into one [2I, H] GEMM: gate rows first.
    Floats gw = r.take(p + n.mlp_gate + ".weight", {I, H}), uw = r.take(p + n.mlp_up + ".weight", {I, H});
    Floats gb, ub;
    if (a.bias) gb = r.take(p + n.mlp_gate + ".bias", {I}), ub = r.take(p + n.mlp_up + ".bias", {I});
    if (!gw.empty() && !uw.empty() && (!a.bias || (!gb.empty() && !ub.empty()))) {
      std::vector<float> bias;
      if (a.bias)
        for (const Floats* f : {&gb, &ub}) bias.insert(bias.end(), f->begin(), f->end());
      std::vector<Floats> parts;
      parts.push_back(std::move(gw));
      parts.push_back(std::move(uw));
      L.up = Linear(std::move(parts), H, std::move(bias), int8_,
                    r.releaser({p + n.mlp_gate + ".weight", p + n.mlp_up + ".weight"}));
    }
  } else {
    L.up = read_linear(r, p + n.mlp_up, I, H, a.bias, int8_);
  }
  L.down = read_linear(r, p + n.mlp_down, H, I, a.bias, int8_);
}

// An RMSNorm's gain: the weight, or 1 + w (in float, as Gemma's norm computes it).
std::vector<float> Encoder::read_gain(ParameterReader& r, const std::string& name, int64_t n) const {
  std::vector<float> g = copy(r.take(name + ".weight", {n}));
  if (config_.arch->norm == NormKind::RMSNormOnePlus)
    for (float& v : g) v = 1.0f + v;
  return g;
}

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
      if (position_.empty()) {  // rotary positions: the scaled word vector alone
        if (scale == 1.0f) std::memcpy(row, word, sizeof(float) * static_cast<size_t>(E));
        else for (int64_t e = 0; e < E; ++e) row[e] = word[e] * scale;
        continue;
      }
      const float* p = position_.data + pos[t] * E;
      if (!token_type_.empty()) {
        const float* type = token_type_.data + (batch.types.empty() ? 0 : batch.types[t]) * E;
        for (int64_t e = 0; e < E; ++e) row[e] = (word[e] + type[e]) + p[e];
      } else {
        for (int64_t e = 0; e < E; ++e) row[e] = word[e] + p[e];
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

std::vector<float> Encoder::forward_post_norm(const TokenBatch& batch, std::vector<float> x,
                                              std::vector<std::vector<float>>* all) const {
  const ModelConfig& c = config_;
  const int64_t T = batch.tokens(), H = c.hidden_size, nh = c.num_heads, d = c.head_dim(),
                I = c.intermediate_size;
  WorkerPool& pool = cpu_pool();
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(d)));
  const float eps = static_cast<float>(c.layer_norm_eps);
  const int64_t* off = batch.offsets.data();
  std::vector<float> qkv(static_cast<size_t>(T * 3 * H)), ctx(static_cast<size_t>(T * H)),
      h1(static_cast<size_t>(T * H)), ff(static_cast<size_t>(T * I));
  // Bias + residual + LayerNorm on whole rows of a [T, H] GEMM result.
  auto residual_norm = [&](const float* bias, const float* residual, const std::vector<float>& gamma,
                           const std::vector<float>& beta) {
    return GemmEpilogue{[=, g = gamma.data(), bt = beta.data()](float* o, int64_t, int64_t r0, int64_t r1, int64_t,
                                                                 int64_t) {
                          add_layer_norm(o, bias, residual, g, bt, H, eps, r0, r1);
                        },
                        true};
  };
  for (const Layer& layer : layers_) {
    layer.qkv.forward(x.data(), T, qkv.data());  // bias added block by block
    pool.parallel_for(batch.sequences() * nh, 1, [&](int64_t i0, int64_t i1) {
      packed_attention(qkv.data(), ctx.data(), off, nh, d, scale, i0, i1);
    });
    const GemmEpilogue norm1 = residual_norm(layer.out.bias(), x.data(), layer.norm1_w, layer.norm1_b);
    layer.out.forward(ctx.data(), T, h1.data(), &norm1);
    const float* up_b = layer.up.bias();
    const Activation act = act_;
    const GemmEpilogue activation{[up_b, act](float* o, int64_t ld, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
                                    if (act == Activation::GeluErf) bias_gelu(o, ld, up_b, c0, c1, r0, r1);
                                    else bias_activation(o, ld, up_b, act, c0, c1, r0, r1);
                                  },
                                  false};
    layer.up.forward(h1.data(), T, ff.data(), &activation);
    const GemmEpilogue norm2 = residual_norm(layer.down.bias(), h1.data(), layer.norm2_w, layer.norm2_b);
    layer.down.forward(ff.data(), T, x.data(), &norm2);
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
  rotary_table(theta, config_.head_dim(), t->positions, t->cos, t->sin);
  for (auto& [base, table] : rotary_)
    if (base == theta) {
      table = t;
      return t;
    }
  rotary_.emplace_back(theta, t);
  return t;
}

// Pre-norm and sandwich layers (Qwen3, Gemma 3): h = norm(x); x += [norm](out(attention(h)));
// h = norm(x); x += [norm](down(act(gate(h)) * up(h))); the final norm after the last layer.
std::vector<float> Encoder::forward_pre_norm(const TokenBatch& batch, std::vector<float> x,
                                             std::vector<std::vector<float>>* all) const {
  const ModelConfig& c = config_;
  const Architecture& a = *c.arch;
  const int64_t T = batch.tokens(), H = c.hidden_size, d = c.head_dim(), I = c.intermediate_size;
  const int64_t nh = c.num_heads, nkv = c.num_kv_heads, Q = nh * d, W = (nh + 2 * nkv) * d;
  const bool sandwich = a.norm_placement == NormPlacement::Sandwich, gated = a.mlp == MlpKind::Gated;
  WorkerPool& pool = cpu_pool();
  const float eps = static_cast<float>(c.layer_norm_eps);
  const int64_t* off = batch.offsets.data();
  int64_t longest = 0;
  std::vector<int64_t> pos(static_cast<size_t>(T));
  for (int64_t s = 0; s < batch.sequences(); ++s) {
    longest = std::max(longest, off[s + 1] - off[s]);
    for (int64_t t = off[s]; t < off[s + 1]; ++t) pos[t] = t - off[s];
  }
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
    const ModelConfig::LayerAttention& la = c.layer(l);
    pool.parallel_for(T, 8, [&](int64_t r0, int64_t r1) { rms_norm(x.data(), h.data(), H, layer.input.data(), nullptr, H, eps, r0, r1); });
    layer.qkv.forward(h.data(), T, qkv.data());
    const auto table = a.positions == PositionKind::Rotary ? rotary(la.rope_theta, longest) : nullptr;
    pool.parallel_for(T, 8, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        float* row = qkv.data() + t * W;
        const float* cs = table ? table->cos.data() + pos[t] * (d / 2) : nullptr;
        const float* sn = table ? table->sin.data() + pos[t] * (d / 2) : nullptr;
        for (int64_t k = 0; k < nh + nkv; ++k) {  // query heads, then key heads
          float* v = row + k * d;
          const std::vector<float>& gain = k < nh ? layer.q_norm : layer.k_norm;
          if (!gain.empty()) rms_norm(v, v, d, gain.data(), nullptr, d, eps, 0, 1);
          if (cs) rotate_half(v, d, cs, sn);
        }
      }
    });
    const AttentionLayout layout{nh, nkv, d, c.scale(), la.left, la.right};
    pool.parallel_for(batch.sequences() * nh, 1, [&](int64_t i0, int64_t i1) {
      packed_attention(qkv.data(), ctx.data(), off, layout, i0, i1);
    });
    const GemmEpilogue attn_out = add_to_stream(layer.out.bias(), layer.post_attention, x.data());
    layer.out.forward(ctx.data(), T, h.data(), &attn_out);
    x.swap(h);  // x: the stream after attention
    pool.parallel_for(T, 8, [&](int64_t r0, int64_t r1) { rms_norm(x.data(), h.data(), H, layer.pre_mlp.data(), nullptr, H, eps, r0, r1); });
    for (int64_t b0 = 0; b0 < T; b0 += mlp_rows) {
      const int64_t rows = std::min(mlp_rows, T - b0);
      const float* in = h.data() + b0 * H;
      if (gated) {
        layer.up.forward(in, rows, gu.data());
        pool.parallel_for(rows, 8, [&](int64_t r0, int64_t r1) { gated_activation(gu.data(), I, act_, g.data(), r0, r1); });
      } else {
        const float* up_b = layer.up.bias();
        const Activation act = act_;
        const GemmEpilogue activation{[up_b, act](float* o, int64_t ld, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
                                        bias_activation(o, ld, up_b, act, c0, c1, r0, r1);
                                      },
                                      false};
        layer.up.forward(in, rows, gu.data(), &activation);
      }
      // The result overwrites the block's normed rows, which nothing reads any more.
      const GemmEpilogue mlp_out = add_to_stream(layer.down.bias(), layer.post_mlp, x.data() + b0 * H);
      layer.down.forward(gated ? g.data() : gu.data(), rows, h.data() + b0 * H, &mlp_out);
    }
    x.swap(h);
    if (all && l + 1 < layers_.size()) all->push_back(x);
  }
  // transformers' hidden_states end with the final norm's output (not the last layer's).
  if (!final_norm_.empty())
    pool.parallel_for(T, 8, [&](int64_t r0, int64_t r1) { rms_norm(x.data(), x.data(), H, final_norm_.data(), nullptr, H, eps, r0, r1); });
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
