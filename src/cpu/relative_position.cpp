#include "cpu/relative_position.h"

#include <algorithm>
#include <cmath>

namespace sbert::cpu {

int64_t relative_position_bucket(int64_t offset, int64_t buckets, int64_t max_distance) {
  const int64_t half = buckets / 2, exact = half / 2;
  int64_t n = -offset;  // transformers' n = -relative_position
  const int64_t ret = n < 0 ? half : 0;
  n = n < 0 ? -n : n;
  if (n < exact) return ret + n;
  const float ratio = std::log(static_cast<float>(n) / static_cast<float>(exact)) /
                      static_cast<float>(std::log(static_cast<double>(max_distance) / static_cast<double>(exact)));
  const int64_t large = exact + static_cast<int64_t>(ratio * static_cast<float>(half - exact));
  return ret + std::min(large, half - 1);
}

std::vector<float> relative_position_bias(const float* table, int64_t heads, int64_t buckets, int64_t max_distance,
                                          int64_t n) {
  // One bucket per offset -(n - 1) .. n - 1, then the [heads, n, n] rows.
  std::vector<int64_t> bucket(static_cast<size_t>(2 * n > 0 ? 2 * n - 1 : 0));
  for (int64_t o = -(n - 1); o < n; ++o) bucket[static_cast<size_t>(o + n - 1)] = relative_position_bucket(o, buckets, max_distance);
  std::vector<float> bias(static_cast<size_t>(heads * n * n));
  for (int64_t h = 0; h < heads; ++h)
    for (int64_t i = 0; i < n; ++i) {
      float* row = bias.data() + (h * n + i) * n;
      for (int64_t j = 0; j < n; ++j) row[j] = table[bucket[static_cast<size_t>(j - i + n - 1)] * heads + h];
    }
  return bias;
}

}  // namespace sbert::cpu
