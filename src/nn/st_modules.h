// The sentence-transformers folder layout (read by sbert::model::read_model_folder) with what
// the nn component adds: pooling modes as PoolingMode and the Dense modules' weights.
#pragma once
#include <filesystem>
#include <vector>

#include "nn/pooling.h"
#include "nn/torch_pch.h"
#include "sbert/model_folder.h"

namespace sbert::nn {

struct DenseModule : model::DenseSpec {
  at::Tensor weight, bias_tensor;  // loaded by read_model_layout (float32, compute device)
  at::Tensor apply(const at::Tensor& x) const;
};

struct PostModule {
  enum Kind { Dense, Normalize } kind;
  size_t dense_index = 0;
};

struct ModelLayout : model::ModelFolder {
  std::vector<PoolingMode> pooling_modes;  // concatenated in this order (ST order)
  std::vector<DenseModule> dense_modules;  // with weights, parallel to `dense`
  std::vector<PostModule> post;            // Dense / Normalize in module order
};

// Reads the layout (strictly) and loads the Dense modules' own weights; no transformer weights.
ModelLayout read_model_layout(const std::filesystem::path& dir, at::Device device);

}  // namespace sbert::nn
