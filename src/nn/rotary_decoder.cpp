// The eager forward of transformers' Qwen3Model / Gemma3TextModel over the architecture
// description: RMSNorm in float32 (the weight, or 1 + w), q/k norms, rotate_half rotary with a
// base per layer (angles in float32), grouped key/value heads repeated, scores + an additive mask
// (the dtype's lowest value where a key is padding or outside the layer's window), softmax in
// float32, gated MLP.
#include "nn/rotary_decoder.h"

#include <cmath>

#include "sbert/error.h"

namespace sbert::nn {

bool rotary_decoder_blocks(const cpu::Architecture& a) {
  return a.norm_placement != cpu::NormPlacement::Post &&
         (a.norm == cpu::NormKind::RMSNorm || a.norm == cpu::NormKind::RMSNormOnePlus) &&
         a.positions == cpu::PositionKind::Rotary && a.mlp == cpu::MlpKind::Gated && a.tensors.query != nullptr &&
         a.tensors.qkv == nullptr && a.tensors.relative_attention_bias == nullptr;
}

std::vector<std::pair<std::string, std::vector<int64_t>>> rotary_decoder_parameters(const cpu::ModelConfig& c) {
  const cpu::Architecture& a = *c.arch;
  const cpu::TensorNames& n = a.tensors;
  const int64_t H = c.hidden_size, I = c.intermediate_size, d = c.head_dim();
  const int64_t Q = c.num_heads * d, KV = c.num_kv_heads * d;
  std::vector<std::pair<std::string, std::vector<int64_t>>> out;
  auto add = [&](const std::string& name, std::vector<int64_t> shape) { out.emplace_back(name, std::move(shape)); };
  add(std::string(n.word_embeddings) + ".weight", {c.vocab_size, H});
  for (int64_t l = 0; l < c.num_layers; ++l) {
    const std::string p = n.layer_prefix + std::to_string(l) + ".";
    add(p + n.query + ".weight", {Q, H});
    add(p + n.key + ".weight", {KV, H});
    add(p + n.value + ".weight", {KV, H});
    add(p + n.attention_out + ".weight", {H, Q});
    if (c.attention_bias) {
      add(p + n.query + ".bias", {Q});
      add(p + n.key + ".bias", {KV});
      add(p + n.value + ".bias", {KV});
      add(p + n.attention_out + ".bias", {H});
    }
    add(p + n.mlp_gate + ".weight", {I, H});
    add(p + n.mlp_up + ".weight", {I, H});
    add(p + n.mlp_down + ".weight", {H, I});
    add(p + n.input_norm + ".weight", {H});
    add(p + n.pre_mlp_norm + ".weight", {H});
    if (a.norm_placement == cpu::NormPlacement::Sandwich) {  // the forward reads them only then
      add(p + n.post_attention_norm + ".weight", {H});
      add(p + n.post_mlp_norm + ".weight", {H});
    }
    if (n.q_norm) add(p + n.q_norm + ".weight", {d});
    if (n.k_norm) add(p + n.k_norm + ".weight", {d});
  }
  add(std::string(n.final_norm) + ".weight", {H});
  return out;
}

RotaryDecoder::RotaryDecoder(cpu::ModelConfig config, const WeightStore& store, const std::string& prefix,
                             at::TensorOptions options, const std::string& where)
    : config_(std::move(config)), options_(options) {
  const cpu::ModelConfig& c = config_;
  const cpu::Architecture& a = *c.arch;
  if (!rotary_decoder_blocks(a))
    throw Error(where + ": architecture '" + a.name +
                "' runs on sbert's CPU runtime (float32 or --quantize int8) only; libtorch's executor (CUDA, "
                "float16/bfloat16, training) has no blocks for it yet");
  const cpu::TensorNames& n = a.tensors;
  WeightLoader w(store, prefix, options, where);
  const std::string last = n.layer_prefix + std::to_string(c.num_layers - 1) + "." + n.query + ".weight";
  if (!w.has(last))
    throw Error(where + ": config.json says " + std::to_string(c.num_layers) +
                " layers but the checkpoint has no tensor '" + prefix + last + "'");
  for (const auto& [name, shape] : rotary_decoder_parameters(c)) params_[name] = w.take(name, shape);
  w.finish();
}

std::vector<at::Tensor> RotaryDecoder::forward(const at::Tensor& ids, const at::Tensor& mask, bool all) const {
  return rotary_decoder_forward(config_, [this](const std::string& name) -> const at::Tensor& { return params_.at(name); },
                                ids, mask, all);
}

namespace {

at::Tensor rotate_half(const at::Tensor& x) {
  const int64_t h = x.size(-1) / 2;
  return at::cat({-x.narrow(-1, h, h), x.narrow(-1, 0, h)}, -1);
}

}  // namespace

std::vector<at::Tensor> rotary_decoder_forward(const cpu::ModelConfig& c, const DecoderParameter& P,
                                               const at::Tensor& ids, const at::Tensor& mask, bool all,
                                               double attention_dropout, bool train) {
  const cpu::Architecture& a = *c.arch;
  const cpu::TensorNames& n = a.tensors;
  const int64_t B = ids.size(0), L = ids.size(1), d = c.head_dim(), nh = c.num_heads, nkv = c.num_kv_heads;
  const at::Tensor& word = P(std::string(n.word_embeddings) + ".weight");
  const at::ScalarType dt = word.scalar_type();
  const auto dev = word.device();
  const auto longs = at::TensorOptions().dtype(at::kLong).device(dev);
  const auto opts = at::TensorOptions().dtype(dt).device(dev);
  if (L > c.max_input_length())
    throw Error("input of " + std::to_string(L) + " tokens exceeds the model's " +
                std::to_string(c.max_input_length()) + " positions");
  // RMSNorm in float32: x * rsqrt(mean(x^2) + eps) * (w, or 1 + w), back to the input's dtype.
  auto rms = [&](const at::Tensor& x, const std::string& name) {
    at::Tensor g = P(name + ".weight").to(at::kFloat);
    if (a.norm == cpu::NormKind::RMSNormOnePlus) g = g + 1.0;
    const at::Tensor xf = x.to(at::kFloat);
    return (xf * at::rsqrt(xf.pow(2).mean(-1, true) + c.layer_norm_eps) * g).to(x.scalar_type());
  };
  auto bias_of = [&](const std::string& name) { return c.attention_bias ? P(name + ".bias") : at::Tensor(); };
  const cpu::Activation act = cpu::parse_activation(c.activation, "config.json");
  at::Tensor x = at::embedding(word, ids);
  if (c.embedding_scale != 1.0)
    x = x * at::scalar_tensor(static_cast<float>(c.embedding_scale), at::TensorOptions().dtype(at::kFloat)).to(dt).item();
  std::vector<at::Tensor> states;
  if (all) states.push_back(x);
  const double lowest = dt == at::kFloat ? -3.4028234663852886e38 : dt == at::kHalf ? -65504.0 : -3.3895313892515355e38;
  const at::Tensor qi = at::arange(L, longs).view({L, 1}), kj = at::arange(L, longs).view({1, L});
  const at::Tensor keys = mask.to(at::kBool).view({B, 1, 1, L});
  std::map<std::pair<int64_t, int64_t>, at::Tensor> biases;
  std::map<double, std::pair<at::Tensor, at::Tensor>> rotations;
  const at::Tensor pos = at::arange(L, at::TensorOptions().dtype(at::kFloat).device(dev));
  for (int64_t li = 0; li < c.num_layers; ++li) {
    const std::string p = n.layer_prefix + std::to_string(li) + ".";
    const cpu::ModelConfig::LayerAttention& la = c.layer(static_cast<size_t>(li));
    at::Tensor& bias = biases[{la.left, la.right}];
    if (!bias.defined()) {
      at::Tensor ok = keys;
      if (la.left >= 0) ok = ok & (kj >= qi - la.left).view({1, 1, L, L});
      if (la.right >= 0) ok = ok & (kj <= qi + la.right).view({1, 1, L, L});
      bias = at::where(ok, at::zeros({}, opts), at::full({}, lowest, opts));
    }
    auto& rot = rotations[la.rope_theta];
    if (!rot.first.defined()) {
      const at::Tensor exps = at::arange(0, d, 2, longs).to(at::kFloat) / double(d);
      const at::Tensor inv =
          1.0 / at::pow(at::scalar_tensor(la.rope_theta, at::TensorOptions().dtype(at::kFloat).device(dev)), exps);
      const at::Tensor freqs = pos.view({L, 1}) * inv.view({1, d / 2});
      const at::Tensor emb = at::cat({freqs, freqs}, -1);
      rot = {emb.cos().to(dt), emb.sin().to(dt)};
    }
    const at::Tensor h = rms(x, p + n.input_norm);
    at::Tensor q = at::linear(h, P(p + n.query + ".weight"), bias_of(p + n.query)).view({B, L, nh, d});
    at::Tensor k = at::linear(h, P(p + n.key + ".weight"), bias_of(p + n.key)).view({B, L, nkv, d});
    at::Tensor v = at::linear(h, P(p + n.value + ".weight"), bias_of(p + n.value)).view({B, L, nkv, d}).transpose(1, 2);
    if (n.q_norm) q = rms(q, p + n.q_norm);
    if (n.k_norm) k = rms(k, p + n.k_norm);
    q = q.transpose(1, 2);
    k = k.transpose(1, 2);
    q = q * rot.first + rotate_half(q) * rot.second;
    k = k * rot.first + rotate_half(k) * rot.second;
    if (nkv != nh) {
      k = k.repeat_interleave(nh / nkv, 1);
      v = v.repeat_interleave(nh / nkv, 1);
    }
    const at::Tensor scores = at::matmul(q, k.transpose(2, 3)) * static_cast<double>(c.scale()) + bias;
    at::Tensor probs = at::softmax(scores, -1, at::kFloat).to(dt);
    if (train && attention_dropout > 0) probs = at::dropout(probs, attention_dropout, true);
    const at::Tensor ctx = at::matmul(probs, v).transpose(1, 2).reshape({B, L, nh * d});
    at::Tensor o = at::linear(ctx, P(p + n.attention_out + ".weight"), bias_of(p + n.attention_out));
    if (a.norm_placement == cpu::NormPlacement::Sandwich) o = rms(o, p + n.post_attention_norm);
    x = x + o;
    const at::Tensor m = rms(x, p + n.pre_mlp_norm);
    at::Tensor g = at::linear(m, P(p + n.mlp_gate + ".weight"));
    switch (act) {
      case cpu::Activation::Silu: g = at::silu(g); break;
      case cpu::Activation::GeluTanh: g = at::gelu(g, "tanh"); break;
      case cpu::Activation::GeluErf: g = at::gelu(g); break;
      case cpu::Activation::Relu: g = at::relu(g); break;
      default: throw Error("config.json: unsupported activation '" + c.activation + "' for a gated MLP");
    }
    at::Tensor f = at::linear(g * at::linear(m, P(p + n.mlp_up + ".weight")), P(p + n.mlp_down + ".weight"));
    if (a.norm_placement == cpu::NormPlacement::Sandwich) f = rms(f, p + n.post_mlp_norm);
    x = x + f;
    if (all && li + 1 < c.num_layers) states.push_back(x);
  }
  states.push_back(rms(x, n.final_norm));
  return states;
}

}  // namespace sbert::nn
