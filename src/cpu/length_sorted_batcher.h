// LengthSortedBatcher: groups inputs of similar length so each batch carries little padding.
// Every input is padded to a length that depends on its own length only (rounded up to a
// multiple of kPadMultiple, at most max_length), and a batch holds inputs of one padded length:
// so an input's vector never depends on which other inputs share its batch (padding changes
// the order of floating-point reductions). Batches hold at most batch_size inputs and at most
// max_batch_tokens padded tokens; the caller restores input order by index.
#pragma once
#include <cstddef>
#include <vector>

namespace sbert::cpu {

class LengthSortedBatcher {
 public:
  static constexpr size_t kPadMultiple = 8;
  // `max_length` caps the padded length (0: no cap).
  LengthSortedBatcher(const std::vector<size_t>& lengths, size_t batch_size, size_t max_batch_tokens,
                      size_t max_length = 0);
  // Indices into the input, longest first; every index appears exactly once.
  const std::vector<std::vector<size_t>>& batches() const { return batches_; }
  // The padded length of each batch (>= every member's length).
  const std::vector<size_t>& padded_lengths() const { return padded_; }
  // The padded length of an input of `length` tokens.
  static size_t padded_length(size_t length, size_t max_length);

 private:
  std::vector<std::vector<size_t>> batches_;
  std::vector<size_t> padded_;
};

}  // namespace sbert::cpu
