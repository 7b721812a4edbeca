#include "cpu/pooling.h"

#include <algorithm>
#include <cmath>

#include "sbert/error.h"

namespace sbert::cpu {

PoolingMode parse_pooling_mode(const std::string& name) {
  if (name == "cls") return PoolingMode::Cls;
  if (name == "mean") return PoolingMode::Mean;
  if (name == "max") return PoolingMode::Max;
  if (name == "mean_sqrt_len" || name == "mean_sqrt_len_tokens") return PoolingMode::MeanSqrtLen;
  if (name == "weightedmean") return PoolingMode::WeightedMean;
  if (name == "lasttoken") return PoolingMode::LastToken;
  if (name == "pooler") return PoolingMode::Pooler;
  if (name == "last2_mean") return PoolingMode::Last2Mean;
  throw Error("unknown pooling mode '" + name +
              "' (cls, mean, max, mean_sqrt_len, weightedmean, lasttoken, pooler, last2_mean)");
}

std::string pooling_mode_name(PoolingMode mode) {
  switch (mode) {
    case PoolingMode::Cls: return "cls";
    case PoolingMode::Mean: return "mean";
    case PoolingMode::Max: return "max";
    case PoolingMode::MeanSqrtLen: return "mean_sqrt_len";
    case PoolingMode::WeightedMean: return "weightedmean";
    case PoolingMode::LastToken: return "lasttoken";
    case PoolingMode::Pooler: return "pooler";
    case PoolingMode::Last2Mean: return "last2_mean";
  }
  return "?";
}

std::vector<PoolingMode> parse_pooling_modes(const std::string& spec) {
  std::vector<PoolingMode> modes;
  std::string cur;
  for (char ch : spec + "+") {
    if (ch == '+' || ch == ',') {
      if (!cur.empty()) modes.push_back(parse_pooling_mode(cur));
      cur.clear();
    } else {
      cur.push_back(ch);
    }
  }
  if (modes.empty()) throw Error("unknown pooling mode '" + spec + "'");
  return modes;
}

void pool_rows(const float* hidden, const std::vector<int64_t>& offsets, int64_t H, PoolingMode mode,
               const std::vector<size_t>* skip, float* out, int64_t ld) {
  std::vector<double> acc(static_cast<size_t>(H));
  for (size_t s = 0; s + 1 < offsets.size(); ++s) {
    const int64_t t0 = offsets[s], t1 = offsets[s + 1], n = t1 - t0;
    const int64_t first = std::min<int64_t>(n, skip ? static_cast<int64_t>((*skip)[s]) : 0);  // first pooled token
    float* o = out + static_cast<int64_t>(s) * ld;
    const float* rows = hidden + t0 * H;
    switch (mode) {
      case PoolingMode::Cls:
      case PoolingMode::Pooler:
        std::copy(rows, rows + H, o);
        break;
      case PoolingMode::LastToken: {
        const int64_t last = n > 0 ? n - 1 : 0;
        std::copy(rows + last * H, rows + (last + 1) * H, o);
        break;
      }
      case PoolingMode::Max:
        for (int64_t h = 0; h < H; ++h) {
          float m = -1e9f;
          for (int64_t j = first; j < n; ++j) m = std::max(m, rows[j * H + h]);
          o[h] = m;
        }
        break;
      case PoolingMode::Mean:
      case PoolingMode::Last2Mean:
      case PoolingMode::MeanSqrtLen:
      case PoolingMode::WeightedMean: {
        std::fill(acc.begin(), acc.end(), 0.0);
        double weight = 0;
        for (int64_t j = first; j < n; ++j) {
          const double w = mode == PoolingMode::WeightedMean ? static_cast<double>(j + 1) : 1.0;
          weight += w;
          for (int64_t h = 0; h < H; ++h) acc[h] += w * rows[j * H + h];
        }
        const double div = mode == PoolingMode::MeanSqrtLen ? std::sqrt(std::max(weight, 1e-9)) : std::max(weight, 1e-9);
        for (int64_t h = 0; h < H; ++h) o[h] = static_cast<float>(acc[h] / div);
        break;
      }
    }
  }
}

}  // namespace sbert::cpu
