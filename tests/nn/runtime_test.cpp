// The runtime set-up (sbert/runtime.h): device / dtype parsing, the OpenBLAS kernel choice on CPUs
// that Debian's dynamic-arch OpenBLAS does not know (it falls back to SSE3 kernels there), and
// GEMMs after that choice against a plain loop. ctest runs each TEST in its own process, so each
// one sees the process's first setup_runtime().
#include <dlfcn.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "nn/torch_pch.h"
#include "sbert/classifier.h"
#include "sbert/encoder.h"
#include "sbert/error.h"
#include "sbert/log.h"
#include "sbert/runtime.h"
#include "test_support.h"

namespace {

using sbert::testing::error_of;

std::string openblas_corename() {
  using CoreName = char* (*)();
  auto f = reinterpret_cast<CoreName>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  if (!f) return "";
  const char* s = f();
  return s ? s : "";
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// OpenBLAS x86 cores whose kernels use no AVX2 (SSE or AVX only).
bool pre_avx2_core(const std::string& name) {
  static const std::set<std::string> weak = {
      "prescott", "core2", "penryn", "dunnington", "nehalem", "atom", "katmai", "coppermine",
      "northwood", "banias", "athlon", "opteron", "opteron_sse3", "barcelona", "bobcat", "nano",
      "sandybridge", "bulldozer", "piledriver", "unknown"};
  return weak.count(lower(name)) > 0;
}

#define REQUIRE_OPENBLAS()                                                                      \
  if (at::hasMKL()) GTEST_SKIP() << "libtorch uses MKL: no OpenBLAS kernel choice to check";      \
  if (openblas_corename().empty())                                                              \
    GTEST_SKIP() << "no OpenBLAS (openblas_get_corename) in this process";                       \
  if (const char* forced = std::getenv("OPENBLAS_CORETYPE"))                                    \
  GTEST_SKIP() << "OPENBLAS_CORETYPE=" << forced << " is set: the user's choice is kept"

bool cpu_has_avx2() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

TEST(Runtime, ParsesDeviceAndDtypeOnce) {
  EXPECT_TRUE(sbert::parse_device("cpu").is_cpu());
  EXPECT_TRUE(sbert::parse_device("").is_cpu());
  sbert::Device d = sbert::parse_device("cuda:3");
  EXPECT_EQ(d.type, sbert::DeviceType::Cuda);
  EXPECT_EQ(d.index, 3);
  EXPECT_EQ(d.str(), "cuda:3");
  EXPECT_EQ(sbert::parse_device("cuda").index, 0);
  for (const char* bad : {"gpu", "cuda:", "cuda:x", "cuda:-1", "cuda:1x", "CPU"})
    EXPECT_THROW(sbert::parse_device(bad), sbert::Error) << bad;
  EXPECT_EQ(sbert::parse_dtype("float32"), sbert::DType::Float32);
  EXPECT_EQ(sbert::parse_dtype("fp16"), sbert::DType::Float16);
  EXPECT_EQ(sbert::parse_dtype("half"), sbert::DType::Float16);
  EXPECT_EQ(sbert::parse_dtype("bf16"), sbert::DType::BFloat16);
  EXPECT_STREQ(sbert::dtype_name(sbert::DType::BFloat16), "bfloat16");
  const std::string msg = error_of([] { sbert::parse_dtype("int8"); });
  EXPECT_NE(msg.find("int8"), std::string::npos) << msg;
}

TEST(Runtime, EncoderAndClassifierShareTheRuntimeOptions) {
  sbert::EncoderOptions e;
  sbert::ClassifierOptions c;
  sbert::RuntimeOptions& re = e;
  sbert::RuntimeOptions& rc = c;
  re.threads = 3;
  rc.dtype = "bfloat16";
  EXPECT_EQ(e.threads, 3);
  EXPECT_EQ(c.dtype, "bfloat16");
  EXPECT_EQ(e.device, "cpu");
  EXPECT_EQ(c.batch_size, 32u);
}

TEST(Runtime, SetupRejectsBadNamesWithOneLine) {
  sbert::RuntimeOptions o;
  o.dtype = "float64";
  std::string msg = error_of([&] { sbert::setup_runtime(o); });
  EXPECT_NE(msg.find("float64"), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  o.dtype = "float32";
  o.device = "tpu";
  msg = error_of([&] { sbert::setup_runtime(o); });
  EXPECT_NE(msg.find("tpu"), std::string::npos) << msg;
}

TEST(Runtime, SetupReportsDeviceThreadsAndDtype) {
  sbert::RuntimeOptions o;
  o.threads = 1;
  sbert::Runtime r = sbert::setup_runtime(o);
  EXPECT_TRUE(r.device.is_cpu());
  EXPECT_EQ(r.dtype, sbert::DType::Float32);
  EXPECT_EQ(r.threads, 1);
}

TEST(Runtime, OpenBlasKernelMatchesTheCpu) {
  REQUIRE_OPENBLAS();
  if (!cpu_has_avx2())
    GTEST_SKIP() << "this CPU has no AVX2+FMA: OpenBLAS's own choice is kept (core "
                 << openblas_corename() << ")";
  std::vector<std::string> logged;
  sbert::set_log_handler([&](const std::string& m) { logged.push_back(m); });
  const std::string before = openblas_corename();
  sbert::Runtime r = sbert::setup_runtime(sbert::RuntimeOptions{});
  sbert::set_log_handler({});
  const std::string after = openblas_corename();
  EXPECT_FALSE(pre_avx2_core(after)) << "OpenBLAS core after set-up: " << after << " (was "
                                     << before << ") on a CPU with AVX2+FMA";
  EXPECT_EQ(r.blas_kernel, after);
  bool named = false;
  for (const auto& m : logged) named = named || m.find("OpenBLAS " + after) != std::string::npos;
  EXPECT_TRUE(named) << "no verbose line naming the kernel";
}

// A float32 GEMM through libtorch (OpenBLAS sgemm on Debian's build) after the set-up, against a
// double-precision loop; odd sizes exercise the kernels' edge paths.
void expect_gemm_matches(int64_t M, int64_t K, int64_t N, bool transposed_b) {
  std::mt19937 rng(static_cast<unsigned>(M * 131 + K * 17 + N));
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> a(M * K), b(K * N);
  for (float& x : a) x = u(rng);
  for (float& x : b) x = u(rng);
  at::Tensor ta = at::from_blob(a.data(), {M, K}, at::kFloat);
  at::Tensor tb = transposed_b
                      ? at::from_blob(b.data(), {N, K}, at::kFloat).t()  // b holds B^T row-major
                      : at::from_blob(b.data(), {K, N}, at::kFloat);
  at::Tensor tc = at::mm(ta, tb).contiguous();
  const float* c = tc.data_ptr<float>();
  double worst = 0;
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double s = 0;
      for (int64_t k = 0; k < K; ++k)
        s += double(a[i * K + k]) * (transposed_b ? double(b[j * K + k]) : double(b[k * N + j]));
      worst = std::max(worst, std::abs(s - double(c[i * N + j])));
    }
  EXPECT_LT(worst, 1e-4 * std::sqrt(double(K))) << M << "x" << K << "x" << N;
}

TEST(Runtime, GemmAfterKernelChoiceIsCorrect) {
  sbert::RuntimeOptions o;
  o.threads = 2;
  sbert::setup_runtime(o);
  c10::InferenceMode guard;
  expect_gemm_matches(1, 7, 5, false);
  expect_gemm_matches(37, 384, 65, true);
  expect_gemm_matches(129, 257, 67, false);
  expect_gemm_matches(256, 384, 1536, true);  // a MiniLM feed-forward block
}

}  // namespace
