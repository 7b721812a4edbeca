#include "cpu/quantized_linear.h"

#include <omp.h>
#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <atomic>
#include <optional>
#include <vector>

#include "cpu/cpu_kernels.h"
#include "cpu/int8_gemm.h"
#include "cpu/cpu_pool.h"
#include "sbert/error.h"

namespace sbert::cpu {

namespace {

using dnnl::memory;
using Tag = memory::format_tag;
using DT = memory::data_type;

constexpr int64_t kBlock = 64;  // rows per call, whatever the thread count

dnnl::engine& cpu_engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

// VNNI (vpdpbusd) sums u8 x s8 products in 32 bits; without it oneDNN's kernels pair products
// into 16 bits first (vpmaddubsw), which saturates unless activations stay below 128.
bool has_vnni() {
  const auto isa = dnnl::get_effective_cpu_isa();
  return isa == dnnl::cpu_isa::avx512_core_vnni || isa == dnnl::cpu_isa::avx512_core_bf16 ||
         isa == dnnl::cpu_isa::avx512_core_amx;
}

std::atomic<bool> own_kernel_enabled{true};

// sbert's own kernel, the same exact int32 sums as oneDNN's: AVX-512 VNNI with 8-bit activations
// where the CPU has it, else AVX2 with 7-bit ones (~1.4x oneDNN's AVX2 int8 GEMM on a Zen 3
// core, 197 vs ~135 GOP/s). Each is used only once it passed its first-use check; nullopt:
// oneDNN's matmul.
std::optional<cpu::Int8Kernel> own_kernel() {
  if (!own_kernel_enabled.load()) return std::nullopt;
  const cpu::Int8Kernel k = cpu::Int8PackedWeight::best(QuantizedLinear::activation_max());
  if (k == cpu::Int8Kernel::Scalar) return std::nullopt;
  return k;
}

// The matmul of a run-time number of u8 rows with K x N s8 weights into s32, scratchpad ours.
dnnl::matmul::primitive_desc make_desc(int64_t K, int64_t N) {
  const memory::desc src({DNNL_RUNTIME_DIM_VAL, K}, DT::u8, Tag::ab);
  const memory::desc wei({K, N}, DT::s8, Tag::any);
  const memory::desc dst({DNNL_RUNTIME_DIM_VAL, N}, DT::s32, Tag::ab);
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return dnnl::matmul::primitive_desc(dnnl::matmul::desc(src, wei, dst), attr, cpu_engine());
}

// oneDNN runs on OpenMP; a call from one of cpu_pool's threads must not start a team of its own.
struct OneOmpThread {
  int before = omp_get_max_threads();
  OneOmpThread() { omp_set_num_threads(1); }
  ~OneOmpThread() { omp_set_num_threads(before); }
};

}  // namespace

struct QuantizedLinear::Packed {
  int64_t in = 0, out = 0;
  std::unique_ptr<cpu::Int8PackedWeight> own;  // sbert's kernel, or null: oneDNN's matmul below
  dnnl::matmul matmul;
  memory weights;                   // s8, oneDNN's layout
  std::vector<float> col_scale;    // per output channel
  std::vector<int32_t> col_sum;    // sum of each channel's codes (zero-point correction)
  memory::desc scratch;             // per call, from the calling thread's buffer
};

int QuantizedLinear::activation_max() { return has_vnni() ? 255 : 127; }

void QuantizedLinear::use_own_kernel(bool enabled) { own_kernel_enabled = enabled; }

std::string QuantizedLinear::engine() {
  if (const auto k = own_kernel())
    return std::string(cpu::Int8PackedWeight::kernel_name(*k)) + ", " +
           std::to_string(activation_max() == 255 ? 8 : 7) + "-bit activations";
  static const std::string name = [] {
    try {
      return "oneDNN " + std::string(make_desc(64, 64).impl_info_str()) + ", " +
             std::to_string(activation_max() == 255 ? 8 : 7) + "-bit activations";
    } catch (const dnnl::error&) {
      return std::string();
    }
  }();
  return name;
}

QuantizedLinear::QuantizedLinear(const float* wp, int64_t out, int64_t in) : packed_(std::make_unique<Packed>()) {
  if (engine().empty()) throw Error("--quantize int8: oneDNN has no int8 matmul for this CPU");
  Packed& p = *packed_;
  p.out = out;
  p.in = in;
  // One pass per output channel, channels spread over the pool (a chain of libtorch ops made six
  // weight-sized temporaries: 1.2 s of page faults and copies for bge-base).
  std::vector<int8_t> codes(static_cast<size_t>(p.out * p.in));
  p.col_scale.resize(static_cast<size_t>(p.out));
  p.col_sum.resize(static_cast<size_t>(p.out));
  int8_t* cp = codes.data();
  cpu_pool().parallel_for(p.out, 16, [&](int64_t r0, int64_t r1) {
    cpu::quantize_weight_rows_s8(wp, p.in, r0, r1, cp, p.col_scale.data(), p.col_sum.data());
  });

  if (const auto k = own_kernel()) {
    p.own = std::make_unique<cpu::Int8PackedWeight>(cp, p.out, p.in, *k);
    return;
  }
  const auto desc = make_desc(p.in, p.out);
  p.matmul = dnnl::matmul(desc);
  p.scratch = desc.scratchpad_desc();
  // codes [out, in] row-major is the K x N weight matrix in "ba" order.
  memory plain({{p.in, p.out}, DT::s8, Tag::ba}, cpu_engine(), codes.data());
  p.weights = memory(desc.weights_desc(), cpu_engine());
  dnnl::stream s(cpu_engine());
  OneOmpThread one;
  dnnl::reorder(plain, p.weights).execute(s, plain, p.weights);
  s.wait();
}

QuantizedLinear::~QuantizedLinear() = default;
QuantizedLinear::QuantizedLinear(QuantizedLinear&&) noexcept = default;

int64_t QuantizedLinear::inputs() const { return packed_->in; }
int64_t QuantizedLinear::outputs() const { return packed_->out; }

void QuantizedLinear::forward(const float* xs, int64_t M, float* os) const {
  const Packed& p = *packed_;
  const int64_t K = p.in, N = p.out, blocks = (M + kBlock - 1) / kBlock;
  const int qmax = activation_max();
  // Codes rows of lda bytes: K, or K rounded up to 4 for sbert's kernel (the padding stays 0).
  const int64_t lda = p.own ? cpu::Int8PackedWeight::padded_inputs(K) : K;
  cpu_pool().parallel_for(blocks, 1, [&](int64_t b0, int64_t b1) {
    thread_local std::vector<uint8_t> codes;
    thread_local std::vector<int32_t> acc, zero;
    thread_local std::vector<float> scale;
    thread_local std::vector<char> scratch;
    if (lda == K)
      codes.resize(static_cast<size_t>(kBlock * K));
    else
      codes.assign(static_cast<size_t>(kBlock * lda), 0);
    acc.resize(static_cast<size_t>(kBlock * N));
    zero.resize(kBlock);
    scale.resize(kBlock);
    std::optional<OneOmpThread> one;
    std::optional<dnnl::stream> s;
    if (!p.own) {
      one.emplace();
      s.emplace(cpu_engine());
      scratch.resize(std::max<size_t>(p.scratch.get_size(), 1));
    }
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t r0 = b * kBlock, n = std::min(kBlock, M - r0);
      for (int64_t r = 0; r < n; ++r)
        cpu::quantize_rows_u8(xs + (r0 + r) * K, 1, K, qmax, codes.data() + r * lda, scale.data() + r,
                              zero.data() + r);
      if (p.own) {
        p.own->multiply(codes.data(), lda, n, acc.data(), N);
      } else {
        memory src({{n, K}, DT::u8, Tag::ab}, cpu_engine(), codes.data());
        memory dst({{n, N}, DT::s32, Tag::ab}, cpu_engine(), acc.data());
        memory pad(p.scratch, cpu_engine(), scratch.data());
        p.matmul.execute(*s, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, p.weights}, {DNNL_ARG_DST, dst},
                              {DNNL_ARG_SCRATCHPAD, pad}});
        s->wait();
      }
      cpu::dequantize_rows(acc.data(), n, N, scale.data(), zero.data(), p.col_scale.data(), p.col_sum.data(),
                           os + r0 * N);
    }
  });
}

}  // namespace sbert::cpu
