// The CPU runtime's embedding model: Encoder (cpu/encoder.h) + the sentence-transformers
// modules after it (Pooling, Dense, Normalize) over tokenized inputs, in length-sorted batches.
// EmbeddingPlan is the torch-free part of loading any embedding model (libtorch's
// nn::EmbeddingModel reads it too): which pooling, which modules, the dimension and limits.
#pragma once
#include <filesystem>
#include <memory>
#include <vector>

#include "cpu/encoder.h"
#include "cpu/pooling.h"
#include "cpu/sentence_encoder.h"
#include "sbert/encoder.h"

namespace sbert::cpu {

struct EmbeddingPlan {
  std::vector<PoolingMode> modes;  // concatenated in this order
  // Dense (index into ModelFolder::dense) and Normalize steps after pooling, in module order.
  struct Step {
    bool normalize = false;
    size_t dense_index = 0;
  };
  std::vector<Step> steps;
  bool normalize = false;      // the vectors come out unit length
  bool all_hidden = false;     // a mode needs every layer's states (last2_mean)
  size_t truncate_dim = 0;     // 0: none
  size_t dimension = 0;
  size_t max_length = 0;
  size_t batch_size = 32;
  size_t max_batch_tokens = 16384;
};

// The plan for a folder's layout, its config and the options; errors name the file at fault
// (a pooling mode the checkpoint cannot serve, Dense in_features against the pooled width, a
// max_length beyond the positions, a truncate_dim beyond the dimension).
EmbeddingPlan plan_embedding(const model::ModelFolder& folder, const ModelConfig& config, const EncoderOptions& options,
                             bool has_pooler, const std::string& where);
// ModelInfo of a loaded model.
ModelInfo embedding_info(const model::ModelFolder& folder, const ModelConfig& config, const EmbeddingPlan& plan,
                         const std::string& weights, const EncoderOptions& options, const std::string& device);

class EmbeddingModel final : public TokenModel {
 public:
  // Reads config.json, the weights and the module layout of a model folder. Throws sbert::Error.
  static std::unique_ptr<EmbeddingModel> load(const std::filesystem::path& dir, const EncoderOptions& options);

  Matrix embed(const std::vector<const Encoding*>& inputs, EncodeStats* stats = nullptr,
               const std::vector<size_t>* pool_skip = nullptr) const override;
  std::vector<Matrix> token_states(const std::vector<const Encoding*>& inputs, int layer,
                                   EncodeStats* stats = nullptr) const override;
  size_t dimension() const override { return plan_.dimension; }
  bool normalizes() const override { return plan_.normalize; }
  size_t max_length() const override { return plan_.max_length; }
  const model::ModelFolder& folder() const override { return folder_; }
  const ModelInfo& info() const override { return info_; }
  const Encoder& encoder() const { return *encoder_; }

 private:
  EmbeddingModel() = default;
  struct Dense {
    Linear linear;
    Activation activation = Activation::Identity;
  };
  void check_inputs(const std::vector<const Encoding*>& inputs) const;
  TokenBatch batch_of(const std::vector<const Encoding*>& inputs, const std::vector<size_t>& idx) const;

  model::ModelFolder folder_;
  EmbeddingPlan plan_;
  std::unique_ptr<Encoder> encoder_;
  std::vector<Dense> dense_;  // parallel to folder_.dense
  std::vector<std::shared_ptr<const TensorFile>> files_;  // the Dense modules' weights (used in place)
  ModelInfo info_;
};

// "identity" | "tanh" | "relu" | "sigmoid" | "gelu" (a Dense module's activation).
Activation dense_activation(const std::string& name, const std::string& where);

}  // namespace sbert::cpu
