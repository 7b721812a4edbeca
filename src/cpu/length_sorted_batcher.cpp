#include "cpu/length_sorted_batcher.h"

#include <algorithm>
#include <numeric>

namespace sbert::cpu {

size_t LengthSortedBatcher::padded_length(size_t length, size_t max_length) {
  length = std::max<size_t>(length, 1);
  size_t p = (length + kPadMultiple - 1) / kPadMultiple * kPadMultiple;
  if (max_length > 0 && p > max_length) p = std::max(length, max_length);
  return p;
}

LengthSortedBatcher::LengthSortedBatcher(const std::vector<size_t>& lengths, size_t batch_size,
                                         size_t max_batch_tokens, size_t max_length) {
  if (batch_size == 0) batch_size = 1;
  std::vector<size_t> order(lengths.size());
  std::iota(order.begin(), order.end(), 0);
  // Longest first (the largest batch is allocated first); stable for equal lengths.
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return lengths[a] > lengths[b]; });
  std::vector<size_t> current;
  size_t current_pad = 0;
  for (size_t idx : order) {
    const size_t pad = padded_length(lengths[idx], max_length);
    const bool full = !current.empty() &&
                      (pad != current_pad || current.size() >= batch_size ||
                       (max_batch_tokens > 0 && (current.size() + 1) * pad > max_batch_tokens));
    if (full) {
      batches_.push_back(std::move(current));
      padded_.push_back(current_pad);
      current.clear();
    }
    current.push_back(idx);
    current_pad = pad;
  }
  if (!current.empty()) {
    batches_.push_back(std::move(current));
    padded_.push_back(current_pad);
  }
}

}  // namespace sbert::cpu
