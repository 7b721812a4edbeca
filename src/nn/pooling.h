// Pooling token vectors into one sentence vector, as sentence-transformers' Pooling module does.
#pragma once
#include <string>
#include <vector>

#include "cpu/pooling.h"
#include "nn/torch_pch.h"

namespace sbert::nn {

using cpu::parse_pooling_mode;
using cpu::pooling_mode_name;
using cpu::PoolingMode;

// hidden: [B, L, H] (float32), mask: [B, L] (1 = token). For Pooler pass the pooler output
// [B, H] as `hidden` ... see pool_sentence in the pipeline; for Last2Mean pass the second-to-last
// hidden layer. Returns [B, H] float32.
at::Tensor pool(const at::Tensor& hidden, const at::Tensor& mask, PoolingMode mode);

}  // namespace sbert::nn
