// Reading a model's parameters out of a TensorFile (cpu/tensor_file.h) as float32: a prefix
// (e.g. "bert."), old names (LayerNorm gamma/beta), expected shapes, and one error listing every
// missing tensor and shape mismatch (finish()). The name and message rules are shared with
// libtorch's WeightLoader (src/nn/weight_store.cpp).
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cpu/tensor_file.h"

namespace sbert::cpu {

// The stored name of parameter `name` under `prefix`: prefix + name, or for a LayerNorm's
// weight/bias its gamma/beta; nullopt when `contains` knows neither.
std::optional<std::string> resolve_parameter(const std::string& prefix, const std::string& name,
                                             const std::function<bool(const std::string&)>& contains);
// "[2, 3]".
std::string shape_string(const std::vector<int64_t>& shape);
// "WHERE: missing tensors (N): a b ...; shape mismatches (M): ..." (the first 8 of each).
std::string parameter_errors(const std::string& where, const std::vector<std::string>& missing,
                             const std::vector<std::string>& mismatched);
// The prefix under which `file` holds the encoder ("", "bert.", "model.roberta.", ...), found from
// the word-embedding tensor `anchor` (e.g. "embeddings.word_embeddings.weight"); "" when none.
std::string find_prefix(const std::vector<std::string>& names, const std::string& anchor);

// A parameter's float32 values: the stored bytes themselves when the checkpoint holds float32
// (read-only, e.g. a memory map kept alive by `keep`), else a converted copy in `own`.
struct Floats {
  Floats() = default;
  Floats(Floats&&) = default;  // `data` may point into `own`: moves keep the buffer, copies would not
  Floats& operator=(Floats&&) = default;
  Floats(const Floats&) = delete;
  Floats& operator=(const Floats&) = delete;
  const float* data = nullptr;
  size_t size = 0;
  std::shared_ptr<const void> keep;
  std::vector<float> own;
  bool empty() const { return data == nullptr; }
  const float* begin() const { return data; }
  const float* end() const { return data + size; }
};

class ParameterReader {
 public:
  ParameterReader(const TensorFile& file, std::string prefix, std::string where);
  // The parameter as float32 (converted from F16/BF16/F64), or empty when missing or of another
  // shape (recorded for finish()).
  Floats take(const std::string& name, const std::vector<int64_t>& shape);
  // Empty without a record when the checkpoint has no such tensor.
  Floats take_optional(const std::string& name, const std::vector<int64_t>& shape);
  bool has(const std::string& name) const;
  // TensorFile::release for the parameter, when present.
  void release(const std::string& name) const;
  // The same as a callable for later (the TensorFile must outlive it).
  std::function<void()> releaser(std::vector<std::string> names) const;
  // sbert::Error listing every missing tensor and shape mismatch.
  void finish() const;
  const std::string& where() const { return where_; }

 private:
  std::optional<std::string> resolve(const std::string& name) const;
  const TensorFile& file_;
  std::string prefix_, where_;
  std::vector<std::string> missing_, mismatched_;
};

}  // namespace sbert::cpu
