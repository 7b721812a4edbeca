// The torch-free half of the runtime: device and dtype names (setup_runtime, which prepares
// libtorch and OpenBLAS, is in src/nn/runtime.cpp).
#include <algorithm>
#include <cctype>
#include <string>

#include "sbert/error.h"
#include "sbert/runtime.h"

namespace sbert {

std::string Device::str() const {
  return type == DeviceType::Cpu ? "cpu" : "cuda:" + std::to_string(index);
}

Device parse_device(const std::string& name) {
  if (name.empty() || name == "cpu") return {};
  if (name == "cuda") return {DeviceType::Cuda, 0};
  if (name.rfind("cuda:", 0) == 0) {
    const std::string digits = name.substr(5);
    bool ok = !digits.empty() && digits.size() <= 4 &&
              std::all_of(digits.begin(), digits.end(), [](unsigned char c) { return std::isdigit(c); });
    if (!ok) throw Error("device '" + name + "': bad CUDA device index");
    return {DeviceType::Cuda, std::stoi(digits)};
  }
  throw Error("unknown device '" + name + "' (cpu, cuda, cuda:N)");
}

DType parse_dtype(const std::string& name) {
  if (name == "float32" || name == "fp32" || name == "float") return DType::Float32;
  if (name == "float16" || name == "fp16" || name == "half") return DType::Float16;
  if (name == "bfloat16" || name == "bf16") return DType::BFloat16;
  throw Error("unknown dtype '" + name + "' (float32, float16, bfloat16)");
}

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::Float32: return "float32";
    case DType::Float16: return "float16";
    case DType::BFloat16: return "bfloat16";
  }
  return "float32";
}

}  // namespace sbert
