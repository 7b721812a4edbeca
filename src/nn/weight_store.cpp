// libtorch's side of the checkpoint readers (the readers themselves are torch-free, in
// src/cpu/), and WeightLoader (prefix handling, dtype/device conversion and one error listing
// every missing/mismatched tensor, with the name rules of cpu/weights.h).
#include "nn/weight_store.h"

#include "cpu/tensor_file.h"
#include "cpu/weights.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "sbert/json_parse.h"
#include "sbert/error.h"
#include "sbert/model_folder.h"

namespace sbert::nn {
namespace fs = std::filesystem;
namespace {

at::ScalarType torch_type(cpu::StoredType t) {
  switch (t) {
    case cpu::StoredType::F32: return at::kFloat;
    case cpu::StoredType::F16: return at::kHalf;
    case cpu::StoredType::BF16: return at::kBFloat16;
    case cpu::StoredType::F64: return at::kDouble;
    case cpu::StoredType::I64: return at::kLong;
    case cpu::StoredType::I32: return at::kInt;
    case cpu::StoredType::I16: return at::kShort;
    case cpu::StoredType::I8: return at::kChar;
    case cpu::StoredType::U8: return at::kByte;
    case cpu::StoredType::Bool: return at::kBool;
  }
  return at::kFloat;
}

// libtorch's view of a torch-free checkpoint reader (cpu/tensor_file.h): tensors alias its bytes
// (a memory map stays alive as long as a tensor does).
class TensorFileStore final : public WeightStore {
 public:
  explicit TensorFileStore(std::unique_ptr<cpu::TensorFile> file) : file_(std::move(file)) {}
  std::vector<std::string> names() const override { return file_->names(); }
  bool contains(const std::string& name) const override { return file_->contains(name); }
  std::vector<int64_t> shape(const std::string& name) const override { return file_->shape(name); }
  std::string source(const std::string& name) const override { return file_->source(name); }
  void release(const std::string& name) const override { file_->release(name); }
  at::Tensor get(const std::string& name) const override {
    cpu::TensorView v = file_->view(name);
    auto keep = v.owner;
    return at::from_blob(const_cast<void*>(v.data), v.shape, [keep](void*) {},
                         at::TensorOptions().dtype(torch_type(v.type)));
  }

 private:
  std::unique_ptr<cpu::TensorFile> file_;
};

}  // namespace

std::unique_ptr<WeightStore> open_safetensors(const fs::path& file) {
  return std::make_unique<TensorFileStore>(cpu::open_safetensors(file));
}
std::unique_ptr<WeightStore> open_torch_checkpoint(const fs::path& file) {
  return std::make_unique<TensorFileStore>(cpu::open_torch_checkpoint(file));
}
std::unique_ptr<WeightStore> open_weight_file(const fs::path& file) {
  return std::make_unique<TensorFileStore>(cpu::open_tensor_file(file));
}
std::unique_ptr<WeightStore> open_model_weights(const fs::path& dir) {
  return std::make_unique<TensorFileStore>(cpu::open_model_tensors(dir));
}

std::string find_encoder_prefix(const WeightStore& store) {
  return cpu::find_prefix(store.names(), "embeddings.word_embeddings.weight");
}

std::string find_encoder_prefix(const WeightStore& store, const cpu::Architecture& arch) {
  return cpu::find_prefix(store.names(), std::string(arch.tensors.word_embeddings) + ".weight");
}

WeightLoader::WeightLoader(const WeightStore& store, std::string prefix, at::TensorOptions options,
                           std::string where)
    : store_(store), prefix_(std::move(prefix)), options_(options), where_(std::move(where)) {}

const std::string* WeightLoader::resolve(const std::string& name) const {
  static thread_local std::string found;
  const auto stored = cpu::resolve_parameter(prefix_, name, [&](const std::string& n) { return store_.contains(n); });
  if (!stored) return nullptr;
  found = *stored;
  return &found;
}

bool WeightLoader::has(const std::string& name) const { return resolve(name) != nullptr; }

at::Tensor WeightLoader::take_optional(const std::string& name, const std::vector<int64_t>& shape) {
  if (!has(name)) return at::Tensor();
  return take(name, shape);
}

at::Tensor WeightLoader::take(const std::string& name, const std::vector<int64_t>& shape) {
  const std::string* stored = resolve(name);
  if (!stored) {
    missing_.push_back(prefix_ + name);
    return at::Tensor();
  }
  const std::string key = *stored;
  std::vector<int64_t> got = store_.shape(key);
  if (got != shape) {
    mismatched_.push_back(key + " " + cpu::shape_string(got) + " (expected " + cpu::shape_string(shape) + ")");
    return at::Tensor();
  }
  at::Tensor t = store_.get(key);
  // A copy (never an alias of the read-only map) in the compute dtype/device, unless the stored
  // tensor already matches: then it is shared with the mapping and only read.
  if (t.scalar_type() == options_.dtype().toScalarType() && options_.device().is_cpu())
    return t.is_contiguous() ? t : t.contiguous();
  return t.to(options_.device(), options_.dtype().toScalarType()).contiguous();
}

void WeightLoader::release(const std::string& name) const {
  if (const std::string* stored = resolve(name)) store_.release(*stored);
}

void WeightLoader::finish() const {
  if (missing_.empty() && mismatched_.empty()) return;
  throw Error(cpu::parameter_errors(where_, missing_, mismatched_));
}

}  // namespace sbert::nn
