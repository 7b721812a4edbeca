// Checkpoint files without libtorch: one interface over the weight formats a model folder can
// hold (safetensors by mmap, sharded safetensors, torch.save zip checkpoints read by a restricted
// unpickler). Tensors come back as read-only views of their stored bytes (row-major, contiguous)
// in the stored dtype; to_float32 converts. libtorch's WeightStore (src/nn/weight_store.h) wraps
// these views; the CPU runtime reads them directly.
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace sbert::cpu {

enum class StoredType { F32, F16, BF16, F64, I64, I32, I16, I8, U8, Bool };
size_t stored_size(StoredType type);      // bytes per element
const char* stored_name(StoredType type);  // "F32", "BF16", ... (safetensors' names)

struct TensorView {
  StoredType type = StoredType::F32;
  std::vector<int64_t> shape;
  const void* data = nullptr;  // numel() * stored_size(type) bytes, row-major, contiguous
  // Keeps the bytes alive (the memory map or the decoded storage) as long as the view is held.
  std::shared_ptr<const void> owner;
  int64_t numel() const;
};

class TensorFile {
 public:
  virtual ~TensorFile() = default;
  virtual std::vector<std::string> names() const = 0;
  virtual bool contains(const std::string& name) const = 0;
  virtual std::vector<int64_t> shape(const std::string& name) const = 0;
  virtual StoredType type(const std::string& name) const = 0;
  // The tensor's stored bytes. May alias a read-only memory map: never write through it.
  virtual TensorView view(const std::string& name) const = 0;
  // The file the tensor comes from (for error messages).
  virtual std::string source(const std::string& name) const = 0;
  // The caller has its own copy and will not read the tensor again: a memory-mapped file drops
  // its pages (re-read from the file if a view is read after all). Others do nothing.
  virtual void release(const std::string& name) const { (void)name; }
};

// A memory-mapped .safetensors file; the header is validated when the file is opened.
std::unique_ptr<TensorFile> open_safetensors(const std::filesystem::path& file);
// A torch.save zip checkpoint (pytorch_model.bin), read by a restricted unpickler that only
// accepts what a state dict needs; a pickle it cannot read or a storage type it does not know is
// one error naming the file and what it found.
std::unique_ptr<TensorFile> open_torch_checkpoint(const std::filesystem::path& file);
// One file, format chosen by its content/extension.
std::unique_ptr<TensorFile> open_tensor_file(const std::filesystem::path& file);
// The weights of a Hugging Face model folder: the file sbert::model::find_weight_file picks
// (model.safetensors > model.safetensors.index.json > pytorch_model.bin > its index).
std::unique_ptr<TensorFile> open_model_tensors(const std::filesystem::path& dir);

// The view's values as float32 (F32 copied; F16, BF16, F64 converted exactly as torch's
// .to(torch.float32) does, i.e. round to nearest even for F64); other types: sbert::Error naming
// `where` (file + tensor name) and the type.
std::vector<float> to_float32(const TensorView& view, const std::string& where);

}  // namespace sbert::cpu
