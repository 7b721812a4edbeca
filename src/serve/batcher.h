// Dynamic batching: requests from many connections queue their model inputs; one worker thread
// per model merges whatever is queued into model calls of at most max_batch_tokens tokens (a
// request larger than that runs alone) and hands each request its own rows back. Every call on
// the model happens on that worker thread, so the model needs no locking of its own.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "sbert/matrix.h"
#include "sbert/tokenizer.h"

namespace sbert::serve {

class Batcher {
 public:
  // Computes one row per input, in input order (e.g. SentenceEncoder::encode_tokenized).
  using Run = std::function<Matrix(const std::vector<Encoding>&)>;
  Batcher(Run run, size_t max_batch_tokens);
  // Finishes what is queued, then stops the worker.
  ~Batcher();
  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;

  // Blocks until the rows of `inputs` are computed; rethrows what the model threw.
  Matrix submit(std::vector<Encoding> inputs);
  // Runs `fn` on the worker thread between batches (model calls that are not batched).
  void run_alone(const std::function<void()>& fn);

  struct Stats {
    size_t batches = 0, inputs = 0, tokens = 0;
    double queue_seconds = 0, run_seconds = 0;  // summed over requests / batches
    std::vector<size_t> batch_inputs_histogram;  // index k: batches of [2^k, 2^(k+1)) inputs
  };
  Stats stats() const;
  size_t queued() const;  // requests waiting for the model

 private:
  struct Job {
    std::vector<Encoding> inputs;
    std::function<void()> alone;
    size_t tokens = 0;
    std::chrono::steady_clock::time_point queued;
    std::promise<Matrix> result;
  };
  void work();

  Run run_;
  size_t max_tokens_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  Stats stats_;
  std::thread worker_;
};

// Admission control: at most `limit` requests inside at once (TEI's --max-concurrent-requests).
class Admission {
 public:
  explicit Admission(size_t limit) : limit_(limit) {}
  // false when full (the caller answers 429).
  bool enter();
  void leave();
  size_t inside() const;

 private:
  size_t limit_;
  mutable std::mutex mu_;
  size_t inside_ = 0;
};

}  // namespace sbert::serve
