// Weight stores: one interface over the checkpoint formats a model folder can hold
// (safetensors, sharded safetensors, torch.save zip checkpoints). Tensors come back on the CPU
// in their stored dtype; the model converts them to its compute dtype and device.
#pragma once
#include "cpu/architecture.h"
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "nn/torch_pch.h"

namespace sbert::nn {

class WeightStore {
 public:
  virtual ~WeightStore() = default;
  virtual std::vector<std::string> names() const = 0;
  virtual bool contains(const std::string& name) const = 0;
  virtual std::vector<int64_t> shape(const std::string& name) const = 0;
  // The tensor as stored (CPU, stored dtype). May alias a read-only memory map: never write to it.
  virtual at::Tensor get(const std::string& name) const = 0;
  // The file the tensor comes from (for error messages).
  virtual std::string source(const std::string& name) const = 0;
  // The caller has its own copy of the tensor and will not read it from the store again: a
  // memory-mapped store drops its pages from memory (they are re-read from the file if a tensor
  // that aliases them is read after all). Other stores do nothing.
  virtual void release(const std::string& name) const { (void)name; }
};

// A memory-mapped .safetensors file; the header is validated when the file is opened.
std::unique_ptr<WeightStore> open_safetensors(const std::filesystem::path& file);
// A torch.save zip checkpoint (pytorch_model.bin), read by a restricted unpickler that only
// accepts what a state dict needs.
std::unique_ptr<WeightStore> open_torch_checkpoint(const std::filesystem::path& file);
// One file, format chosen by its content/extension.
std::unique_ptr<WeightStore> open_weight_file(const std::filesystem::path& file);
// The weights of a Hugging Face model folder: the file sbert::model::find_weight_file picks
// (model.safetensors > model.safetensors.index.json > pytorch_model.bin > its index).
std::unique_ptr<WeightStore> open_model_weights(const std::filesystem::path& dir);

// Looks parameters up in a store under a prefix (e.g. "bert."), converts them to the model's
// dtype/device and records every missing tensor and shape mismatch, so that finish() can report
// them all in one error.
class WeightLoader {
 public:
  WeightLoader(const WeightStore& store, std::string prefix, at::TensorOptions options,
               std::string where);
  // The parameter `name` (without the prefix) with the expected shape; an undefined tensor
  // when missing or mismatched (finish() then throws).
  at::Tensor take(const std::string& name, const std::vector<int64_t>& shape);
  at::Tensor take_optional(const std::string& name, const std::vector<int64_t>& shape);
  bool has(const std::string& name) const;
  // WeightStore::release for the parameter `name` (without the prefix), when present.
  void release(const std::string& name) const;
  // Throws sbert::Error listing every missing tensor and shape mismatch.
  void finish() const;

 private:
  const std::string* resolve(const std::string& name) const;
  const WeightStore& store_;
  std::string prefix_;
  at::TensorOptions options_;
  std::string where_;
  std::map<std::string, std::string> names_;  // logical name -> stored name
  std::vector<std::string> missing_, mismatched_;
};

// The prefix under which a store holds the encoder (e.g. "", "bert.", "roberta.", "model."),
// found from the word-embedding tensor; "" when none is found.
std::string find_encoder_prefix(const WeightStore& store);
// The same for the architecture `arch` (its word-embedding tensor's name).
std::string find_encoder_prefix(const WeightStore& store, const cpu::Architecture& arch);

}  // namespace sbert::nn
