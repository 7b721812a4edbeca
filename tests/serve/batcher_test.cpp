// Dynamic batching: requests merged into model calls within the token budget, each request
// getting exactly its own rows back, errors reaching every request of the failed call, and
// admission control refusing past its limit.
#include "serve/batcher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <thread>

namespace sbert::serve {
namespace {

Encoding tokens(int64_t first, size_t n) {
  Encoding e;
  for (size_t i = 0; i < n; ++i) e.ids.push_back(first + static_cast<int64_t>(i));
  return e;
}

// Row i of a call = (first id, length, number of inputs in the call) of input i.
Matrix describe(const std::vector<Encoding>& inputs) {
  Matrix m(inputs.size(), 3);
  for (size_t i = 0; i < inputs.size(); ++i) {
    m.at(i, 0) = static_cast<float>(inputs[i].ids[0]);
    m.at(i, 1) = static_cast<float>(inputs[i].size());
    m.at(i, 2) = static_cast<float>(inputs.size());
  }
  return m;
}

TEST(Batcher, EachRequestGetsItsOwnRowsInOrder) {
  Batcher b(describe, 1000);
  std::vector<std::thread> clients;
  std::atomic<int> wrong{0};
  for (int c = 0; c < 16; ++c)
    clients.emplace_back([&, c] {
      for (int r = 0; r < 20; ++r) {
        std::vector<Encoding> in;
        const size_t n = 1 + (c + r) % 4;
        for (size_t i = 0; i < n; ++i) in.push_back(tokens(c * 100000 + r * 100 + static_cast<int64_t>(i), 1 + i));
        Matrix out = b.submit(in);
        if (out.rows != n) ++wrong;
        for (size_t i = 0; i < out.rows; ++i)
          if (out.at(i, 0) != static_cast<float>(in[i].ids[0]) || out.at(i, 1) != static_cast<float>(in[i].size()))
            ++wrong;
      }
    });
  for (auto& t : clients) t.join();
  EXPECT_EQ(wrong.load(), 0);
  const Batcher::Stats s = b.stats();
  EXPECT_EQ(s.inputs, [] {
    size_t n = 0;
    for (int c = 0; c < 16; ++c)
      for (int r = 0; r < 20; ++r) n += 1 + (c + r) % 4;
    return n;
  }());
  EXPECT_LE(s.batches, 16u * 20u);
}

TEST(Batcher, QueuedRequestsAreMergedWithinTheTokenBudget) {
  // The first call blocks until the other requests are queued; they must then be merged into
  // calls of at most 10 tokens (a request never split).
  std::atomic<bool> release{false};
  std::atomic<int> calls{0};
  std::vector<size_t> call_tokens;
  std::mutex mu;
  Batcher b(
      [&](const std::vector<Encoding>& in) {
        if (calls++ == 0)
          while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        size_t t = 0;
        for (const auto& e : in) t += e.size();
        std::lock_guard<std::mutex> lock(mu);
        call_tokens.push_back(t);
        return describe(in);
      },
      10);
  std::thread first([&] { b.submit({tokens(1, 3)}); });
  while (calls == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::vector<std::thread> rest;
  for (int i = 0; i < 6; ++i) rest.emplace_back([&, i] { b.submit({tokens(10 + i, 4)}); });
  // Wait until all six are queued (the worker is still inside the first call).
  for (int spins = 0; spins < 20000 && b.queued() < 6; ++spins) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_EQ(b.queued(), 6u);
  release = true;
  first.join();
  for (auto& t : rest) t.join();
  ASSERT_EQ(call_tokens.size(), 4u);  // 3 | 4+4 | 4+4 | 4+4
  EXPECT_EQ(call_tokens[0], 3u);
  for (size_t i = 1; i < call_tokens.size(); ++i) EXPECT_EQ(call_tokens[i], 8u);
}

TEST(Batcher, AnOversizedRequestRunsAlone) {
  Batcher b(describe, 4);
  Matrix out = b.submit({tokens(1, 9), tokens(2, 9)});
  ASSERT_EQ(out.rows, 2u);
  EXPECT_EQ(out.at(1, 0), 2.0f);
  EXPECT_EQ(out.at(0, 2), 2.0f);  // both inputs of the request in one call
}

TEST(Batcher, ModelErrorsReachTheRequest) {
  Batcher b([](const std::vector<Encoding>&) -> Matrix { throw std::runtime_error("boom"); }, 100);
  EXPECT_THROW(b.submit({tokens(1, 2)}), std::runtime_error);
  // The worker survives and serves the next request's work.
  int ran = 0;
  b.run_alone([&] { ran = 1; });
  EXPECT_EQ(ran, 1);
}

TEST(Batcher, EmptyRequestGetsNoRows) {
  Batcher b(describe, 100);
  EXPECT_EQ(b.submit({}).rows, 0u);
}

TEST(Admission, RefusesPastTheLimitAndFreesOnLeave) {
  Admission a(2);
  EXPECT_TRUE(a.enter());
  EXPECT_TRUE(a.enter());
  EXPECT_FALSE(a.enter());
  EXPECT_EQ(a.inside(), 2u);
  a.leave();
  EXPECT_TRUE(a.enter());
}

}  // namespace
}  // namespace sbert::serve
