// A small persistent thread pool for the CPU inference kernels: the packed GEMMs (pooled_mm),
// attention over packed tokens, LayerNorm, activations, the int8 blocks. One pool for every stage,
// so no second pool spins against it. A job's range is cut into a few chunks per thread that the
// threads claim as they finish the previous one (a core slowed by another process, or a chunk that
// costs more, does not leave the others waiting); every chunk computes the same thing whichever
// thread runs it, so results do not depend on the thread count or on which thread was faster.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace sbert::cpu {

class WorkerPool {
 public:
  explicit WorkerPool(int threads);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  int threads() const { return static_cast<int>(workers_.size()) + 1; }
  // Runs f(begin, end) over contiguous chunks covering [0, n) once (chunks of at least `grain`
  // items, about kChunksPerThread per thread, claimed in order by whichever thread is free; the
  // caller takes part) and returns when all are done. The first exception thrown is rethrown
  // here (chunks not started by then are skipped). Runs f(0, n) on the caller alone when
  // n < 2 * grain, with one thread, or while another caller uses the pool.
  void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& f);

 private:
  static constexpr int64_t kChunksPerThread = 16;
  void work(size_t index);
  void run_chunks();  // claims and runs chunks of the current job until none is left

  std::vector<std::thread> workers_;
  std::mutex run_mu_;  // one parallel_for at a time
  std::mutex mu_;
  std::condition_variable wake_, done_;
  uint64_t generation_ = 0;
  std::atomic<uint64_t> published_{0};  // generation_, readable without the lock (workers poll it)
  std::atomic<size_t> pending_{0};      // workers still running the current job
  bool stop_ = false;
  const std::function<void(int64_t, int64_t)>* job_ = nullptr;
  int64_t n_ = 0, chunk_ = 1;
  int parts_ = 1;
  std::atomic<int64_t> next_{0};  // first item of the next unclaimed chunk
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

}  // namespace sbert::cpu
