// EmbeddingModel: transformer + sentence-transformers modules (Pooling, Dense, Normalize) over
// already-tokenized inputs, with length-sorted batching. SentenceEncoder adds the tokenizer.
#pragma once
#include <filesystem>
#include <memory>
#include <vector>

#include "cpu/embedding_model.h"
#include "cpu/sentence_encoder.h"
#include "nn/st_modules.h"
#include "nn/torch_pch.h"
#include "nn/transformer.h"
#include "sbert/encoder.h"

namespace sbert::nn {

class EmbeddingModel final : public cpu::TokenModel {
 public:
  // Reads config.json, the weights and the module layout of a model folder. Throws sbert::Error.
  static std::unique_ptr<EmbeddingModel> load(const std::filesystem::path& dir,
                                              const EncoderOptions& options);

  // Embeds inputs that already hold special tokens (at most max_length() tokens each), in
  // length-sorted batches; rows in input order. pool_skip (optional, one per input) is the
  // number of leading tokens left out of pooling (prompts with include_prompt = false).
  Matrix embed(const std::vector<const Encoding*>& inputs, EncodeStats* stats = nullptr,
               const std::vector<size_t>* pool_skip = nullptr) const override;

  // Per-token hidden states of `layer` (python-style index into [embeddings, layer 1..N]).
  std::vector<Matrix> token_states(const std::vector<const Encoding*>& inputs, int layer,
                                   EncodeStats* stats = nullptr) const override;

  size_t dimension() const override { return plan_.dimension; }
  bool normalizes() const override { return plan_.normalize; }
  size_t max_length() const override { return plan_.max_length; }
  const model::ModelFolder& folder() const override { return layout_; }
  const ModelLayout& layout() const { return layout_; }
  const TransformerEncoder& encoder() const { return *encoder_; }
  const ModelInfo& info() const override { return info_; }

 private:
  EmbeddingModel() = default;
  struct Batch {
    at::Tensor ids, mask, types;
    std::vector<size_t> lengths;
  };
  // Pads to `padded` tokens (see cpu::LengthSortedBatcher), or the longest member when longer.
  Batch make_batch(const std::vector<const Encoding*>& inputs, const std::vector<size_t>& idx, size_t padded) const;
  void check_inputs(const std::vector<const Encoding*>& inputs) const;
  // [B, dimension] float32 on the CPU.
  at::Tensor embed_batch(const Batch& batch, const at::Tensor& pool_mask, EncodeStats* stats) const;

  ModelLayout layout_;
  std::unique_ptr<TransformerEncoder> encoder_;
  cpu::EmbeddingPlan plan_;  // pooling, modules, dimension, limits (cpu/embedding_model.h)
  at::Device device_ = at::Device(at::kCPU);
  at::ScalarType dtype_ = at::kFloat;
  ModelInfo info_;
};


}  // namespace sbert::nn
