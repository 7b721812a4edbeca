// The eager forward of transformers' Qwen3Model / Gemma3TextModel over the architecture
// description: RMSNorm in float32 (the weight, or 1 + w), q/k norms, rotate_half rotary with a
// base per layer (angles in float32), grouped key/value heads repeated, scores + an additive mask
// (the dtype's lowest value where a key is padding or outside the layer's window), softmax in
// float32, gated MLP.
#include "nn/rotary_decoder.h"

#include <cmath>

#include "sbert/error.h"

namespace sbert::nn {

RotaryDecoder::RotaryDecoder(cpu::ModelConfig config, const WeightStore& store, const std::string& prefix,
                             at::TensorOptions options, const std::string& where)
    : config_(std::move(config)), options_(options), where_(where) {
  const cpu::ModelConfig& c = config_;
  const cpu::Architecture& a = *c.arch;
  if (a.norm_placement == cpu::NormPlacement::Post || a.norm == cpu::NormKind::LayerNorm ||
      a.positions != cpu::PositionKind::Rotary || a.mlp != cpu::MlpKind::Gated)
    throw Error(where + ": libtorch's executor has no blocks for architecture '" + a.name + "'");
  const cpu::TensorNames& n = a.tensors;
  const int64_t H = c.hidden_size, I = c.intermediate_size, d = c.head_dim();
  const int64_t Q = c.num_heads * d, KV = c.num_kv_heads * d;
  WeightLoader w(store, prefix, options, where);
  {
    const std::string last = n.layer_prefix + std::to_string(c.num_layers - 1) + "." + n.query + ".weight";
    if (!w.has(last))
      throw Error(where + ": config.json says " + std::to_string(c.num_layers) +
                  " layers but the checkpoint has no tensor '" + prefix + last + "'");
  }
  auto weight = [](const std::string& s) { return s + ".weight"; };
  word_ = w.take(weight(n.word_embeddings), {c.vocab_size, H});
  for (int64_t l = 0; l < c.num_layers; ++l) {
    const std::string p = n.layer_prefix + std::to_string(l) + ".";
    Layer L;
    L.q = w.take(weight(p + n.query), {Q, H});
    L.k = w.take(weight(p + n.key), {KV, H});
    L.v = w.take(weight(p + n.value), {KV, H});
    L.o = w.take(weight(p + n.attention_out), {H, Q});
    if (c.attention_bias) {
      L.qb = w.take(p + n.query + ".bias", {Q});
      L.kb = w.take(p + n.key + ".bias", {KV});
      L.vb = w.take(p + n.value + ".bias", {KV});
      L.ob = w.take(p + n.attention_out + ".bias", {H});
    }
    L.gate = w.take(weight(p + n.mlp_gate), {I, H});
    L.up = w.take(weight(p + n.mlp_up), {I, H});
    L.down = w.take(weight(p + n.mlp_down), {H, I});
    L.input = gain(w, p + n.input_norm, H);
    L.pre_mlp = gain(w, p + n.pre_mlp_norm, H);
    if (a.norm_placement == cpu::NormPlacement::Sandwich) {
      L.post_attention = gain(w, p + n.post_attention_norm, H);
      L.post_mlp = gain(w, p + n.post_mlp_norm, H);
    }
    if (n.q_norm) L.q_norm = gain(w, p + n.q_norm, d);
    if (n.k_norm) L.k_norm = gain(w, p + n.k_norm, d);
    layers_.push_back(std::move(L));
  }
  final_norm_ = gain(w, n.final_norm, H);
  w.finish();
}

at::Tensor RotaryDecoder::gain(WeightLoader& w, const std::string& name, int64_t n) const {
  at::Tensor g = w.take(name + ".weight", {n});
  if (!g.defined()) return g;
  g = g.to(at::kFloat);
  if (config_.arch->norm == cpu::NormKind::RMSNormOnePlus) g = g + 1.0;
  return g;
}

at::Tensor RotaryDecoder::rms(const at::Tensor& x, const at::Tensor& g) const {
  const at::Tensor xf = x.to(at::kFloat);
  const at::Tensor var = xf.pow(2).mean(-1, true);
  return (xf * at::rsqrt(var + config_.layer_norm_eps) * g).to(x.scalar_type());
}

namespace {

at::Tensor rotate_half(const at::Tensor& x) {
  const int64_t h = x.size(-1) / 2;
  return at::cat({-x.narrow(-1, h, h), x.narrow(-1, 0, h)}, -1);
}

}  // namespace

std::vector<at::Tensor> RotaryDecoder::forward(const at::Tensor& ids, const at::Tensor& mask, bool all) const {
  const cpu::ModelConfig& c = config_;
  const int64_t B = ids.size(0), L = ids.size(1), d = c.head_dim(), nh = c.num_heads, nkv = c.num_kv_heads;
  const at::ScalarType dt = options_.dtype().toScalarType();
  const auto dev = options_.device();
  const auto longs = at::TensorOptions().dtype(at::kLong).device(dev);
  if (L > c.max_input_length())
    throw Error("input of " + std::to_string(L) + " tokens exceeds the model's " +
                std::to_string(c.max_input_length()) + " positions");
  at::Tensor x = at::embedding(word_, ids);
  if (c.embedding_scale != 1.0)
    x = x * at::scalar_tensor(static_cast<float>(c.embedding_scale), at::TensorOptions().dtype(at::kFloat)).to(dt).item();
  std::vector<at::Tensor> states;
  if (all) states.push_back(x);
  const double lowest = dt == at::kFloat ? -3.4028234663852886e38 : dt == at::kHalf ? -65504.0 : -3.3895313892515355e38;
  const at::Tensor i = at::arange(L, longs).view({L, 1}), j = at::arange(L, longs).view({1, L});
  const at::Tensor keys = mask.to(at::kBool).view({B, 1, 1, L});
  std::map<std::pair<int64_t, int64_t>, at::Tensor> biases;
  std::map<double, std::pair<at::Tensor, at::Tensor>> rotations;
  const at::Tensor pos = at::arange(L, at::TensorOptions().dtype(at::kFloat).device(dev));
  for (size_t li = 0; li < layers_.size(); ++li) {
    const Layer& layer = layers_[li];
    const cpu::ModelConfig::LayerAttention& la = c.layer(li);
    at::Tensor& bias = biases[{la.left, la.right}];
    if (!bias.defined()) {
      at::Tensor ok = keys;
      if (la.left >= 0) ok = ok & (j >= i - la.left).view({1, 1, L, L});
      if (la.right >= 0) ok = ok & (j <= i + la.right).view({1, 1, L, L});
      bias = at::where(ok, at::zeros({}, options_), at::full({}, lowest, options_));
    }
    auto& rot = rotations[la.rope_theta];
    if (!rot.first.defined()) {
      const at::Tensor exps = at::arange(0, d, 2, at::TensorOptions().dtype(at::kLong).device(dev)).to(at::kFloat) / double(d);
      const at::Tensor inv = 1.0 / at::pow(at::scalar_tensor(la.rope_theta, at::TensorOptions().dtype(at::kFloat).device(dev)), exps);
      const at::Tensor freqs = pos.view({L, 1}) * inv.view({1, d / 2});
      const at::Tensor emb = at::cat({freqs, freqs}, -1);
      rot = {emb.cos().to(dt), emb.sin().to(dt)};
    }
    const at::Tensor h = rms(x, layer.input);
    at::Tensor q = at::linear(h, layer.q, layer.qb).view({B, L, nh, d});
    at::Tensor k = at::linear(h, layer.k, layer.kb).view({B, L, nkv, d});
    at::Tensor v = at::linear(h, layer.v, layer.vb).view({B, L, nkv, d}).transpose(1, 2);
    if (layer.q_norm.defined()) q = rms(q, layer.q_norm);
    if (layer.k_norm.defined()) k = rms(k, layer.k_norm);
    q = q.transpose(1, 2);
    k = k.transpose(1, 2);
    q = q * rot.first + rotate_half(q) * rot.second;
    k = k * rot.first + rotate_half(k) * rot.second;
    if (nkv != nh) {
      k = k.repeat_interleave(nh / nkv, 1);
      v = v.repeat_interleave(nh / nkv, 1);
    }
    at::Tensor scores = at::matmul(q, k.transpose(2, 3)) * static_cast<double>(c.scale()) + bias;
    const at::Tensor probs = at::softmax(scores, -1, at::kFloat).to(dt);
    const at::Tensor ctx = at::matmul(probs, v).transpose(1, 2).reshape({B, L, nh * d});
    at::Tensor o = at::linear(ctx, layer.o, layer.ob);
    if (layer.post_attention.defined()) o = rms(o, layer.post_attention);
    x = x + o;
    const at::Tensor m = rms(x, layer.pre_mlp);
    at::Tensor g = at::linear(m, layer.gate);
    switch (cpu::parse_activation(c.activation, where_)) {
      case cpu::Activation::Silu: g = at::silu(g); break;
      case cpu::Activation::GeluTanh: g = at::gelu(g, "tanh"); break;
      case cpu::Activation::GeluErf: g = at::gelu(g); break;
      case cpu::Activation::Relu: g = at::relu(g); break;
      default: throw Error(where_ + ": unsupported activation '" + c.activation + "' for a gated MLP");
    }
    at::Tensor f = at::linear(g * at::linear(m, layer.up), layer.down);
    if (layer.post_mlp.defined()) f = rms(f, layer.post_mlp);
    x = x + f;
    if (all && li + 1 < layers_.size()) states.push_back(x);
  }
  x = rms(x, final_norm_);
  states.push_back(x);
  return states;
}

}  // namespace sbert::nn
