// Pooling token vectors into one sentence vector, as sentence-transformers' Pooling module does.
#pragma once
#include <string>
#include <vector>

#include "nn/torch_pch.h"

namespace sbert::nn {

enum class PoolingMode { Cls, Mean, Max, MeanSqrtLen, WeightedMean, LastToken, Pooler, Last2Mean };

// "cls", "mean", "max", "mean_sqrt_len", "weightedmean", "lasttoken", "pooler", "last2_mean".
PoolingMode parse_pooling_mode(const std::string& name);
std::string pooling_mode_name(PoolingMode mode);

// hidden: [B, L, H] (float32), mask: [B, L] (1 = token). For Pooler pass the pooler output
// [B, H] as `hidden` ... see pool_sentence in the pipeline; for Last2Mean pass the second-to-last
// hidden layer. Returns [B, H] float32.
at::Tensor pool(const at::Tensor& hidden, const at::Tensor& mask, PoolingMode mode);

}  // namespace sbert::nn
