// Pooling token vectors into one sentence vector, as sentence-transformers' Pooling module does,
// over packed token rows (the CPU runtime); libtorch's version over padded grids is nn/pooling.h.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace sbert::cpu {

enum class PoolingMode { Cls, Mean, Max, MeanSqrtLen, WeightedMean, LastToken, Pooler, Last2Mean };

// "cls", "mean", "max", "mean_sqrt_len", "weightedmean", "lasttoken", "pooler", "last2_mean".
PoolingMode parse_pooling_mode(const std::string& name);
std::string pooling_mode_name(PoolingMode mode);
// "mean+max" or "mean,max" -> the modes in order.
std::vector<PoolingMode> parse_pooling_modes(const std::string& spec);

// Pools sequence s of `hidden` (rows [offsets[s], offsets[s+1]) of [T, H]) into out[s * ld + 0..H)
// for every sequence, leaving out of the pool the first skip[s] tokens (skip may be null):
// Cls takes the first token whatever the skip; Mean / MeanSqrtLen / WeightedMean (weights 1, 2,
// ... by position) divide by the clamped (1e-9) count or weight sum; Max takes -1e9 where no
// token is pooled; LastToken the last pooled token (the sequence's last when none). Sums in
// double, in token order. Pooler and Last2Mean are the caller's (the pooler output / the second
// to last layer with Mean).
void pool_rows(const float* hidden, const std::vector<int64_t>& offsets, int64_t H, PoolingMode mode,
               const std::vector<size_t>* skip, float* out, int64_t ld);

}  // namespace sbert::cpu
