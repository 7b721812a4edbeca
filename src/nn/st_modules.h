// The sentence-transformers folder layout (modules.json, Pooling/Dense/Normalize modules,
// sentence_bert_config.json, config_sentence_transformers.json) read into one description.
#pragma once
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "nn/pooling.h"
#include "nn/torch_pch.h"

namespace sbert::nn {

struct PoolingConfig {
  std::vector<PoolingMode> modes;  // concatenated in this order (ST order)
  bool include_prompt = true;
  int64_t word_embedding_dimension = 0;
};

struct DenseModule {
  std::filesystem::path dir;
  int64_t in_features = 0, out_features = 0;
  bool bias = true;
  std::string activation;  // "tanh", "identity", "relu", "sigmoid", "gelu"
  at::Tensor weight, bias_tensor;  // loaded by load_dense (float32, compute device)
  at::Tensor apply(const at::Tensor& x) const;
};

struct PostModule {
  enum Kind { Dense, Normalize } kind;
  size_t dense_index = 0;
};

struct ModelLayout {
  std::filesystem::path root;
  std::filesystem::path transformer_dir;  // config.json, weights, tokenizer files
  bool sentence_transformers = false;     // modules.json present
  PoolingConfig pooling;                  // plain folders: mean
  std::vector<DenseModule> dense;
  std::vector<PostModule> post;           // Dense / Normalize in module order
  size_t max_seq_length = 0;              // 0: not set
  std::optional<bool> do_lower_case;
  std::string similarity_fn = "cosine";
  std::map<std::string, std::string> prompts;
  std::string default_prompt_name;

  bool has_normalize() const;
};

nlohmann::json read_json_file(const std::filesystem::path& path);
// Reads the layout (without loading any weights except the Dense modules' own).
ModelLayout read_model_layout(const std::filesystem::path& dir, at::Device device);

}  // namespace sbert::nn
