// sbert's CPU executor of an architecture description (cpu/architecture.h), without libtorch:
// float32 or --quantize int8 inference over packed tokens (padding removed: the position-wise
// layers run on the T real tokens of a batch as [T, H] rows; attention per sequence straight
// from the fused QKV rows), every stage on cpu_pool's threads with sbert's kernels (packed GEMM,
// int8 GEMM, attention, norms, activations). A token's vector depends on its own sequence only:
// not on the batch, the thread count or the split.
#pragma once
#include <array>
#include <functional>
#include <memory>
#include <mutex>
#include <utility>
#include <string>
#include <vector>

#include "cpu/model_config.h"
#include "cpu/packed_gemm.h"
#include "cpu/quantized_linear.h"
#include "cpu/tensor_file.h"
#include "cpu/weights.h"

namespace sbert::cpu {

// A Linear layer and its bias (empty: none). float32: the weight is used where it lies (the
// checkpoint's memory map, or its float32 copy) until the first product of at least
// kPackRows rows packs it (PackedWeight); both kernels give the same bits, so a one-sentence run
// never copies the weights and a long one runs on packed panels. int8: quantized and packed at
// load (QuantizedLinear).
class Linear {
 public:
  static constexpr int64_t kPackRows = 96;
  Linear() = default;
  // The rows of one or more weights stacked (q, k, v into one projection): parts of `rows` x in,
  // kept alive by `keep`. `release`, if given, runs once the weight is packed (the checkpoint's
  // pages can go).
  Linear(std::vector<Floats> parts, int64_t in, std::vector<float> bias, bool int8,
         std::function<void()> release = nullptr);
  // out [M, outputs()] = x [M, inputs()] · wᵀ, then `epilogue` on the result (the bias is the
  // caller's: its epilogue adds it); without an epilogue the bias, when there is one, is added.
  void forward(const float* x, int64_t M, float* out, const GemmEpilogue* epilogue = nullptr) const;
  const float* bias() const { return bias_.empty() ? nullptr : bias_.data(); }
  int64_t inputs() const { return in_; }
  int64_t outputs() const { return out_; }
  bool defined() const { return defined_; }

 private:
  struct State;
  int64_t in_ = 0, out_ = 0;
  bool defined_ = false;
  std::shared_ptr<State> state_;
  std::vector<float> bias_;
};

// Reads a Linear (name.weight [out, in], name.bias [out] when `bias`) and drops the checkpoint's
// pages of the weight once it is packed.
Linear read_linear(ParameterReader& r, const std::string& name, int64_t out, int64_t in, bool bias, bool int8);

// The real tokens of a batch in sequence order: sequence s owns rows [offsets[s], offsets[s+1]).
struct TokenBatch {
  std::vector<int64_t> ids;
  std::vector<int64_t> types;    // one per token, or empty: zeros
  std::vector<int64_t> offsets;  // sequences + 1 entries, offsets[0] = 0
  int64_t sequences() const { return static_cast<int64_t>(offsets.size()) - 1; }
  int64_t tokens() const { return static_cast<int64_t>(ids.size()); }
};

class Encoder {
 public:
  // Reads the encoder's parameters from `file` under `prefix` as the description names them; one
  // error (naming `where`) lists every missing tensor and shape mismatch. int8: the layers' four
  // Linear weights are quantized per output channel (QuantizedLinear); embeddings, norms,
  // attention and the pooler stay float32.
  // The encoder keeps `file` open: its float32 weights are used in place until packed.
  Encoder(ModelConfig config, std::shared_ptr<const TensorFile> file, const std::string& prefix,
          const std::string& where, bool int8);

  // The last layer's hidden states [T, H] (row t: token t of the batch). With `all`, also every
  // state: the embeddings' output and each layer's (num_layers + 1 entries, the last one equal to
  // the result). Errors: a sequence longer than the positions, ids outside the tables.
  std::vector<float> forward(const TokenBatch& batch, std::vector<std::vector<float>>* all = nullptr) const;

  bool has_pooler() const { return pooler_.defined(); }
  // tanh(dense(x)) for n rows of [n, H] (the sequences' first tokens): BERT's pooler.
  std::vector<float> pooler(const float* rows, int64_t n) const;

  const ModelConfig& config() const { return config_; }
  bool quantized() const { return int8_; }
  const std::string& where() const { return where_; }

 private:
  struct Layer {
    Linear qkv, out, up, down;  // up: [gate | up] stacked for a Gated MLP
    std::vector<float> norm1_w, norm1_b, norm2_w, norm2_b;  // Post: after attention, after the MLP
    // Pre / Sandwich (RMSNorm gains, (1 + w) already applied; LayerNorm weights and biases, zeros
    // without norm_bias): before attention (none: identity), on its output, before the MLP, on its
    // output; per-head query and key norms.
    std::vector<float> input, input_b, post_attention, pre_mlp, pre_mlp_b, post_mlp, q_norm, k_norm;
  };
  // cos / sin of the rotary angles of one base for positions [0, positions).
  struct RotaryTable {
    int64_t positions = 0;
    std::vector<float> cos, sin;
  };
  void check(const TokenBatch& batch) const;
  std::vector<float> embed(const TokenBatch& batch) const;
  // encoder_load.cpp: the parameters of one layer (p: its prefix).
  void read_attention(ParameterReader& r, const std::string& p, Layer& L) const;
  void read_mlp(ParameterReader& r, const std::string& p, Layer& L) const;
  void read_gated_or_plain_up(ParameterReader& r, const std::string& p, Layer& L) const;
  void read_post_norm_layer(ParameterReader& r, const std::string& p, Layer& L) const;
  void read_pre_norm_layer(ParameterReader& r, const std::string& p, Layer& L) const;
  std::vector<float> read_gain(ParameterReader& r, const std::string& name, int64_t n) const;
  std::vector<float> read_norm_bias(ParameterReader& r, const std::string& name, int64_t n) const;
  std::vector<float> forward_post_norm(const TokenBatch& batch, std::vector<float> x,
                                       std::vector<std::vector<float>>* all) const;
  std::vector<float> forward_pre_norm(const TokenBatch& batch, std::vector<float> x,
                                      std::vector<std::vector<float>>* all) const;
  std::shared_ptr<const RotaryTable> rotary(double theta, int64_t positions) const;
  // Each token's position in its sequence; `longest`: the longest sequence.
  static std::vector<int64_t> positions(const TokenBatch& batch, int64_t& longest);
  // The per-head query / key norms and the rotation (table null: none) of every token's queries
  // and keys in the fused rows of `qkv`.
  void rotate(float* qkv, const std::vector<int64_t>& pos, const RotaryTable* table, const Layer& layer) const;
  // out = norm(in) for the T rows [T, H]: the architecture's RMSNorm (gain) or LayerNorm.
  void norm_rows(const float* in, float* out, int64_t T, const std::vector<float>& gain,
                 const std::vector<float>& bias) const;
  // The attention of every (sequence, head) of a batch, windowed as layer l and with the
  // relative position bias (when the model has one; computed once per batch in `bias`).
  // The relative position bias [heads, longest, longest] of every layer, or empty (none).
  std::vector<float> relative_bias(int64_t longest) const;
  // The MLP's first half on `rows` rows of `in`: up (gated: [gate | up] into `up_out`, then
  // act(gate) * up into `gated_out`), the activation fused as an epilogue otherwise; returns the
  // down projection's input.
  const float* mlp_up(const Layer& layer, const float* in, int64_t rows, float* up_out, float* gated_out) const;
  void attend(const float* qkv, float* ctx, const TokenBatch& batch, size_t l, const std::vector<float>& bias,
              int64_t bias_stride) const;

  std::shared_ptr<const TensorFile> file_;
  ModelConfig config_;
  std::string where_;
  bool int8_ = false;
  Activation act_ = Activation::GeluErf;
  Floats word_, position_, token_type_;
  std::vector<float> emb_norm_w_, emb_norm_b_, final_norm_, final_norm_b_;
  Floats relative_bias_;  // [buckets, heads] (TensorNames::relative_attention_bias)
  Linear project_, pooler_;
  std::vector<Layer> layers_;
  mutable std::mutex rotary_mu_;
  mutable std::vector<std::pair<double, std::shared_ptr<const RotaryTable>>> rotary_;
};

}  // namespace sbert::cpu
