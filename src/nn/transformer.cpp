// Encoder forward pass, written to follow Hugging Face's eager attention for float32 parity:
// scores * 1/sqrt(d) + additive mask (dtype minimum at padding), softmax, post-LayerNorm blocks.
#include "nn/transformer.h"

#include "nn/rotary_decoder.h"

#include <cmath>
#include <functional>
#include <thread>
#include <optional>

#include "cpu/cpu_kernels.h"
#include "cpu/cpu_pool.h"
#include "sbert/json_parse.h"
#include "sbert/error.h"
#include "sbert/model_folder.h"

namespace sbert::nn {
namespace fs = std::filesystem;
TransformerEncoder::TransformerEncoder(TransformerConfig config, const WeightStore& store,
                                       const std::string& prefix, at::TensorOptions options,
                                       const std::string& where, bool int8)
    : config_(std::move(config)), options_(options), where_(where) {
  if (int8) require_int8_runs_here();
  const auto& c = config_;
  act_ = cpu::parse_activation(c.activation, where);
  if (!c.arch->bert_blocks()) {
    if (int8)
      throw Error(where + ": --quantize int8 of architecture '" + c.arch->name + "' runs on sbert's CPU runtime");
    decoder_ = std::make_shared<const RotaryDecoder>(c, store, prefix, options, where);
    return;
  }
  const cpu::TensorNames& n = c.arch->tensors;
  WeightLoader w(store, prefix, options, where);
  auto weight = [](const std::string& name) { return name + ".weight"; };
  auto bias = [](const std::string& name) { return name + ".bias"; };
  const int64_t H = c.hidden_size, E = c.embedding_size, I = c.intermediate_size;
  word_ = w.take(weight(n.word_embeddings), {c.vocab_size, E});
  position_ = w.take(weight(n.position_embeddings), {c.max_position_embeddings, E});
  if (n.token_type_embeddings && c.type_vocab_size > 0)
    token_type_ = w.take(weight(n.token_type_embeddings), {c.type_vocab_size, E});
  emb_ln_w_ = w.take(weight(n.embeddings_norm), {E});
  emb_ln_b_ = w.take(bias(n.embeddings_norm), {E});
  if (n.embeddings_project && E != H) {
    project_w_ = w.take(weight(n.embeddings_project), {H, E});
    project_b_ = w.take(bias(n.embeddings_project), {H});
  }
  {
    // Fail fast when the config promises more layers than the checkpoint holds (a huge
    // num_hidden_layers would otherwise list millions of missing tensors first).
    const std::string last = n.layer_prefix + std::to_string(c.num_layers - 1) + "." + n.query + ".weight";
    if (!w.has(last))
      throw Error(where + ": config.json says " + std::to_string(c.num_layers) +
                  " layers but the checkpoint has no tensor '" + prefix + last + "'");
  }
  std::vector<std::vector<std::string>> linear_names;  // each layer's Linear weights, as stored
  for (int64_t l = 0; l < c.num_layers; ++l) {
    const std::string p = n.layer_prefix + std::to_string(l) + ".";
    linear_names.push_back({weight(p + n.query), weight(p + n.key), weight(p + n.value),
                            weight(p + n.attention_out), weight(p + n.mlp_up), weight(p + n.mlp_down)});
    Layer L;
    const at::Tensor q_w = w.take(weight(p + n.query), {H, H}), q_b = w.take(bias(p + n.query), {H});
    const at::Tensor k_w = w.take(weight(p + n.key), {H, H}), k_b = w.take(bias(p + n.key), {H});
    const at::Tensor v_w = w.take(weight(p + n.value), {H, H}), v_b = w.take(bias(p + n.value), {H});
    L.out_w = w.take(weight(p + n.attention_out), {H, H});
    L.out_b = w.take(bias(p + n.attention_out), {H});
    L.ln1_w = w.take(weight(p + n.attention_norm), {H});
    L.ln1_b = w.take(bias(p + n.attention_norm), {H});
    L.ff1_w = w.take(weight(p + n.mlp_up), {I, H});
    L.ff1_b = w.take(bias(p + n.mlp_up), {I});
    L.ff2_w = w.take(weight(p + n.mlp_down), {H, I});
    L.ff2_b = w.take(bias(p + n.mlp_down), {H});
    L.ln2_w = w.take(weight(p + n.mlp_norm), {H});
    L.ln2_b = w.take(bias(p + n.mlp_norm), {H});
    if (q_w.defined() && k_w.defined() && v_w.defined() && q_b.defined() && k_b.defined() &&
        v_b.defined()) {
      // One GEMM for queries, keys and values.
      L.qkv_w = at::cat({q_w, k_w, v_w}, 0).contiguous();
      L.qkv_b = at::cat({q_b, k_b, v_b}, 0).contiguous();
    }
    layers_.push_back(std::move(L));
  }
  if (n.pooler) {
    pooler_w_ = w.take_optional(weight(n.pooler), {H, H});
    pooler_b_ = w.take_optional(bias(n.pooler), {H});
    if (pooler_w_.defined() != pooler_b_.defined()) {
      pooler_w_ = pooler_b_ = at::Tensor();
    }
  }
  w.finish();
  if (options.device().is_cpu() && options.dtype().toScalarType() == at::kFloat) {
    // The CPU float32 GEMMs run on packed weights (packed_gemm.h), or int8 ones; the float copies
    // go, and a memory-mapped checkpoint drops the pages they were read from (else the weights
    // would sit in memory twice), layer by layer.
    for (size_t li = 0; li < layers_.size(); ++li) {
      Layer& l = layers_[li];
      if (int8) {
        quantized_.push_back(quantize_layer(li));
        l.qkv_w = l.out_w = l.ff1_w = l.ff2_w = at::Tensor();
        for (const std::string& name : linear_names[li]) w.release(name);
        continue;
      }
      auto pack = [](at::Tensor& t) {
        const at::Tensor c = t.contiguous();
        auto p = std::make_shared<const cpu::PackedWeight>(c.data_ptr<float>(), c.size(0), c.size(1));
        t = at::Tensor();
        return p;
      };
      packed_.push_back({pack(l.qkv_w), pack(l.out_w), pack(l.ff1_w), pack(l.ff2_w)});
      for (const std::string& name : linear_names[li]) w.release(name);
    }
  }
}

void TransformerEncoder::activation_(at::Tensor& x) const {
  switch (act_) {
    case Act::GeluErf: at::gelu_(x); return;
    case Act::GeluTanh: at::gelu_(x, "tanh"); return;
    case Act::Relu: at::relu_(x); return;
    case Act::Silu: at::silu_(x); return;
    case Act::QuickGelu: x.mul_(at::sigmoid(x * 1.702)); return;
    case Act::Tanh: at::tanh_(x); return;
    case Act::Sigmoid: at::sigmoid_(x); return;
    case Act::Identity: return;
  }
}

at::Tensor TransformerEncoder::positions(const at::Tensor& ids) const {
  const auto& c = config_;
  const int64_t B = ids.size(0), L = ids.size(1);
  if (c.arch->positions == cpu::PositionKind::AbsoluteAfterPadding) {
    at::Tensor not_pad = ids.ne(c.pad_token_id).to(at::kLong);
    return at::cumsum(not_pad, 1) * not_pad + c.pad_token_id;
  }
  return at::arange(L, at::TensorOptions().dtype(at::kLong).device(ids.device())).unsqueeze(0).expand({B, L});
}

TransformerEncoder::Inputs TransformerEncoder::inputs(const at::Tensor& ids, const at::Tensor& mask,
                                                     const at::Tensor& types, at::Device dev) const {
  Inputs in;
  in.ids = ids.to(dev, at::kLong).contiguous();
  in.mask = mask.to(dev, at::kLong).contiguous();
  const int64_t L = in.ids.size(1);
  if (L > config_.max_input_length())
    throw Error("input of " + std::to_string(L) + " tokens exceeds the model's " +
                std::to_string(config_.max_input_length()) + " positions");
  if (token_type_.defined())
    in.types = types.defined() ? types.to(dev, at::kLong).contiguous() : at::zeros_like(in.ids);
  check_ids(in.ids, in.types);
  return in;
}

void TransformerEncoder::check_ids(const at::Tensor& ids, const at::Tensor& types) const {
  const auto& c = config_;
  // Ids outside the embedding tables are the tokenizer's and the model's disagreement: name it
  // rather than let libtorch say "index out of range in self".
  if (ids.numel() > 0) {
    const int64_t lo = ids.min().item<int64_t>(), hi = ids.max().item<int64_t>();
    if (lo < 0 || hi >= c.vocab_size)
      throw Error(where_ + ": token id " + std::to_string(lo < 0 ? lo : hi) +
                  " is outside the model's vocabulary (vocab_size " + std::to_string(c.vocab_size) +
                  " in config.json); tokenizer and model do not match");
  }
  if (token_type_.defined() && types.defined() && types.numel() > 0) {
    const int64_t lo = types.min().item<int64_t>(), hi = types.max().item<int64_t>();
    if (lo < 0 || hi >= c.type_vocab_size)
      throw Error(where_ + ": token type id " + std::to_string(lo < 0 ? lo : hi) +
                  " is outside the model's type vocabulary (type_vocab_size " +
                  std::to_string(c.type_vocab_size) +
                  " in config.json); the tokenizer's post-processor and the model do not match");
  }
}

at::Tensor TransformerEncoder::embed(const at::Tensor& ids, const at::Tensor& positions,
                                     const at::Tensor& types) const {
  const auto& c = config_;
  at::Tensor x = at::embedding(word_, ids);
  if (token_type_.defined()) x = x + at::embedding(token_type_, types);
  x = x + at::embedding(position_, positions);
  x = at::layer_norm(x, {c.embedding_size}, emb_ln_w_, emb_ln_b_, c.layer_norm_eps);
  if (project_w_.defined()) x = at::linear(x, project_w_, project_b_);
  return x;
}

void TransformerEncoder::require_int8_runs_here() const {
  if (!options_.device().is_cpu() || options_.dtype().toScalarType() != at::kFloat)
    throw Error("--quantize int8 runs on the CPU in float32 (got --device " + options_.device().str() +
                ", --dtype " + std::string(c10::toString(options_.dtype().toScalarType())) + ")");
}

std::array<std::shared_ptr<const cpu::QuantizedLinear>, 4> TransformerEncoder::quantize_layer(size_t li) const {
  std::array<std::shared_ptr<const cpu::QuantizedLinear>, 4> q;
  for (int which = 0; which < 4; ++which)
    q[static_cast<size_t>(which)] = quantize_linear(weight(li, which));
  return q;
}

const at::Tensor& TransformerEncoder::weight(size_t li, int which) const {
  const Layer& l = layers_[li];
  const at::Tensor* w[] = {&l.qkv_w, &l.out_w, &l.ff1_w, &l.ff2_w};
  return *w[which];
}

at::Tensor TransformerEncoder::linear(const at::Tensor& x, size_t li, int which, const at::Tensor& b) const {
  if (packed_.empty()) return at::linear(x, weight(li, which), b);
  const cpu::PackedWeight& w = *packed_[li][static_cast<size_t>(which)];
  std::vector<int64_t> sizes = x.sizes().vec();
  sizes.back() = w.outputs();
  return pooled_mm(x.reshape({-1, w.inputs()}), w).add_(b).view(sizes);
}

EncoderOutput TransformerEncoder::forward_decoder(const at::Tensor& ids_in, const at::Tensor& mask_in, bool all) const {
  const Inputs in = inputs(ids_in, mask_in, at::Tensor(), options_.device());
  std::vector<at::Tensor> states = decoder_->forward(in.ids, in.mask, all);
  EncoderOutput out;
  out.last_hidden = states.back();
  if (all) out.hidden_states = std::move(states);
  return out;
}

EncoderOutput TransformerEncoder::forward(const at::Tensor& input_ids, const at::Tensor& attention_mask,
                                          const at::Tensor& token_type_ids, bool all_hidden_states) const {
  if (decoder_) {
    c10::InferenceMode guard(!at::GradMode::is_enabled());
    return forward_decoder(input_ids, attention_mask, all_hidden_states);
  }
  // int8 weights exist only for the packed path (quantize_int8 checked CPU float32).
  if (quantized() || (options_.device().is_cpu() && options_.dtype().toScalarType() == at::kFloat &&
                      !at::GradMode::is_enabled())) {
    c10::InferenceMode guard;
    return forward_packed(input_ids, attention_mask, token_type_ids, all_hidden_states);
  }
  return forward_padded(input_ids, attention_mask, token_type_ids, all_hidden_states);
}

EncoderOutput TransformerEncoder::forward_padded(const at::Tensor& input_ids_in,
                                                 const at::Tensor& attention_mask_in,
                                                 const at::Tensor& token_type_ids_in,
                                                 bool all_hidden_states) const {
  if (decoder_) return forward_decoder(input_ids_in, attention_mask_in, all_hidden_states);
  const auto& c = config_;
  const Inputs in = inputs(input_ids_in, attention_mask_in, token_type_ids_in, options_.device());
  const at::Tensor &ids = in.ids, &mask = in.mask, &types = in.types;
  const int64_t B = ids.size(0), L = ids.size(1), H = c.hidden_size, nh = c.num_heads,
                d = H / nh;
  at::Tensor x = embed(ids, positions(ids), types);

  EncoderOutput out;
  if (all_hidden_states) out.hidden_states.push_back(x);

  // Additive mask: 0 for tokens, the dtype's lowest value for padding; [B*nh, 1, L].
  const at::ScalarType dt = options_.dtype().toScalarType();
  double lowest = dt == at::kFloat ? -3.4028234663852886e38
                  : dt == at::kHalf ? -65504.0
                  : dt == at::kBFloat16 ? -3.3895313892515355e38
                  : -1.7976931348623157e308;
  at::Tensor bias = (1 - mask).to(dt).mul(lowest).view({B, 1, 1, L}).expand({B, nh, 1, L})
                        .reshape({B * nh, 1, L});
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));

  for (size_t li = 0; li < layers_.size(); ++li) {
    const Layer& layer = layers_[li];
    at::Tensor qkv = linear(x, li, 0, layer.qkv_b);  // [B, L, 3H]
    at::Tensor parts = qkv.view({B, L, 3, nh, d}).permute({2, 0, 3, 1, 4});  // [3, B, nh, L, d]
    at::Tensor q = parts[0].reshape({B * nh, L, d});
    at::Tensor k = parts[1].reshape({B * nh, L, d});
    at::Tensor v = parts[2].reshape({B * nh, L, d});
    at::Tensor scores = at::baddbmm(bias, q, k.transpose(1, 2), 1.0, scale);
    at::Tensor probs = at::softmax(scores, -1);
    at::Tensor ctx = at::bmm(probs, v).view({B, nh, L, d}).permute({0, 2, 1, 3}).reshape({B, L, H});
    at::Tensor attn = linear(ctx, li, 1, layer.out_b);
    at::Tensor h1 = at::layer_norm(attn + x, {H}, layer.ln1_w, layer.ln1_b, c.layer_norm_eps);
    at::Tensor ff = linear(h1, li, 2, layer.ff1_b);
    activation_(ff);
    ff = linear(ff, li, 3, layer.ff2_b);
    x = at::layer_norm(ff + h1, {H}, layer.ln2_w, layer.ln2_b, c.layer_norm_eps);
    if (all_hidden_states) out.hidden_states.push_back(x);
  }
  out.last_hidden = x;
  return out;
}

std::shared_ptr<const cpu::QuantizedLinear> quantize_linear(const at::Tensor& weight) {
  c10::InferenceMode guard;
  const at::Tensor w = weight.to(at::kFloat).contiguous();
  return std::make_shared<const cpu::QuantizedLinear>(w.data_ptr<float>(), w.size(0), w.size(1));
}

at::Tensor linear_int8(const cpu::QuantizedLinear& q, const at::Tensor& x_in) {
  if (x_in.dim() != 2 || x_in.size(1) != q.inputs())
    throw Error("int8 linear: input of " + std::to_string(x_in.size(-1)) + " columns for a weight of " +
                std::to_string(q.inputs()));
  const at::Tensor x = x_in.to(at::kFloat).contiguous();
  at::Tensor out = at::empty({x.size(0), q.outputs()}, x.options());
  q.forward(x.data_ptr<float>(), x.size(0), out.data_ptr<float>());
  return out;
}

at::Tensor pooled_mm(const at::Tensor& a, const at::Tensor& w) {
  cpu::WorkerPool& pool = cpu::cpu_pool();
  at::Tensor out = at::empty({a.size(0), w.size(0)}, a.options());
  if (!cpu::gemm_on_cpu_pool()) return at::mm_out(out, a, w.t());
  // Fixed blocks of rows, whatever the thread count: OpenBLAS picks its kernel by the matrix
  // size (small-matrix kernels), so a split by thread count would change the rounding.
  constexpr int64_t kBlock = 64;
  const int64_t M = a.size(0), blocks = (M + kBlock - 1) / kBlock;
  pool.parallel_for(blocks, 1, [&](int64_t b0, int64_t b1) {
    c10::InferenceMode guard;  // thread-local: the pool's threads need their own
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t r0 = b * kBlock, n = std::min(kBlock, M - r0);
      at::Tensor part = out.narrow(0, r0, n);
      at::mm_out(part, a.narrow(0, r0, n), w.t());
    }
  });
  return out;
}

at::Tensor pooled_mm(const at::Tensor& a_in, const cpu::PackedWeight& w,
                     const GemmEpilogue* epilogue) {
  const at::Tensor a = a_in.contiguous();
  const int64_t M = a.size(0), K = w.inputs();
  if (a.size(1) != K) throw Error("pooled_mm: inputs of width " + std::to_string(a.size(1)) + " for a weight of " + std::to_string(K));
  at::Tensor out = at::empty({M, w.outputs()}, a.options());
  cpu::gemm(a.data_ptr<float>(), M, w, out.data_ptr<float>(), epilogue);
  return out;
}

EncoderOutput TransformerEncoder::forward_packed(const at::Tensor& input_ids_in,
                                                 const at::Tensor& attention_mask_in,
                                                 const at::Tensor& token_type_ids_in,
                                                 bool all_hidden_states) const {
  const auto& c = config_;
  const Inputs in = inputs(input_ids_in, attention_mask_in, token_type_ids_in, at::kCPU);
  const at::Tensor &ids = in.ids, &mask = in.mask, &types = in.types;
  const int64_t B = ids.size(0), L = ids.size(1), H = c.hidden_size, nh = c.num_heads,
                d = H / nh;

  // The real tokens in row order: flat grid index of each, and where each sequence starts.
  std::vector<int64_t> flat, offsets(static_cast<size_t>(B) + 1, 0);
  flat.reserve(static_cast<size_t>(B * L));
  const int64_t* m = mask.data_ptr<int64_t>();
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t p = 0; p < L; ++p)
      if (m[b * L + p] != 0) flat.push_back(b * L + p);
    offsets[static_cast<size_t>(b) + 1] = static_cast<int64_t>(flat.size());
  }
  const int64_t T = static_cast<int64_t>(flat.size());
  const at::Tensor index = at::from_blob(flat.data(), {T}, at::kLong).clone();
  auto pack = [&](const at::Tensor& grid) { return grid.reshape({B * L}).index_select(0, index); };
  at::Tensor x = embed(pack(ids), pack(positions(ids)), types.defined() ? pack(types) : types)
                     .contiguous();  // [T, H]

  auto unpack = [&](const at::Tensor& rows) {
    return at::zeros({B * L, H}, rows.options()).index_copy_(0, index, rows).view({B, L, H});
  };
  EncoderOutput out;
  if (all_hidden_states) out.hidden_states.push_back(unpack(x));

  cpu::WorkerPool& pool = cpu::cpu_pool();
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(d)));
  const float eps = static_cast<float>(c.layer_norm_eps);
  const int64_t* off = offsets.data();
  auto rows = [&](at::Tensor& t, const std::function<void(int64_t, int64_t)>& f) {
    pool.parallel_for(t.size(0), 8, f);
  };
  for (size_t li = 0; li < layers_.size(); ++li) {
    const Layer& layer = layers_[li];
    // a · wᵀ: float32 (pooled_mm) or the int8 weights of the same Linear, then `epi` on the
    // result: the packed GEMM runs it on each block as it finishes, the other paths after, by rows.
    auto mm = [&](const at::Tensor& a, const at::Tensor& w, int which,
                  const GemmEpilogue* epi = nullptr) {
      const size_t k = static_cast<size_t>(which);
      if (!quantized() && packed_gemm()) return pooled_mm(a, *packed_[li][k], epi);
      at::Tensor r = quantized() ? linear_int8(*quantized_[li][k], a) : pooled_mm(a, w);
      if (epi != nullptr) {
        float* r_p = r.data_ptr<float>();
        const int64_t n = r.size(1);
        rows(r, [&](int64_t r0, int64_t r1) { epi->apply(r_p, n, r0, r1, 0, n); });
      }
      return r;
    };
    // Bias + residual + LayerNorm, in place on whole rows of a [T, H] GEMM result.
    auto residual_norm = [&](const at::Tensor& bias, const at::Tensor& residual,
                             const at::Tensor& gamma, const at::Tensor& beta) {
      return GemmEpilogue{[=, res = residual.data_ptr<float>()](float* o, int64_t, int64_t r0,
                                                                int64_t r1, int64_t, int64_t) {
                            cpu::add_layer_norm(o, bias.data_ptr<float>(), res, gamma.data_ptr<float>(),
                                                beta.data_ptr<float>(), H, eps, r0, r1);
                          },
                          true};
    };
    // Biases are added by each GEMM's epilogue, on the block just computed (no broadcast copies).
    const float* qkv_b = layer.qkv_b.data_ptr<float>();
    const GemmEpilogue qkv_bias{[qkv_b](float* o, int64_t ld, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
                                  cpu::add_bias(o, ld, qkv_b, c0, c1, r0, r1);
                                },
                                false};
    const at::Tensor qkv = mm(x, layer.qkv_w, 0, &qkv_bias);  // [T, 3H]
    at::Tensor ctx = at::empty({T, H}, x.options());
    const float* qkv_p = qkv.data_ptr<float>();
    float* ctx_p = ctx.data_ptr<float>();
    pool.parallel_for(B * nh, 1, [&](int64_t i0, int64_t i1) {
      cpu::packed_attention(qkv_p, ctx_p, off, nh, d, scale, i0, i1);
    });
    const GemmEpilogue norm1 = residual_norm(layer.out_b, x, layer.ln1_w, layer.ln1_b);
    const at::Tensor h1 = mm(ctx, layer.out_w, 1, &norm1);
    at::Tensor ff;
    if (act_ == Act::GeluErf) {
      const float* ff_b = layer.ff1_b.data_ptr<float>();
      const GemmEpilogue gelu{[ff_b](float* o, int64_t ld, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
                                cpu::bias_gelu(o, ld, ff_b, c0, c1, r0, r1);
                              },
                              false};
      ff = mm(h1, layer.ff1_w, 2, &gelu);
    } else {
      ff = mm(h1, layer.ff1_w, 2).add_(layer.ff1_b);
      rows(ff, [&](int64_t r0, int64_t r1) {
        c10::InferenceMode guard;  // thread-local: the pool's threads need their own
        at::Tensor part = ff.narrow(0, r0, r1 - r0);
        activation_(part);
      });
    }
    const GemmEpilogue norm2 = residual_norm(layer.ff2_b, h1, layer.ln2_w, layer.ln2_b);
    x = mm(ff, layer.ff2_w, 3, &norm2);
    if (all_hidden_states) out.hidden_states.push_back(unpack(x));
  }
  out.last_hidden = all_hidden_states ? out.hidden_states.back() : unpack(x);
  return out;
}

at::Tensor TransformerEncoder::pooler(const at::Tensor& last_hidden) const {
  if (!has_pooler()) throw Error("the checkpoint has no pooler weights (pooler.dense.*)");
  at::Tensor cls = last_hidden.select(1, 0).to(options_.dtype().toScalarType());
  return at::tanh(at::linear(cls, pooler_w_, pooler_b_));
}

void check_dtype_supported(at::Device device, at::ScalarType dtype, const std::string& dtype_name) {
  if (dtype == at::kFloat) return;
  try {
    c10::InferenceMode guard;
    auto o = at::TensorOptions().dtype(dtype).device(device);
    at::Tensor x = at::ones({2, 3, 4}, o), w = at::ones({4, 4}, o), b = at::zeros({4}, o);
    at::Tensor y = at::linear(x, w, b);
    y = at::layer_norm(y, {4}, at::ones({4}, o), b, 1e-12);
    y = at::gelu(y);
    at::Tensor s = at::baddbmm(at::zeros({2, 1, 3}, o), y, y.transpose(1, 2), 1.0, 0.5);
    s = at::softmax(s, -1);
    (void)at::bmm(s, y).sum().item<float>();
  } catch (const c10::Error& e) {
    std::string what = e.what_without_backtrace();
    throw Error("dtype " + dtype_name + " is not supported on " + device.str() +
                " by this libtorch (" + what.substr(0, what.find('\n')) +
                "); use float32" + (device.is_cpu() ? " or bfloat16" : ""));
  }
}

}  // namespace sbert::nn
