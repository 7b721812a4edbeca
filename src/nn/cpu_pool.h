// A small persistent thread pool for the CPU inference kernels that are not GEMMs (attention over
// packed tokens, LayerNorm, activations). libtorch's own intra-op pool is kept at one thread when
// OpenBLAS runs the GEMMs on its threads (see configure_cpu_threads), so without this pool those
// stages would run on one core. Work is split into contiguous ranges, one per thread, so which
// thread computes a row never changes the arithmetic: results do not depend on the thread count.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace sbert::nn {

class WorkerPool {
 public:
  explicit WorkerPool(int threads);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  int threads() const { return static_cast<int>(workers_.size()) + 1; }
  // Runs f(begin, end) over [0, n) in threads() contiguous ranges (the caller runs the first) and
  // returns when all are done; the first exception thrown is rethrown here. Runs f(0, n) on the
  // caller alone when n < 2 * grain, with one thread, or while another caller uses the pool.
  void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& f);

 private:
  void work(size_t index);

  std::vector<std::thread> workers_;
  std::mutex run_mu_;  // one parallel_for at a time
  std::mutex mu_;
  std::condition_variable wake_, done_;
  uint64_t generation_ = 0;
  std::atomic<uint64_t> published_{0};  // generation_, readable without the lock (workers poll it)
  std::atomic<size_t> pending_{0};      // workers still running the current job
  bool stop_ = false;
  const std::function<void(int64_t, int64_t)>* job_ = nullptr;
  int64_t n_ = 0;
  int parts_ = 1;
  std::exception_ptr error_;
};

// The process-wide pool the encoders use; set_cpu_pool_threads (called by setup_runtime through
// configure_cpu_threads) replaces it with one of `threads` threads (<= 0: all cores).
WorkerPool& cpu_pool();
void set_cpu_pool_threads(int threads);
// Whether the packed forward splits its GEMMs across the pool (BLAS set to one thread, see
// configure_cpu_threads) or leaves their threading to the BLAS.
bool gemm_on_cpu_pool();
void set_gemm_on_cpu_pool(bool on);

}  // namespace sbert::nn
