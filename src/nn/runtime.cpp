// The one runtime set-up of every model (sbert/runtime.h): device and dtype parsing, the OpenBLAS
// kernel choice, the OpenBLAS / ATen thread pools and the dtype check.
#include "cpu/cpu_pool.h"
#include "cpu/packed_gemm.h"
#include "cpu/quantized_linear.h"
#include "nn/transformer.h"

#include <dlfcn.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <cstdlib>
#include <mutex>
#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "sbert/error.h"
#include "sbert/log.h"
#include "sbert/runtime.h"

namespace sbert {

namespace nn {

at::ScalarType to_torch(DType dtype) {
  switch (dtype) {
    case DType::Float16: return at::kHalf;
    case DType::BFloat16: return at::kBFloat16;
    case DType::Float32: break;
  }
  return at::kFloat;
}

at::Device to_torch(const Device& device, const std::string& name) {
  if (device.is_cpu()) return at::Device(at::kCPU);
  if (!at::hasCUDA())
    throw Error("device '" + name + "': CUDA is not available (this libtorch build has no CUDA "
                                    "support or no GPU is visible); use --device cpu");
  const int count = static_cast<int>(at::getNumGPUs());
  if (device.index >= count)
    throw Error("device '" + name + "': only " + std::to_string(count) + " CUDA device(s) visible");
  return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(device.index));
}

// ---- OpenBLAS kernel selection ----

namespace {

// The kernel family a CPU's features allow, as OPENBLAS_CORETYPE names it (empty: nothing better
// than what OpenBLAS picks on its own is known).
struct CpuFeatures {
  bool intel_like = true;  // false on AMD / Hygon (the AVX2 kernel is then "Zen")
  bool avx2 = false, fma = false, avx512 = false, avx512_bf16 = false, amx_bf16 = false;
};

CpuFeatures cpu_features() {
  CpuFeatures f;
#if defined(__x86_64__) || defined(__i386__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(0, &a, &b, &c, &d)) return f;
  const unsigned max_leaf = a;
  char vendor[13] = {};
  std::memcpy(vendor, &b, 4);
  std::memcpy(vendor + 4, &d, 4);
  std::memcpy(vendor + 8, &c, 4);
  f.intel_like = std::string(vendor) != "AuthenticAMD" && std::string(vendor) != "HygonGenuine";
  if (max_leaf < 7 || !__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = c & (1u << 27), avx = c & (1u << 28);
  f.fma = c & (1u << 12);
  if (!osxsave || !avx) return f;
  unsigned xcr0_lo = 0, xcr0_hi = 0;
  __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  const bool ymm_state = (xcr0_lo & 0x6) == 0x6;     // SSE + AVX state saved by the OS
  const bool zmm_state = (xcr0_lo & 0xe6) == 0xe6;   // + opmask and the upper ZMM registers
  if (!ymm_state) {
    f.fma = false;
    return f;
  }
  __cpuid_count(7, 0, a, b, c, d);
  f.avx2 = b & (1u << 5);
  const bool avx512f = b & (1u << 16), avx512dq = b & (1u << 17), avx512bw = b & (1u << 30),
             avx512vl = b & (1u << 31);
  f.avx512 = zmm_state && avx512f && avx512dq && avx512bw && avx512vl;
  f.amx_bf16 = (d & (1u << 22)) && (xcr0_lo & (3u << 17)) == (3u << 17);  // + the OS saves tile state
  const unsigned subleaves = a;
  if (f.avx512 && subleaves >= 1) {
    __cpuid_count(7, 1, a, b, c, d);
    f.avx512_bf16 = a & (1u << 5);
  }
#endif
  return f;
}

std::string lower(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

// How capable an OpenBLAS x86 core's kernels are: 1 SSE, 2 AVX, 3 AVX2, 4 AVX-512, 5 AVX-512 with
// bf16; 0 for a name not in the list (then it is left alone).
int kernel_rank(const std::string& corename) {
  const std::string n = lower(corename);
  for (const char* k : {"prescott", "core2", "penryn", "dunnington", "nehalem", "atom", "katmai",
                        "coppermine", "northwood", "banias", "athlon", "opteron", "opteron_sse3",
                        "barcelona", "bobcat", "nano", "unknown"})
    if (n == k) return 1;
  for (const char* k : {"sandybridge", "bulldozer", "piledriver"})
    if (n == k) return 2;
  for (const char* k : {"haswell", "zen", "steamroller", "excavator"})
    if (n == k) return 3;
  if (n == "skylakex") return 4;
  if (n == "cooperlake" || n == "sapphirerapids") return 5;
  return 0;
}

std::string preferred_kernel(const CpuFeatures& f) {
  if (f.avx512) return f.avx512_bf16 ? "Cooperlake" : "SkylakeX";
  if (f.avx2 && f.fma) return f.intel_like ? "Haswell" : "Zen";
  return "";
}

using CoreName = char* (*)();
using VoidFn = void (*)();

std::string openblas_core() {
  auto name = reinterpret_cast<CoreName>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  if (!name) name = reinterpret_cast<CoreName>(dlsym(RTLD_DEFAULT, "gotoblas_corename"));
  if (!name) return "";
  const char* s = name();
  return s ? s : "";
}

void select_openblas_kernel() {
  if (at::hasMKL()) return;  // libtorch's float32 GEMMs do not go to OpenBLAS
  const std::string current = openblas_core();
  if (current.empty()) return;  // no OpenBLAS in the process (or a build that does not say)
  if (const char* forced = std::getenv("OPENBLAS_CORETYPE")) {
    log_verbose("OpenBLAS kernel: " + current + " (OPENBLAS_CORETYPE=" + forced + ")");
    return;
  }
  const std::string want = preferred_kernel(cpu_features());
  const int have_rank = kernel_rank(current), want_rank = kernel_rank(want);
  auto quit = reinterpret_cast<VoidFn>(dlsym(RTLD_DEFAULT, "gotoblas_dynamic_quit"));
  auto init = reinterpret_cast<VoidFn>(dlsym(RTLD_DEFAULT, "gotoblas_dynamic_init"));
  if (want.empty() || have_rank == 0 || have_rank >= want_rank || !quit || !init) {
    log_verbose("OpenBLAS kernel: " + current);
    return;
  }
  // A dynamic-arch OpenBLAS picks its kernels once, when loaded, and falls back to its SSE3 ones
  // on a CPU model it does not know (0.3.21 and Sapphire / Emerald Rapids). It re-runs that
  // choice on gotoblas_dynamic_init(), honouring OPENBLAS_CORETYPE; the variable is put back as
  // it was (unset) afterwards. No BLAS call may run meanwhile: this runs once, before any model.
  setenv("OPENBLAS_CORETYPE", want.c_str(), 1);
  quit();
  init();
  unsetenv("OPENBLAS_CORETYPE");
  const std::string now = openblas_core();
  log_verbose("OpenBLAS kernel: " + now + " (the library chose " + current + " for this CPU; " +
              want + " requested from its features)");
}

}  // namespace

void configure_cpu_threads(int threads, at::ScalarType dtype, bool inference) {
  const int n = threads > 0 ? threads : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  using SetThreads = void (*)(int);
  auto openblas_set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  cpu::set_cpu_pool_threads(n);  // the packed forward's threads
  // Only when libtorch's own float32 matmul goes to OpenBLAS (Debian's build); a libtorch with
  // MKL (the PyTorch wheels) does its GEMMs on ATen's threads and would run single-threaded.
  const bool openblas_gemm = openblas_set && dtype == at::kFloat && !at::hasMKL();
  // Inference in float32: one pool of threads for everything, the GEMMs split by rows across it
  // (OpenBLAS single-threaded; its own workers would spin against the pool between GEMMs).
  const bool on_pool = openblas_gemm && inference;
  cpu::set_gemm_on_cpu_pool(on_pool);
  if (openblas_set) openblas_set(on_pool ? 1 : n);
  at::set_num_threads(openblas_gemm ? 1 : n);
}

bool cpu_has_bf16() {
  const CpuFeatures f = cpu_features();
  return f.avx512_bf16 || f.amx_bf16;
}

}  // namespace nn

Runtime setup_runtime(const RuntimeOptions& options) {
  Runtime r;
  r.device = parse_device(options.device);
  r.dtype = parse_dtype(options.dtype);
  const at::Device device = nn::to_torch(r.device, options.device);
  const at::ScalarType dtype = nn::to_torch(r.dtype);
  if (r.device.is_cpu()) {
    static std::once_flag kernel_once;
    std::call_once(kernel_once, nn::select_openblas_kernel);
    nn::configure_cpu_threads(options.threads, dtype, /*inference=*/true);
    r.blas_kernel = nn::openblas_core();
    r.threads = options.threads > 0 ? options.threads
                                    : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
    log_verbose("cpu runtime: " + std::to_string(r.threads) + " thread(s), " + dtype_name(r.dtype) +
                (r.dtype == DType::Float32 ? std::string(", GEMM ") + cpu::packed_gemm_kernel() : std::string()) +
                (r.blas_kernel.empty() ? std::string() : ", OpenBLAS " + r.blas_kernel) +
                ", ATen pool " + std::to_string(at::get_num_threads()));
  }
  nn::check_dtype_supported(device, dtype, options.dtype);
  if (r.device.is_cpu() && r.dtype == DType::BFloat16) {
    if (!nn::cpu_has_bf16())
      log_verbose("note: this CPU has no bfloat16 instructions (AVX512_BF16 / AMX-BF16): bfloat16 is emulated "
                  "and slower than float32 here; --quantize int8 is the faster reduced-precision path");
  }
  if (!options.quantize.empty() && options.quantize != "none") {
    if (options.quantize != "int8")
      throw Error("unknown quantization '" + options.quantize + "' (int8 or none)");
    if (!r.device.is_cpu() || r.dtype != DType::Float32)
      throw Error("--quantize int8 runs on the CPU in float32 (got --device " + options.device + ", --dtype " +
                  options.dtype + ")");
    const std::string engine = cpu::QuantizedLinear::engine();
    if (engine.empty())
      throw Error("--quantize int8: oneDNN has no int8 matmul for this CPU");
    log_verbose("int8 Linear layers (" + engine + ", " + std::to_string(r.threads) + " thread(s))");
  }
  return r;
}

}  // namespace sbert
