// Plain C++ float32 kernels for the CPU inference path of the encoder (no libtorch here): self-
// attention over packed tokens (padding removed) read straight from the fused QKV projection,
// bias + residual + LayerNorm, and bias + GELU. Loops vectorise over independent outputs or over
// a fixed set of 16 partial sums, so no sum's order depends on the SIMD width or the thread count:
// on one machine the bits never change with --threads. Across machines they may differ in the
// last place (the AVX2 / AVX-512 builds fuse multiply-adds, the baseline build cannot), as
// OpenBLAS's per-CPU kernels do.
#pragma once
#include <cstdint>

namespace sbert::cpu {

// qkv: [T, 3H] rows of the fused projection, bias included (queries | keys | values, each
// `heads` blocks of `head_dim`). Sequence s owns tokens [offsets[s], offsets[s+1]) and attends to
// exactly those. ctx: [T, H], head h of token t at ctx[t*H + h*head_dim]. Computes the items
// (sequence, head) in [item_begin, item_end) of sequences * heads, so callers can split the work.
void packed_attention(const float* qkv, float* ctx, const int64_t* offsets, int64_t heads,
                      int64_t head_dim, float scale, int64_t item_begin, int64_t item_end);

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

// The element-wise activations (config.json's hidden_act, the Dense modules', the heads').
enum class Activation { GeluErf, GeluTanh, Relu, Silu, QuickGelu, Tanh, Sigmoid, Identity };
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
