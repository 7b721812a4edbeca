#include "cpu/cpu_pool.h"

#include <algorithm>
#include <atomic>
#include <chrono>

namespace sbert::cpu {

WorkerPool::WorkerPool(int threads) {
  const int n = std::max(1, threads);
  for (int i = 1; i < n; ++i) workers_.emplace_back([this, i] { work(static_cast<size_t>(i)); });
}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

namespace {

// A worker that finished its part, or the caller waiting for the others, first polls for a short
// while before sleeping on the condition variable: the packed forward issues several parallel_for
// calls per layer, a few milliseconds apart, and a futex wake-up costs tens of microseconds on a
// virtual machine. Bounded, so an oversubscribed machine loses at most this much per call.
constexpr auto kSpin = std::chrono::microseconds(50);

template <class Ready>
bool spin_until(Ready ready) {
  const auto until = std::chrono::steady_clock::now() + kSpin;
  for (int i = 0;; ++i) {
    if (ready()) return true;
    if ((i & 63) == 63 && std::chrono::steady_clock::now() > until) return false;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }
}

}  // namespace

void WorkerPool::run_chunks() {
  const int64_t n = n_, chunk = chunk_;
  for (;;) {
    const int64_t begin = next_.fetch_add(chunk, std::memory_order_relaxed);
    if (begin >= n) return;
    try {
      (*job_)(begin, std::min(n, begin + chunk));
    } catch (...) {
      next_.store(n, std::memory_order_relaxed);  // nobody starts another chunk
      std::lock_guard<std::mutex> g(mu_);
      if (!error_) error_ = std::current_exception();
      return;
    }
  }
}

void WorkerPool::work(size_t index) {
  uint64_t seen = 0;
  for (;;) {
    spin_until([&] { return published_.load(std::memory_order_acquire) != seen; });
    std::unique_lock<std::mutex> lk(mu_);
    wake_.wait(lk, [&] { return stop_ || generation_ != seen; });
    if (stop_) return;
    seen = generation_;
    const int parts = parts_;
    lk.unlock();
    // job_, n_ and chunk_ were written before generation_ was published (under mu_) and stay
    // until every worker has counted itself out through pending_.
    if (static_cast<int>(index) < parts) run_chunks();
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> g(mu_);
      done_.notify_one();
    }
  }
}

void WorkerPool::parallel_for(int64_t n, int64_t grain,
                              const std::function<void(int64_t, int64_t)>& f) {
  if (n <= 0) return;
  std::unique_lock<std::mutex> run(run_mu_, std::try_to_lock);
  grain = std::max<int64_t>(grain, 1);
  const int parts = static_cast<int>(std::min<int64_t>(threads(), std::max<int64_t>(n / grain, 1)));
  if (!run.owns_lock() || parts < 2) {
    f(0, n);
    return;
  }
  {
    std::lock_guard<std::mutex> lk(mu_);
    job_ = &f;
    n_ = n;
    const int64_t pieces = kChunksPerThread * parts;
    chunk_ = std::max(grain, (n + pieces - 1) / pieces);
    next_.store(0, std::memory_order_relaxed);
    parts_ = parts;
    error_ = nullptr;
    pending_.store(workers_.size(), std::memory_order_relaxed);
    ++generation_;
    published_.store(generation_, std::memory_order_release);
  }
  wake_.notify_all();
  run_chunks();
  spin_until([&] { return pending_.load(std::memory_order_acquire) == 0; });
  std::unique_lock<std::mutex> lk(mu_);
  done_.wait(lk, [&] { return pending_.load(std::memory_order_acquire) == 0; });
  job_ = nullptr;
  if (error_) std::rethrow_exception(error_);
}

namespace {
std::mutex pool_mu;
// Pools are never destroyed: a forward pass may still hold the old one when the runtime is set up
// again with another thread count, and the workers must not be joined during static destruction.
WorkerPool* current_pool = nullptr;
std::atomic<bool> gemm_on_pool{false};
}  // namespace

WorkerPool& cpu_pool() {
  std::lock_guard<std::mutex> lk(pool_mu);
  if (!current_pool)
    current_pool = new WorkerPool(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  return *current_pool;
}

void set_cpu_pool_threads(int threads) {
  const int n = threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::lock_guard<std::mutex> lk(pool_mu);
  if (current_pool && current_pool->threads() == n) return;
  current_pool = new WorkerPool(n);  // the previous one stays alive (idle), see above
}

bool gemm_on_cpu_pool() { return gemm_on_pool.load(); }
void set_gemm_on_cpu_pool(bool on) { gemm_on_pool = on; }

}  // namespace sbert::cpu
