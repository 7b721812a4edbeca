#include "nn/length_sorted_batcher.h"

#include <algorithm>
#include <numeric>

namespace sbert::nn {

LengthSortedBatcher::LengthSortedBatcher(const std::vector<size_t>& lengths, size_t batch_size,
                                         size_t max_batch_tokens) {
  if (batch_size == 0) batch_size = 1;
  std::vector<size_t> order(lengths.size());
  std::iota(order.begin(), order.end(), 0);
  // Longest first (the largest batch is allocated first); stable for equal lengths.
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return lengths[a] > lengths[b]; });
  std::vector<size_t> current;
  size_t longest = 0;
  for (size_t idx : order) {
    const size_t len = std::max<size_t>(lengths[idx], 1);
    const size_t new_longest = std::max(longest, len);
    const bool full = current.size() >= batch_size ||
                      (max_batch_tokens > 0 && !current.empty() &&
                       (current.size() + 1) * new_longest > max_batch_tokens);
    if (full) {
      batches_.push_back(std::move(current));
      current.clear();
      longest = 0;
    }
    current.push_back(idx);
    longest = std::max(longest, len);
  }
  if (!current.empty()) batches_.push_back(std::move(current));
}

}  // namespace sbert::nn
