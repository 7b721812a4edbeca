// LengthSortedBatcher: groups inputs of similar length so each batch is padded only to its own
// longest member. Batches hold at most batch_size inputs and at most max_batch_tokens padded
// tokens (batch size x longest length); the caller restores input order by index.
#pragma once
#include <cstddef>
#include <vector>

namespace sbert::nn {

class LengthSortedBatcher {
 public:
  LengthSortedBatcher(const std::vector<size_t>& lengths, size_t batch_size,
                      size_t max_batch_tokens);
  // Indices into the input, longest first; every index appears exactly once.
  const std::vector<std::vector<size_t>>& batches() const { return batches_; }

 private:
  std::vector<std::vector<size_t>> batches_;
};

}  // namespace sbert::nn
