// Plain C++ float32 kernels for the CPU inference path of the encoder (no libtorch here): self-
// attention over packed tokens (padding removed) read straight from the fused QKV projection,
// bias + residual + LayerNorm, and bias + GELU. Loops vectorise over independent outputs or over
// a fixed set of 16 partial sums, so no sum's order depends on the SIMD width or the thread count:
// on one machine the bits never change with --threads. Across machines they may differ in the
// last place (the AVX2 / AVX-512 builds fuse multiply-adds, the baseline build cannot), as
// OpenBLAS's per-CPU kernels do.
#pragma once
#include <cstdint>
#include <vector>

namespace sbert::cpu {

// The element-wise activations (config.json's hidden_act, the Dense modules', the heads').
enum class Activation { GeluErf, GeluTanh, Relu, Silu, QuickGelu, Tanh, Sigmoid, Identity };

// qkv: [T, 3H] rows of the fused projection, bias included (queries | keys | values, each
// `heads` blocks of `head_dim`). Sequence s owns tokens [offsets[s], offsets[s+1]) and attends to
// exactly those. ctx: [T, H], head h of token t at ctx[t*H + h*head_dim]. Computes the items
// (sequence, head) in [item_begin, item_end) of sequences * heads, so callers can split the work.
void packed_attention(const float* qkv, float* ctx, const int64_t* offsets, int64_t heads,
                      int64_t head_dim, float scale, int64_t item_begin, int64_t item_end);

// The general form: `heads` query heads sharing `kv_heads` key/value heads (grouped-query
// attention: query head h reads kv head h / (heads / kv_heads)), qkv rows of
// (heads + 2 kv_heads) * head_dim (queries | keys | values), ctx rows of heads * head_dim; and a
// window (-1: unbounded on that side): query i sees the keys j of its sequence with
// i - window_left <= j <= i + window_right (causal: window_right 0). `bias`, when given, is added
// to the scaled scores (before the softmax) of every sequence: query i, key j of head h get
// bias[(h * bias_stride + i) * bias_stride + j] (positions within the sequence; bias_stride at
// least its longest length): MPNet's relative position bias.
struct AttentionLayout {
  int64_t heads, kv_heads, head_dim;
  float scale;
  int64_t window_left = -1, window_right = -1;
  const float* bias = nullptr;
  int64_t bias_stride = 0;
};
void packed_attention(const float* qkv, float* ctx, const int64_t* offsets, const AttentionLayout& layout,
                      int64_t item_begin, int64_t item_end);

// out[r] = in[r] * (1 / sqrt(mean(in[r]^2) + eps)) * gain, then + residual[r] when given, for
// rows [row_begin, row_end) of [rows, cols] with row stride ld (in may equal out). The mean in
// double, the rest in float as transformers' RMSNorm (x * rsqrt(var + eps), then the weight).
// Gemma's (1 + w) is the caller's gain.
void rms_norm(const float* in, float* out, int64_t ld, const float* gain, const float* residual, int64_t cols,
              float eps, int64_t row_begin, int64_t row_end);

// Rotary positions on one head vector x[0, d) in place (transformers' rotate_half layout):
// x[i] = x[i] cos[i] - x[i + d/2] sin[i], x[i + d/2] = x[i + d/2] cos[i] + x[i] sin[i] for
// i < d/2, with cos/sin of the angle position * inv_freq[i] (rotary_table).
void rotate_half(float* x, int64_t d, const float* cos, const float* sin);
// The interleaved layout (GPT-J, flash-attn's interleaved=True): pairs (2i, 2i + 1) for i < d/2,
// x[2i] = x[2i] cos[i] - x[2i + 1] sin[i], x[2i + 1] = x[2i + 1] cos[i] + x[2i] sin[i].
void rotate_interleaved(float* x, int64_t d, const float* cos, const float* sin);
// cos and sin [positions, d/2] of the angles float(p) * inv_freq[i], inv_freq[i] =
// 1 / theta^(2i/d) (then / float(divisor) unless it is 1: GTE's NTK scaling), each step in
// float32 as transformers computes them.
void rotary_table(double theta, int64_t d, int64_t positions, std::vector<float>& cos, std::vector<float>& sin,
                  double divisor = 1);

// out[r, i] = act(gu[r, i]) * gu[r, inter + i] for rows [row_begin, row_end): a gated MLP's
// fused [gate | up] product (row stride 2 inter) to its [rows, inter] input of the down layer.
void gated_activation(const float* gu, int64_t inter, Activation act, float* out, int64_t row_begin,
                      int64_t row_end);

// x[r, c] += bias[c] for the rows [row_begin, row_end) and columns [col_begin, col_end) of a
// matrix with row stride ld.
void add_bias(float* x, int64_t ld, const float* bias, int64_t col_begin, int64_t col_end, int64_t row_begin,
              int64_t row_end);

// x[r] = LayerNorm(x[r] + bias + residual[r]) * gamma + beta for rows [row_begin, row_end) of
// [rows, cols] (bias and residual may be null). Mean and variance in two passes.
void add_layer_norm(float* x, const float* bias, const float* residual, const float* gamma,
                    const float* beta, int64_t cols, float eps, int64_t row_begin, int64_t row_end);

// x[r, c] = gelu(x[r, c] + bias[c]) (the erf form, as torch.nn.functional.gelu) for the rows
// [row_begin, row_end) and columns [col_begin, col_end) of a matrix with row stride ld. Element by
// element: the bits do not depend on how the block is split.
void bias_gelu(float* x, int64_t ld, const float* bias, int64_t col_begin, int64_t col_end,
               int64_t row_begin, int64_t row_end);

// x[r, c] = act(x[r, c] + bias[c]) (bias may be null) on the same block as bias_gelu. GeluErf is
// bias_gelu's; the others from exp_approx: tanh(u) = sign(u) (1 - e) / (1 + e) with
// e = exp(-2|u|), sigmoid(u) = 1 / (1 + exp(-u)), gelu_tanh(u) = u/2 (1 + tanh(0.79788456 (u +
// 0.044715 u^3))), silu(u) = u sigmoid(u), quick_gelu(u) = u sigmoid(1.702 u): within ~2e-7 of
// libtorch's, element by element.
void bias_activation(float* x, int64_t ld, const float* bias, Activation act, int64_t col_begin, int64_t col_end,
                     int64_t row_begin, int64_t row_end);

// --quantize int8 weights: row r of w [rows, cols] (one output channel) to codes[r] =
// clamp(rint(w / s), -127, 127) with s = max(max |w[r]| / 127, 1e-12) (float32 arithmetic, as
// the same steps on libtorch tensors give), and sum[r] = the sum of the row's codes. Rows
// [row_begin, row_end); a NaN weight gets code 0.
void quantize_weight_rows_s8(const float* w, int64_t cols, int64_t row_begin, int64_t row_end, int8_t* codes,
                             float* scale, int32_t* sum);
// --quantize int8 activations: row r of x [rows, cols] to q[r] = clamp(rint(x / s) + z, 0, qmax),
// s = (hi - lo) / qmax and z = rint(-lo / s) over lo = min(0, min x[r]), hi = max(0, max x[r])
// (zero exact; an all-zero row gets s = 1, z = 0), so x ≈ s * (q - z).
void quantize_rows_u8(const float* x, int64_t rows, int64_t cols, int qmax, uint8_t* q, float* scale,
                      int32_t* zero);
// out[r, n] = (acc[r, n] - zero[r] * col_sum[n]) * scale[r] * col_scale[n]: an int32 product of
// quantize_rows_u8's codes and per-column symmetric int8 weights (col_sum[n]: the sum of column
// n's codes) back to float.
void dequantize_rows(const int32_t* acc, int64_t rows, int64_t cols, const float* scale, const int32_t* zero,
                     const float* col_scale, const int32_t* col_sum, float* out);

// exp and erf as the kernels compute them (for the unit tests): exp to ~2 ulp on [-87, 88],
// erf to 5e-7 absolute (Abramowitz & Stegun 7.1.26, as ATen's vectorised erf, in float).
float exp_approx(float x);
float erf_approx(float x);

}  // namespace sbert::cpu
