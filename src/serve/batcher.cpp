#include "serve/batcher.h"

#include <algorithm>

namespace sbert::serve {

Batcher::Batcher(Run run, size_t max_batch_tokens)
    : run_(std::move(run)), max_tokens_(std::max<size_t>(max_batch_tokens, 1)), worker_([this] { work(); }) {}

Batcher::~Batcher() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  worker_.join();
}

Matrix Batcher::submit(std::vector<Encoding> inputs) {
  Job job;
  for (const auto& e : inputs) job.tokens += e.size();
  job.inputs = std::move(inputs);
  job.queued = std::chrono::steady_clock::now();
  std::future<Matrix> done = job.result.get_future();
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(job));
  }
  cv_.notify_one();
  return done.get();
}

void Batcher::run_alone(const std::function<void()>& fn) {
  Job job;
  job.alone = fn;
  job.queued = std::chrono::steady_clock::now();
  std::future<Matrix> done = job.result.get_future();
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(job));
  }
  cv_.notify_one();
  done.get();
}

size_t Batcher::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

Batcher::Stats Batcher::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void Batcher::work() {
  using clock = std::chrono::steady_clock;
  while (true) {
    std::vector<Job> jobs;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      // The first job always goes; then every queued batchable job that fits the token budget,
      // in arrival order (a job that does not fit waits for the next call, so none starves).
      size_t tokens = 0;
      while (!queue_.empty()) {
        Job& next = queue_.front();
        if (next.alone) {
          if (jobs.empty()) {
            jobs.push_back(std::move(next));
            queue_.pop_front();
          }
          break;
        }
        if (!jobs.empty() && tokens + next.tokens > max_tokens_) break;
        tokens += next.tokens;
        jobs.push_back(std::move(next));
        queue_.pop_front();
      }
    }
    const auto start = clock::now();
    double queued = 0;
    for (const Job& j : jobs) queued += std::chrono::duration<double>(start - j.queued).count();
    if (jobs.front().alone) {
      std::exception_ptr error;
      try {
        jobs.front().alone();
      } catch (...) {
        error = std::current_exception();
      }
      {
        std::lock_guard<std::mutex> lock(mu_);
        stats_.queue_seconds += queued;
      }
      if (error) jobs.front().result.set_exception(error);
      else jobs.front().result.set_value(Matrix());
      continue;
    }
    std::vector<Encoding> all;
    size_t tokens = 0;
    for (Job& j : jobs)
      for (Encoding& e : j.inputs) {
        tokens += e.size();
        all.push_back(std::move(e));
      }
    Matrix rows;
    std::exception_ptr error;
    try {
      if (!all.empty()) rows = run_(all);
    } catch (...) {
      error = std::current_exception();
    }
    const double ran = std::chrono::duration<double>(clock::now() - start).count();
    {
      // Counted before the answers go out: a client that has its answer sees it in the stats.
      std::lock_guard<std::mutex> lock(mu_);
      stats_.batches += 1;
      stats_.inputs += all.size();
      stats_.tokens += tokens;
      stats_.queue_seconds += queued;
      stats_.run_seconds += ran;
      size_t bucket = 0;
      for (size_t n = all.size(); n > 1; n >>= 1) ++bucket;
      if (stats_.batch_inputs_histogram.size() <= bucket) stats_.batch_inputs_histogram.resize(bucket + 1, 0);
      ++stats_.batch_inputs_histogram[bucket];
    }
    if (error) {
      for (Job& j : jobs) j.result.set_exception(error);
      continue;
    }
    size_t offset = 0;
    for (Job& j : jobs) {
      const size_t n = j.inputs.size();
      Matrix mine(n, rows.cols);
      if (n > 0) std::copy(rows.row(offset), rows.row(offset) + n * rows.cols, mine.row(0));
      offset += n;
      j.result.set_value(std::move(mine));
    }
  }
}

bool Admission::enter() {
  std::lock_guard<std::mutex> lock(mu_);
  if (inside_ >= limit_) return false;
  ++inside_;
  return true;
}

void Admission::leave() {
  std::lock_guard<std::mutex> lock(mu_);
  if (inside_ > 0) --inside_;
}

size_t Admission::inside() const {
  std::lock_guard<std::mutex> lock(mu_);
  return inside_;
}

}  // namespace sbert::serve
