// bench_gemm: float32 GEMM GFLOP/s of the BLAS libtorch uses (OpenBLAS's cblas_sgemm, found in
// the process), after sbert's runtime set-up or, with --no-setup, with the library's own kernel
// choice. JSON on stdout; GFLOP per wall second and per CPU second (the latter is the steadier
// figure on a shared machine).
//   bench_gemm [--size 512] [--threads 1] [--repeat 20] [--no-setup]
#include <dlfcn.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <vector>

#include "sbert/error.h"
#include "sbert/runtime.h"

namespace {

double cpu_seconds() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
}

// cblas_sgemm(order, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)
using Sgemm = void (*)(int, int, int, int, int, int, float, const float*, int, const float*, int,
                       float, float*, int);
using CoreName = char* (*)();
using SetThreads = void (*)(int);

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"float32 GEMM throughput of the in-process BLAS (JSON on stdout)"};
  int size = 512, threads = 1, repeat = 20;
  bool no_setup = false;
  app.add_option("--size", size, "M = N = K")->capture_default_str();
  app.add_option("--threads", threads)->capture_default_str();
  app.add_option("--repeat", repeat)->capture_default_str();
  app.add_flag("--no-setup", no_setup, "skip sbert::setup_runtime (the library's own kernel)");
  CLI11_PARSE(app, argc, argv);
  try {
    if (!no_setup) {
      sbert::RuntimeOptions o;
      o.threads = threads;
      sbert::setup_runtime(o);
    } else if (auto set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) {
      set(threads);
    }
    auto sgemm = reinterpret_cast<Sgemm>(dlsym(RTLD_DEFAULT, "cblas_sgemm"));
    if (!sgemm) throw sbert::Error("no cblas_sgemm in this process");
    auto core = reinterpret_cast<CoreName>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
    const int n = size;
    std::vector<float> a(size_t(n) * n), b(size_t(n) * n), c(size_t(n) * n);
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> u(-1, 1);
    for (float& x : a) x = u(rng);
    for (float& x : b) x = u(rng);
    sgemm(101, 111, 111, n, n, n, 1.f, a.data(), n, b.data(), n, 0.f, c.data(), n);  // warm-up
    double best_wall = 1e30;
    const double cpu0 = cpu_seconds();
    const auto t0 = std::chrono::steady_clock::now();
    for (int r = 0; r < repeat; ++r) {
      auto t = std::chrono::steady_clock::now();
      sgemm(101, 111, 111, n, n, n, 1.f, a.data(), n, b.data(), n, 0.f, c.data(), n);
      best_wall = std::min(best_wall, std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count());
    }
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double cpu = cpu_seconds() - cpu0;
    const double gflop = 2.0 * n * n * double(n) * 1e-9;
    nlohmann::json j;
    j["kernel"] = core ? core() : "";
    j["setup"] = !no_setup;
    j["size"] = n;
    j["threads"] = threads;
    j["repeat"] = repeat;
    j["gflops_best_wall"] = gflop / best_wall;
    j["gflops_mean_wall"] = gflop * repeat / wall;
    j["gflops_per_cpu_second"] = gflop * repeat / cpu;
    std::cout << j.dump(2) << "\n";
  } catch (const std::exception& e) {
    std::cerr << "bench_gemm: error: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
