// Writing .safetensors files (used by the random-weight model generator and by tests).
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace sbert {

struct NamedTensor {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> values;  // row-major, product(shape) values
};

// Writes the tensors (sorted by name, as the reference writer does) stored as dtype
// "F32", "F16" or "BF16". Throws sbert::Error when the file cannot be written or a tensor's
// value count does not match its shape.
void write_safetensors(const std::filesystem::path& file, const std::vector<NamedTensor>& tensors,
                       const std::string& dtype = "F32");

}  // namespace sbert
