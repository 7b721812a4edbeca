// The encoder's parameters, read as the architecture description names them: embeddings,
// separate or fused q/k/v, plain, gated or fused-gated MLPs, the norms of each placement.
#include <algorithm>

#include "cpu/encoder.h"
#include "sbert/error.h"

namespace sbert::cpu {
namespace {

std::vector<float> copy(const Floats& f) { return f.empty() ? std::vector<float>() : std::vector<float>(f.begin(), f.end()); }
std::string w(const std::string& s) { return s + ".weight"; }
std::string b(const std::string& s) { return s + ".bias"; }

// Rows [first, first + rows) of a [.., cols] parameter as a view that keeps the parameter alive.
Floats rows_of(const Floats& f, int64_t first, int64_t rows, int64_t cols) {
  Floats v;
  auto whole = std::make_shared<std::vector<float>>();
  if (f.own.empty()) {
    v.keep = f.keep;
  } else {
    // The parameter owns a converted copy: share it (a Floats cannot be copied).
    whole->assign(f.begin(), f.end());
    v.keep = whole;
  }
  const float* base = f.own.empty() ? f.data : whole->data();
  v.data = base + first * cols;
  v.size = static_cast<size_t>(rows * cols);
  return v;
}

}  // namespace

Encoder::Encoder(ModelConfig config, std::shared_ptr<const TensorFile> file, const std::string& prefix,
                 const std::string& where, bool int8)
    : file_(std::move(file)), config_(std::move(config)), where_(where), int8_(int8) {
  const ModelConfig& c = config_;
  const Architecture& a = *c.arch;
  const bool post = a.norm_placement == NormPlacement::Post;
  const bool rms = a.norm == NormKind::RMSNorm || a.norm == NormKind::RMSNormOnePlus;
  if (a.attention != AttentionKind::Bidirectional && post)
    throw Error(where + ": the CPU runtime has no executor for the blocks of architecture '" + a.name + "'");
  if (post ? a.norm != NormKind::LayerNorm : (!rms && a.norm_placement == NormPlacement::Sandwich))
    throw Error(where + ": the CPU runtime has no executor for the blocks of architecture '" + a.name + "'");
  act_ = parse_activation(c.activation, where);
  const TensorNames& n = a.tensors;
  const int64_t H = c.hidden_size, E = c.embedding_size;
  ParameterReader r(*file_, prefix, where);
  {
    // Fail fast when the config promises more layers than the checkpoint holds (a huge
    // num_hidden_layers would otherwise list millions of missing tensors first).
    const std::string last = n.layer_prefix + std::to_string(c.num_layers - 1) + "." + (n.qkv ? n.qkv : n.query) + ".weight";
    if (!r.has(last))
      throw Error(where + ": config.json says " + std::to_string(c.num_layers) +
                  " layers but the checkpoint has no tensor '" + prefix + last + "'");
  }
  word_ = r.take(w(n.word_embeddings), {c.vocab_size, E});
  if (n.position_embeddings) position_ = r.take(w(n.position_embeddings), {c.max_position_embeddings, E});
  if (n.token_type_embeddings && c.type_vocab_size > 0) token_type_ = r.take(w(n.token_type_embeddings), {c.type_vocab_size, E});
  if (n.embeddings_norm) {
    emb_norm_w_ = copy(r.take(w(n.embeddings_norm), {E}));
    emb_norm_b_ = read_norm_bias(r, n.embeddings_norm, E);
  }
  if (n.embeddings_project && E != H) project_ = read_linear(r, n.embeddings_project, H, E, true, false);
  if (n.relative_attention_bias)
    relative_bias_ = r.take(w(n.relative_attention_bias), {c.relative_buckets, c.num_heads});
  for (int64_t l = 0; l < c.num_layers; ++l) {
    const std::string p = n.layer_prefix + std::to_string(l) + ".";
    Layer L;
    read_attention(r, p, L);
    if (post)
      read_post_norm_layer(r, p, L);
    else
      read_pre_norm_layer(r, p, L);
    layers_.push_back(std::move(L));
  }
  if (n.final_norm) {
    final_norm_ = read_gain(r, n.final_norm, H);
    if (!rms) final_norm_b_ = read_norm_bias(r, n.final_norm, H);
  }
  if (n.pooler && r.has(w(n.pooler)) && r.has(b(n.pooler))) pooler_ = read_linear(r, n.pooler, H, H, true, false);
  r.finish();
}

// q, k and v as one [(heads + 2 kv_heads) * head_dim, H] GEMM: three tensors stacked, or the
// checkpoint's fused one.
void Encoder::read_attention(ParameterReader& r, const std::string& p, Layer& L) const {
  const ModelConfig& c = config_;
  const TensorNames& n = c.arch->tensors;
  const int64_t H = c.hidden_size, Q = c.num_heads * c.head_dim(), KV = c.num_kv_heads * c.head_dim();
  const bool bias = c.attention_bias;
  if (n.qkv) {
    L.qkv = read_linear(r, p + n.qkv, Q + 2 * KV, H, bias, int8_);
  } else {
    Floats qw = r.take(w(p + n.query), {Q, H}), kw = r.take(w(p + n.key), {KV, H}), vw = r.take(w(p + n.value), {KV, H});
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
      L.qkv = Linear(std::move(parts), H, std::move(qkv_b), int8_,
                     r.releaser({w(p + n.query), w(p + n.key), w(p + n.value)}));
    }
  }
  L.out = read_linear(r, p + n.attention_out, H, Q, bias, int8_);
}

// Plain: up [I, H]. Gated: gate and up as one [2I, H] GEMM, gate rows first (two tensors, or a
// fused one in either order).
void Encoder::read_mlp(ParameterReader& r, const std::string& p, Layer& L) const {
  const ModelConfig& c = config_;
  const int64_t H = c.hidden_size, I = c.intermediate_size;
  read_gated_or_plain_up(r, p, L);
  L.down = read_linear(r, p + c.arch->tensors.mlp_down, H, I, c.mlp_down_bias, int8_);
}

void Encoder::read_gated_or_plain_up(ParameterReader& r, const std::string& p, Layer& L) const {
  const ModelConfig& c = config_;
  const TensorNames& n = c.arch->tensors;
  const int64_t H = c.hidden_size, I = c.intermediate_size;
  const bool up_bias = c.mlp_up_bias;
  if (c.arch->mlp != MlpKind::Gated) {
    L.up = read_linear(r, p + n.mlp_up, I, H, up_bias, int8_);
    return;
  }
  if (n.mlp_gate_up) {  // already [gate | up]
    L.up = read_linear(r, p + n.mlp_gate_up, 2 * I, H, up_bias, int8_);
    return;
  }
  std::vector<Floats> parts;
  std::vector<float> bias;
  std::vector<std::string> names;
  if (n.mlp_up_gate) {  // [up | gate]: the halves swapped
    const std::string name = p + n.mlp_up_gate;
    Floats fw = r.take(w(name), {2 * I, H}), fb;
    if (up_bias) fb = r.take(b(name), {2 * I});
    if (fw.empty() || (up_bias && fb.empty())) return;  // reported by finish()
    parts.push_back(rows_of(fw, I, I, H));
    parts.push_back(rows_of(fw, 0, I, H));
    if (up_bias) {
      bias.assign(fb.begin() + I, fb.end());
      bias.insert(bias.end(), fb.begin(), fb.begin() + I);
    }
    names = {w(name)};
  } else {
    Floats gw = r.take(w(p + n.mlp_gate), {I, H}), uw = r.take(w(p + n.mlp_up), {I, H});
    Floats gb, ub;
    if (up_bias) gb = r.take(b(p + n.mlp_gate), {I}), ub = r.take(b(p + n.mlp_up), {I});
    if (gw.empty() || uw.empty() || (up_bias && (gb.empty() || ub.empty()))) return;
    if (up_bias)
      for (const Floats* f : {&gb, &ub}) bias.insert(bias.end(), f->begin(), f->end());
    parts.push_back(std::move(gw));
    parts.push_back(std::move(uw));
    names = {w(p + n.mlp_gate), w(p + n.mlp_up)};
  }
  L.up = Linear(std::move(parts), H, std::move(bias), int8_, r.releaser(std::move(names)));
}

void Encoder::read_post_norm_layer(ParameterReader& r, const std::string& p, Layer& L) const {
  const ModelConfig& c = config_;
  const TensorNames& n = c.arch->tensors;
  const int64_t H = c.hidden_size;
  L.norm1_w = copy(r.take(w(p + n.attention_norm), {H}));
  L.norm1_b = read_norm_bias(r, p + n.attention_norm, H);
  read_mlp(r, p, L);
  L.norm2_w = copy(r.take(w(p + n.mlp_norm), {H}));
  L.norm2_b = read_norm_bias(r, p + n.mlp_norm, H);
}

void Encoder::read_pre_norm_layer(ParameterReader& r, const std::string& p, Layer& L) const {
  const ModelConfig& c = config_;
  const Architecture& a = *c.arch;
  const TensorNames& n = a.tensors;
  const int64_t H = c.hidden_size, d = c.head_dim();
  const bool layer_norm = a.norm == NormKind::LayerNorm;
  if (!layers_.empty() || a.first_layer_input_norm) {
    L.input = read_gain(r, p + n.input_norm, H);
    if (layer_norm) L.input_b = read_norm_bias(r, p + n.input_norm, H);
  }
  L.pre_mlp = read_gain(r, p + n.pre_mlp_norm, H);
  if (layer_norm) L.pre_mlp_b = read_norm_bias(r, p + n.pre_mlp_norm, H);
  if (a.norm_placement == NormPlacement::Sandwich) {
    L.post_attention = read_gain(r, p + n.post_attention_norm, H);
    L.post_mlp = read_gain(r, p + n.post_mlp_norm, H);
  }
  if (n.q_norm) L.q_norm = read_gain(r, p + n.q_norm, d);
  if (n.k_norm) L.k_norm = read_gain(r, p + n.k_norm, d);
  read_mlp(r, p, L);
}

// A norm's weight: for RMSNormOnePlus 1 + w (in float, as Gemma's norm computes it).
std::vector<float> Encoder::read_gain(ParameterReader& r, const std::string& name, int64_t n) const {
  std::vector<float> g = copy(r.take(w(name), {n}));
  if (config_.arch->norm == NormKind::RMSNormOnePlus)
    for (float& v : g) v = 1.0f + v;
  return g;
}

// A LayerNorm's bias, or zeros without one (norm_bias false): x * w + 0 is x * w exactly.
std::vector<float> Encoder::read_norm_bias(ParameterReader& r, const std::string& name, int64_t n) const {
  if (!config_.norm_bias) return std::vector<float>(static_cast<size_t>(n), 0.0f);
  return copy(r.take(b(name), {n}));
}

}  // namespace sbert::cpu
