// Pooling formulas follow sentence_transformers.models.Pooling (clamps, -1e9 for max).
#include "nn/pooling.h"

#include "sbert/error.h"

namespace sbert::nn {

at::Tensor pool(const at::Tensor& hidden, const at::Tensor& mask_in, PoolingMode mode) {
  const int64_t L = hidden.size(1);
  at::Tensor mask = mask_in.to(hidden.device(), hidden.scalar_type()).unsqueeze(-1);  // [B, L, 1]
  switch (mode) {
    case PoolingMode::Cls:
      return hidden.select(1, 0);
    case PoolingMode::Pooler:  // the caller passes the pooler output [B, H]
      return hidden;
    case PoolingMode::Mean:
    case PoolingMode::Last2Mean:
    case PoolingMode::MeanSqrtLen: {
      at::Tensor expanded = mask.expand_as(hidden);
      at::Tensor sum = (hidden * expanded).sum(1);
      at::Tensor count = expanded.sum(1).clamp_min(1e-9);
      return mode == PoolingMode::MeanSqrtLen ? sum / count.sqrt() : sum / count;
    }
    case PoolingMode::Max: {
      at::Tensor masked = hidden.masked_fill(mask.expand_as(hidden) == 0, -1e9);
      return std::get<0>(masked.max(1));
    }
    case PoolingMode::WeightedMean: {
      at::Tensor weights = at::arange(1, L + 1, hidden.options()).view({1, L, 1});
      at::Tensor w = mask.expand_as(hidden) * weights;
      at::Tensor sum = (hidden * w).sum(1);
      return sum / w.sum(1).clamp_min(1e-9);
    }
    case PoolingMode::LastToken: {
      // The last position whose mask is 1 (the last position when none is).
      at::Tensor m = mask_in.to(hidden.device(), at::kLong);
      auto [values, idx] = m.flip({1}).max(1);
      idx = at::where(values == 0, at::full_like(idx, L - 1), idx);
      at::Tensor last = (L - 1) - idx;  // [B]
      at::Tensor gather = last.view({-1, 1, 1}).expand({hidden.size(0), 1, hidden.size(2)});
      return hidden.gather(1, gather).squeeze(1);
    }
  }
  return hidden.select(1, 0);
}

}  // namespace sbert::nn
