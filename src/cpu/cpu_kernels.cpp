#include "cpu/cpu_kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "cpu/simd.h"
#include "cpu/tile16.h"

namespace sbert::cpu {
namespace {

constexpr int kLanes = 16;
constexpr int kRows = 4;
constexpr int64_t kInPlaceMaxTokens = 32;  // see attention_impl

// Built for AVX-512, AVX2 (both with FMA) and baseline x86-64, chosen at load time for the CPU.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define SBERT_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define SBERT_CLONES
#endif

// Sum of x[0, n) as 16 interleaved partial sums combined in a fixed order.
[[gnu::always_inline]] inline double lane_sum(const float* x, int64_t n) {
  float acc[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int k = 0; k < kLanes; ++k) acc[k] += x[i + k];
  for (int k = 0; i < n; ++i, ++k) acc[k] += x[i];
  double s = 0;
  for (int k = 0; k < kLanes; ++k) s += acc[k];
  return s;
}

[[gnu::always_inline]] inline double lane_sq_dev(const float* x, int64_t n, float mean) {
  float acc[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int k = 0; k < kLanes; ++k) {
      const float d = x[i + k] - mean;
      acc[k] += d * d;
    }
  for (int k = 0; i < n; ++i, ++k) {
    const float d = x[i] - mean;
    acc[k] += d * d;
  }
  double s = 0;
  for (int k = 0; k < kLanes; ++k) s += acc[k];
  return s;
}

// exp(x) (Cephes' expf): x = n ln2 + r, |r| <= ln2/2, exp(r) by a degree-6 polynomial, 2^n from
// the exponent bits. Branch-free so loops over it vectorise.
[[gnu::always_inline]] inline float exp_inline(float x) {
  x = std::min(std::max(x, -87.33654f), 88.72283f);
  const float magic = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const float n = (x * 1.44269504088896341f + magic) - magic;
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float y = p * (r * r) + r + 1.0f;
  int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return y * scale;
}

[[gnu::always_inline]] inline float erf_inline(float x) {
  const float ax = std::fabs(x);
  const float t = 1.0f / (1.0f + 0.3275911f * ax);
  float p = 1.061405429f;
  p = p * t + -1.453152027f;
  p = p * t + 1.421413741f;
  p = p * t + -0.284496736f;
  p = p * t + 0.254829592f;
  const float y = 1.0f - p * t * exp_inline(-ax * ax);
  return std::copysign(y, x);
}

// lo = min(0, min x[0, cols)), hi = max(0, max x[0, cols)) over 8 independent lanes (a single
// running min is a serial dependency chain); exact, so the lane split changes nothing. 8-lane
// vectors: one ymm register in the AVX2 and AVX-512 clones, two xmm in the baseline one (a
// 16-lane ternary was lowered to scalar vminss/vmaxss in the AVX2 clone: 3 ns a value).
[[gnu::always_inline]] inline void min_max_with_zero(const float* x, int64_t cols, float& lo, float& hi) {
  typedef float V8 __attribute__((vector_size(32)));
  V8 lo8 = {}, hi8 = {};
  int64_t c0 = 0;
  for (; c0 + 8 <= cols; c0 += 8) {
    V8 a;
    std::memcpy(&a, x + c0, sizeof a);
    lo8 = a < lo8 ? a : lo8;
    hi8 = a > hi8 ? a : hi8;
  }
  lo = 0.0f;
  hi = 0.0f;
  for (; c0 < cols; ++c0) {
    lo = std::min(lo, x[c0]);
    hi = std::max(hi, x[c0]);
  }
  for (int k = 0; k < 8; ++k) {
    lo = std::min(lo, lo8[k]);
    hi = std::max(hi, hi8[k]);
  }
}

struct Scratch {
  std::vector<float> q, kt, v, scores;
};

}  // namespace

float exp_approx(float x) { return exp_inline(x); }
float erf_approx(float x) { return erf_inline(x); }

namespace {

struct AttentionArgs {
  const float* qkv;
  float* ctx;
  const int64_t* offsets;
  AttentionLayout layout;
  int64_t item_begin, item_end;
};

// softmax(scale * x[0, n)) in place for the kRows rows x + r * np (rows past the block's last are
// computed too and ignored: every row holds finite scratch values), over whole vectors: a row has
// np (a multiple of 16) floats, the ones past n are padding and come out 0. Per row, element-wise
// the same operations as a scalar loop over n, and the sum is lane_sum's 16 partial sums (the
// zeros change none), so the bits do not depend on the vector width; the rows' reductions run
// interleaved (four independent dependency chains instead of one after the other).
// Rows may be windowed: row r sees keys [lo[r], hi[r]) (lo null: all n), the others masked as
// the padding is; every row sees at least its own key.
// `ld`: the rows' stride (np when 0), so that a block can work on a 16-aligned range of a longer
// row: keys outside every row's window are skipped, which changes no bit (their exp is 0 and
// lane_sum's lanes stay aligned).
// `bias` (null: none): rows of n additive terms, bias[r] for row r, added after the scaling.
template <int Lanes>
[[gnu::always_inline]] inline void softmax_rows(float* x, int64_t n, int64_t np, float scale,
                                                const int64_t* lo = nullptr, const int64_t* hi = nullptr,
                                                int64_t ld = 0, const float* const* bias = nullptr) {
  using V = typename simd::Vec<Lanes>::type;
  if (ld == 0) ld = np;
  for (int r = 0; r < kRows; ++r)
    for (int64_t j = 0; j < np; ++j) x[r * ld + j] *= scale;
  if (bias)
    for (int r = 0; r < kRows; ++r)
      for (int64_t j = 0; j < n; ++j) x[r * ld + j] += bias[r][j];
  V mx[kRows];
#pragma GCC unroll 4
  for (int r = 0; r < kRows; ++r) {
    float* row = x + r * ld;
    for (int64_t j = n; j < np; ++j) row[j] = -INFINITY;
    if (lo) {
      for (int64_t j = 0; j < lo[r]; ++j) row[j] = -INFINITY;
      for (int64_t j = hi[r]; j < n; ++j) row[j] = -INFINITY;
    }
    std::memcpy(&mx[r], row, sizeof(V));
  }
  for (int64_t j = Lanes; j < np; j += Lanes)
#pragma GCC unroll 4
    for (int r = 0; r < kRows; ++r) {
      V a;
      std::memcpy(&a, x + r * ld + j, sizeof a);
      mx[r] = a > mx[r] ? a : mx[r];
    }
  float m[kRows];
#pragma GCC unroll 4
  for (int r = 0; r < kRows; ++r) m[r] = mx[r][0];
  for (int l = 1; l < Lanes; ++l)
#pragma GCC unroll 4
    for (int r = 0; r < kRows; ++r) m[r] = std::max(m[r], mx[r][l]);
  float acc[kRows][kLanes] = {};
#pragma GCC unroll 4
  for (int r = 0; r < kRows; ++r) {
    float* row = x + r * ld;
    for (int64_t j = 0; j < np; ++j) row[j] = exp_inline(row[j] - m[r]);
    for (int64_t j = n; j < np; ++j) row[j] = 0.0f;
    for (int64_t j = 0; j < np; j += kLanes)  // lane_sum's partial sums
      for (int k = 0; k < kLanes; ++k) acc[r][k] += row[j + k];
  }
  double sum[kRows] = {};
  for (int k = 0; k < kLanes; ++k)
#pragma GCC unroll 4
    for (int r = 0; r < kRows; ++r) sum[r] += acc[r][k];
#pragma GCC unroll 4
  for (int r = 0; r < kRows; ++r) {
    const float inv = static_cast<float>(1.0 / sum[r]);
    float* row = x + r * ld;
    for (int64_t j = 0; j < np; ++j) row[j] *= inv;
  }
}

// Blocks of 16 columns as 16 / Lanes vectors of the target's width; the keys transposed, so that
// the scores are register tiles too.
template <int Lanes>
[[gnu::always_inline]] inline void attention_impl(const AttentionArgs& g) {
  thread_local Scratch sc;
  const AttentionLayout& L = g.layout;
  const int64_t heads = L.heads, d = L.head_dim, group = L.heads / L.kv_heads;
  const int64_t H = heads * d, KV = L.kv_heads * d, row = H + 2 * KV;
  const float scale = L.scale;
  const bool windowed = L.window_left >= 0 || L.window_right >= 0;
  const int64_t dp = (d + kLanes - 1) / kLanes * kLanes;
  for (int64_t item = g.item_begin; item < g.item_end; ++item) {
    const int64_t s = item / heads, h = item % heads, kvh = h / group;
    const int64_t t0 = g.offsets[s], n = g.offsets[s + 1] - g.offsets[s];
    if (n <= 0) continue;
    // A short sequence is read in place: queries and values straight from the QKV rows, keys
    // transposed with contiguous writes. A longer one is gathered, each token's row once, into
    // compact buffers (queries, keys transposed, values padded to a multiple of 16 columns with
    // zeros), which every block of queries then reads from L1/L2 instead of touching one page per
    // token (measured, head dim 32: in place ~12% faster at 30-55 tokens, gathered ~5% faster at
    // 480-512). Gathered too when head_dim is not a multiple of 16: a tile reads 16 columns, which
    // in place would run past the last head of the last row. The tiles read the same values
    // either way: the same bits.
    const bool in_place = d % kLanes == 0 && n <= kInPlaceMaxTokens;
    const int64_t np = (n + kLanes - 1) / kLanes * kLanes;
    const float* base = g.qkv + t0 * row;
    const float* qsrc = base + h * d;             // token j's query: qsrc[j * row]
    const float* ksrc = base + H + kvh * d;       // its key (the query's key/value head)
    const float* vsrc = base + H + KV + kvh * d;  // its value
    sc.kt.resize(static_cast<size_t>(d * np));
    sc.scores.resize(static_cast<size_t>(kRows * np));
    float* kt = sc.kt.data();
    float* p = sc.scores.data();
    const float *q = qsrc, *v = vsrc;
    int64_t ldq = row, ldv = row;
    if (in_place) {
      for (int64_t t = 0; t < d; ++t) {
        float* dst = kt + t * np;
        for (int64_t j = 0; j < n; ++j) dst[j] = ksrc[j * row + t];
      }
    } else {
      sc.q.resize(static_cast<size_t>(n * d));
      sc.v.resize(static_cast<size_t>(n * dp));
      float *qc = sc.q.data(), *vc = sc.v.data();
      for (int64_t j = 0; j < n; ++j) {
        for (int64_t t = 0; t < d; ++t) qc[j * d + t] = qsrc[j * row + t];
        for (int64_t t = 0; t < d; ++t) kt[t * np + j] = ksrc[j * row + t];
        for (int64_t t = 0; t < d; ++t) vc[j * dp + t] = vsrc[j * row + t];
        for (int64_t t = d; t < dp; ++t) vc[j * dp + t] = 0.0f;
      }
      q = qc;
      ldq = d;
      v = vc;
      ldv = dp;
    }
    for (int64_t t = 0; t < d; ++t)  // the padding keys: zero scores, masked below
      for (int64_t j = n; j < np; ++j) kt[t * np + j] = 0.0f;
    // Four query rows at a time (simd::tile16: the accumulators stay in registers): scores for
    // blocks of 16 keys, softmax, then the context for blocks of 16 of the head's columns.
    int64_t lo[kRows], hi[kRows];
    const float* brow[kRows];  // the bias rows of the block's queries (L.bias)
    for (int64_t i0 = 0; i0 < n; i0 += kRows) {
      const int64_t rows = std::min<int64_t>(kRows, n - i0);
      for (int r = 0; r < kRows; ++r) {
        const int64_t i = std::min<int64_t>(i0 + r, n - 1);
        lo[r] = L.window_left >= 0 ? std::max<int64_t>(0, i - L.window_left) : 0;
        hi[r] = L.window_right >= 0 ? std::min<int64_t>(n, i + L.window_right + 1) : n;
        if (L.bias) brow[r] = L.bias + (h * L.bias_stride + i) * L.bias_stride;
      }
      // Only the 16-key blocks some row of the block sees (causal: up to the diagonal; a window:
      // around it).
      int64_t jlo = 0, jhi = np;
      if (windowed) {
        jlo = *std::min_element(lo, lo + kRows) / kLanes * kLanes;
        jhi = std::min<int64_t>(np, (*std::max_element(hi, hi + kRows) + kLanes - 1) / kLanes * kLanes);
        for (int r = 0; r < kRows; ++r) lo[r] -= jlo, hi[r] -= jlo;
      }
      const int64_t keys = std::min(n, jhi) - jlo;
      for (int64_t jb = jlo; jb < jhi; jb += kLanes)
        simd::tile16_rows<Lanes, kRows>(rows, q + i0 * ldq, ldq, kt + jb, np, d, p + jb, np, kLanes);
      if (L.bias)
        for (int r = 0; r < kRows; ++r) brow[r] += jlo;
      softmax_rows<Lanes>(p + jlo, keys, jhi - jlo, scale, windowed ? lo : nullptr, windowed ? hi : nullptr, np,
                          L.bias ? brow : nullptr);
      for (int64_t tb = 0; tb < dp; tb += kLanes)
        simd::tile16_rows<Lanes, kRows>(rows, p + jlo, np, v + jlo * ldv + tb, ldv, keys,
                                        g.ctx + (t0 + i0) * H + h * d + tb, H, std::min<int64_t>(kLanes, d - tb));
    }
  }
}

SBERT_TARGET_AVX512 void attention_avx512(const AttentionArgs& g) { attention_impl<16>(g); }
SBERT_TARGET_AVX2 void attention_avx2(const AttentionArgs& g) { attention_impl<8>(g); }
void attention_baseline(const AttentionArgs& g) { attention_impl<4>(g); }

}  // namespace

void packed_attention(const float* qkv, float* ctx, const int64_t* offsets, int64_t heads,
                      int64_t head_dim, float scale, int64_t item_begin, int64_t item_end) {
  packed_attention(qkv, ctx, offsets, AttentionLayout{heads, heads, head_dim, scale}, item_begin, item_end);
}

void packed_attention(const float* qkv, float* ctx, const int64_t* offsets, const AttentionLayout& layout,
                      int64_t item_begin, int64_t item_end) {
  const AttentionArgs g{qkv, ctx, offsets, layout, item_begin, item_end};
  switch (simd::isa()) {
    case simd::Isa::Avx512: return attention_avx512(g);
    case simd::Isa::Avx2: return attention_avx2(g);
    case simd::Isa::Baseline: break;
  }
  attention_baseline(g);
}

SBERT_CLONES
void add_layer_norm(float* x, const float* bias, const float* residual, const float* gamma,
                    const float* beta, int64_t cols, float eps, int64_t row_begin, int64_t row_end) {
  for (int64_t r = row_begin; r < row_end; ++r) {
    float* v = x + r * cols;
    if (bias)
      for (int64_t c = 0; c < cols; ++c) v[c] += bias[c];
    if (residual) {
      const float* a = residual + r * cols;
      for (int64_t c = 0; c < cols; ++c) v[c] += a[c];
    }
    const float mean = static_cast<float>(lane_sum(v, cols) / static_cast<double>(cols));
    const double var = lane_sq_dev(v, cols, mean) / static_cast<double>(cols);
    const float rstd = static_cast<float>(1.0 / std::sqrt(var + static_cast<double>(eps)));
    for (int64_t c = 0; c < cols; ++c) v[c] = (v[c] - mean) * rstd * gamma[c] + beta[c];
  }
}

SBERT_CLONES
void add_bias(float* x, int64_t ld, const float* bias, int64_t col_begin, int64_t col_end, int64_t row_begin,
              int64_t row_end) {
  for (int64_t r = row_begin; r < row_end; ++r) {
    float* v = x + r * ld;
    for (int64_t c = col_begin; c < col_end; ++c) v[c] += bias[c];
  }
}

SBERT_CLONES
void bias_gelu(float* x, int64_t ld, const float* bias, int64_t col_begin, int64_t col_end,
               int64_t row_begin, int64_t row_end) {
  for (int64_t r = row_begin; r < row_end; ++r) {
    float* v = x + r * ld;
    for (int64_t c = col_begin; c < col_end; ++c) {
      const float a = v[c] + bias[c];
      v[c] = 0.5f * a * (1.0f + erf_inline(a * 0.70710678118654752f));
    }
  }
}

namespace {

[[gnu::always_inline]] inline float tanh_inline(float u) {
  const float e = exp_inline(-2.0f * std::fabs(u));
  return std::copysign((1.0f - e) / (1.0f + e), u);
}
[[gnu::always_inline]] inline float sigmoid_inline(float u) { return 1.0f / (1.0f + exp_inline(-u)); }

template <Activation A>
[[gnu::always_inline]] inline float activate(float u) {
  if constexpr (A == Activation::GeluErf) return 0.5f * u * (1.0f + erf_inline(u * 0.70710678118654752f));
  if constexpr (A == Activation::GeluTanh)
    return 0.5f * u * (1.0f + tanh_inline(0.79788456080286536f * (u + 0.044715f * u * u * u)));
  if constexpr (A == Activation::Relu) return u > 0.0f ? u : 0.0f;
  if constexpr (A == Activation::Silu) return u * sigmoid_inline(u);
  if constexpr (A == Activation::QuickGelu) return u * sigmoid_inline(1.702f * u);
  if constexpr (A == Activation::Tanh) return tanh_inline(u);
  if constexpr (A == Activation::Sigmoid) return sigmoid_inline(u);
  return u;
}

template <Activation A>
[[gnu::always_inline]] inline void activation_block(float* x, int64_t ld, const float* bias, int64_t c0, int64_t c1,
                                                    int64_t r0, int64_t r1) {
  for (int64_t r = r0; r < r1; ++r) {
    float* v = x + r * ld;
    if (bias)
      for (int64_t c = c0; c < c1; ++c) v[c] = activate<A>(v[c] + bias[c]);
    else
      for (int64_t c = c0; c < c1; ++c) v[c] = activate<A>(v[c]);
  }
}

}  // namespace

SBERT_CLONES
void bias_activation(float* x, int64_t ld, const float* bias, Activation act, int64_t c0, int64_t c1, int64_t r0,
                     int64_t r1) {
  switch (act) {
    case Activation::GeluErf: return activation_block<Activation::GeluErf>(x, ld, bias, c0, c1, r0, r1);
    case Activation::GeluTanh: return activation_block<Activation::GeluTanh>(x, ld, bias, c0, c1, r0, r1);
    case Activation::Relu: return activation_block<Activation::Relu>(x, ld, bias, c0, c1, r0, r1);
    case Activation::Silu: return activation_block<Activation::Silu>(x, ld, bias, c0, c1, r0, r1);
    case Activation::QuickGelu: return activation_block<Activation::QuickGelu>(x, ld, bias, c0, c1, r0, r1);
    case Activation::Tanh: return activation_block<Activation::Tanh>(x, ld, bias, c0, c1, r0, r1);
    case Activation::Sigmoid: return activation_block<Activation::Sigmoid>(x, ld, bias, c0, c1, r0, r1);
    case Activation::Identity: return activation_block<Activation::Identity>(x, ld, bias, c0, c1, r0, r1);
  }
}

SBERT_CLONES
void quantize_weight_rows_s8(const float* w, int64_t cols, int64_t row_begin, int64_t row_end, int8_t* codes,
                             float* scale, int32_t* sum) {
  for (int64_t r = row_begin; r < row_end; ++r) {
    const float* v = w + r * cols;
    int8_t* out = codes + r * cols;
    float lo, hi;
    min_max_with_zero(v, cols, lo, hi);
    const float s = std::max(std::max(-lo, hi) / 127.0f, 1e-12f);  // max |w| (negation is exact)
    int32_t total = 0;
    for (int64_t c = 0; c < cols; ++c) {
      float q = std::nearbyint(v[c] / s);
      q = q == q ? std::min(std::max(q, -127.0f), 127.0f) : 0.0f;
      out[c] = static_cast<int8_t>(q);
      total += static_cast<int32_t>(q);
    }
    scale[r] = s;
    sum[r] = total;
  }
}

SBERT_CLONES
void quantize_rows_u8(const float* x, int64_t rows, int64_t cols, int qmax, uint8_t* q, float* scale,
                      int32_t* zero) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* v = x + r * cols;
    uint8_t* out = q + r * cols;
    float lo, hi;
    min_max_with_zero(v, cols, lo, hi);
    float s = (hi - lo) / static_cast<float>(qmax);
    if (!(s > 0.0f) || !std::isfinite(s)) s = 1.0f;  // all zeros (or non-finite input)
    const float z = std::clamp(std::nearbyint(-lo / s), 0.0f, static_cast<float>(qmax));
    const float inv = 1.0f / s, top = static_cast<float>(qmax);
    for (int64_t c = 0; c < cols; ++c)
      out[c] = static_cast<uint8_t>(std::clamp(std::nearbyint(v[c] * inv) + z, 0.0f, top));
    scale[r] = s;
    zero[r] = static_cast<int32_t>(z);
  }
}

SBERT_CLONES
void dequantize_rows(const int32_t* acc, int64_t rows, int64_t cols, const float* scale, const int32_t* zero,
                     const float* col_scale, const int32_t* col_sum, float* out) {
  for (int64_t r = 0; r < rows; ++r) {
    const int32_t* a = acc + r * cols;
    float* o = out + r * cols;
    const int32_t z = zero[r];
    const float s = scale[r];
    for (int64_t c = 0; c < cols; ++c)
      o[c] = static_cast<float>(a[c] - z * col_sum[c]) * (s * col_scale[c]);
  }
}

SBERT_CLONES
void rms_norm(const float* in, float* out, int64_t ld, const float* gain, const float* residual, int64_t cols,
              float eps, int64_t row_begin, int64_t row_end) {
  for (int64_t r = row_begin; r < row_end; ++r) {
    const float* x = in + r * ld;
    float* y = out + r * ld;
    const float var = static_cast<float>(lane_sq_dev(x, cols, 0.0f) / static_cast<double>(cols));
    const float rstd = static_cast<float>(1.0 / std::sqrt(static_cast<double>(var + eps)));
    if (residual) {
      const float* a = residual + r * ld;
      for (int64_t c = 0; c < cols; ++c) y[c] = (x[c] * rstd) * gain[c] + a[c];
    } else {
      for (int64_t c = 0; c < cols; ++c) y[c] = (x[c] * rstd) * gain[c];
    }
  }
}

void rotate_half(float* x, int64_t d, const float* cos, const float* sin) {
  const int64_t h = d / 2;
  for (int64_t i = 0; i < h; ++i) {
    const float a = x[i], b = x[i + h];
    x[i] = a * cos[i] - b * sin[i];
    x[i + h] = b * cos[i] + a * sin[i];
  }
}

void rotate_interleaved(float* x, int64_t d, const float* cos, const float* sin) {
  for (int64_t i = 0; i < d / 2; ++i) {
    const float a = x[2 * i], b = x[2 * i + 1];
    x[2 * i] = a * cos[i] - b * sin[i];
    x[2 * i + 1] = b * cos[i] + a * sin[i];
  }
}

void rotary_table(double theta, int64_t d, int64_t positions, std::vector<float>& cos, std::vector<float>& sin,
                  double divisor) {
  const int64_t h = d / 2;
  std::vector<float> inv(static_cast<size_t>(h));
  const float base = static_cast<float>(theta);
  for (int64_t i = 0; i < h; ++i)
    inv[i] = 1.0f / std::pow(base, static_cast<float>(2 * i) / static_cast<float>(d));
  if (divisor != 1)
    for (float& f : inv) f /= static_cast<float>(divisor);
  cos.resize(static_cast<size_t>(positions * h));
  sin.resize(static_cast<size_t>(positions * h));
  for (int64_t p = 0; p < positions; ++p)
    for (int64_t i = 0; i < h; ++i) {
      const float angle = static_cast<float>(p) * inv[i];
      cos[p * h + i] = static_cast<float>(std::cos(static_cast<double>(angle)));
      sin[p * h + i] = static_cast<float>(std::sin(static_cast<double>(angle)));
    }
}

namespace {
template <Activation A>
[[gnu::always_inline]] inline void gated_block(const float* gu, int64_t inter, float* out, int64_t r0, int64_t r1) {
  for (int64_t r = r0; r < r1; ++r) {
    const float* g = gu + r * 2 * inter;
    const float* u = g + inter;
    float* o = out + r * inter;
    for (int64_t i = 0; i < inter; ++i) o[i] = activate<A>(g[i]) * u[i];
  }
}
}  // namespace

SBERT_CLONES
void gated_activation(const float* gu, int64_t inter, Activation act, float* out, int64_t r0, int64_t r1) {
  switch (act) {
    case Activation::GeluErf: return gated_block<Activation::GeluErf>(gu, inter, out, r0, r1);
    case Activation::GeluTanh: return gated_block<Activation::GeluTanh>(gu, inter, out, r0, r1);
    case Activation::Relu: return gated_block<Activation::Relu>(gu, inter, out, r0, r1);
    case Activation::Silu: return gated_block<Activation::Silu>(gu, inter, out, r0, r1);
    case Activation::QuickGelu: return gated_block<Activation::QuickGelu>(gu, inter, out, r0, r1);
    case Activation::Tanh: return gated_block<Activation::Tanh>(gu, inter, out, r0, r1);
    case Activation::Sigmoid: return gated_block<Activation::Sigmoid>(gu, inter, out, r0, r1);
    case Activation::Identity: return gated_block<Activation::Identity>(gu, inter, out, r0, r1);
  }
}

}  // namespace sbert::cpu
