// Sharded checkpoints (*.index.json), the choice of reader per file, and float32 conversion.
#include "cpu/tensor_file.h"

#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "sbert/error.h"
#include "sbert/model_folder.h"

namespace sbert::cpu {
namespace fs = std::filesystem;

size_t stored_size(StoredType t) {
  switch (t) {
    case StoredType::F64: case StoredType::I64: return 8;
    case StoredType::F32: case StoredType::I32: return 4;
    case StoredType::F16: case StoredType::BF16: case StoredType::I16: return 2;
    case StoredType::I8: case StoredType::U8: case StoredType::Bool: return 1;
  }
  return 1;
}

const char* stored_name(StoredType t) {
  switch (t) {
    case StoredType::F32: return "F32";
    case StoredType::F16: return "F16";
    case StoredType::BF16: return "BF16";
    case StoredType::F64: return "F64";
    case StoredType::I64: return "I64";
    case StoredType::I32: return "I32";
    case StoredType::I16: return "I16";
    case StoredType::I8: return "I8";
    case StoredType::U8: return "U8";
    case StoredType::Bool: return "BOOL";
  }
  return "?";
}

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

namespace {

std::string ends(const std::string& s, size_t n) { return s.size() >= n ? s.substr(s.size() - n) : s; }

// Several files behind one store, as listed by a *.index.json weight_map.
class ShardedTensors final : public TensorFile {
 public:
  explicit ShardedTensors(const fs::path& index) {
    const nlohmann::json j = model::read_json(index);
    if (!j.contains("weight_map") || !j["weight_map"].is_object())
      throw Error(index.string() + ": field 'weight_map' missing or not an object");
    std::map<std::string, size_t> file_index;
    for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
      if (!it.value().is_string()) throw Error(index.string() + ": weight_map['" + it.key() + "'] is not a file name");
      const std::string file = it.value().get<std::string>();
      if (file.find('/') != std::string::npos || file.find("..") != std::string::npos)
        throw Error(index.string() + ": weight_map['" + it.key() + "'] names a file outside the folder");
      auto f = file_index.find(file);
      if (f == file_index.end()) {
        const fs::path p = index.parent_path() / file;
        if (!fs::exists(p)) throw Error(index.string() + ": shard '" + file + "' not found");
        shards_.push_back(open_tensor_file(p));
        f = file_index.emplace(file, shards_.size() - 1).first;
      }
      const TensorFile& shard = *shards_[f->second];
      if (!shard.contains(it.key()))
        throw Error(index.string() + ": tensor '" + it.key() + "' is not in shard '" + file + "'");
      where_[it.key()] = f->second;
    }
  }
  std::vector<std::string> names() const override {
    std::vector<std::string> out;
    for (const auto& [k, v] : where_) out.push_back(k);
    return out;
  }
  bool contains(const std::string& name) const override { return where_.count(name) > 0; }
  std::vector<int64_t> shape(const std::string& name) const override { return shard(name).shape(name); }
  StoredType type(const std::string& name) const override { return shard(name).type(name); }
  TensorView view(const std::string& name) const override { return shard(name).view(name); }
  std::string source(const std::string& name) const override { return shard(name).source(name); }
  void release(const std::string& name) const override { shard(name).release(name); }

 private:
  const TensorFile& shard(const std::string& name) const {
    auto it = where_.find(name);
    if (it == where_.end()) throw Error("sharded checkpoint: no tensor '" + name + "'");
    return *shards_[it->second];
  }
  std::vector<std::unique_ptr<TensorFile>> shards_;
  std::map<std::string, size_t> where_;
};

float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ffu, bits;
  if (exp == 0) {
    if (man == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      int e = -1;
      do {
        ++e;
        man <<= 1;
      } while ((man & 0x400u) == 0);
      bits = sign | static_cast<uint32_t>(127 - 15 - e) << 23 | (man & 0x3ffu) << 13;
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | man << 13;
  } else {
    bits = sign | (exp + 127 - 15) << 23 | man << 13;
  }
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

}  // namespace

std::unique_ptr<TensorFile> open_tensor_file(const fs::path& file) {
  const std::string name = file.filename().string();
  if (!fs::exists(file)) throw Error(file.string() + ": file not found");
  if (model::is_index_file(file)) return std::make_unique<ShardedTensors>(file);
  if (ends(name, 12) == ".safetensors") return open_safetensors(file);
  // Sniff: a zip starts with "PK".
  std::ifstream in(file, std::ios::binary);
  char magic[2] = {0, 0};
  in.read(magic, 2);
  if (magic[0] == 'P' && magic[1] == 'K') return open_torch_checkpoint(file);
  // A .bin/.pt/.pth that is not a zip is a legacy or broken torch.save file, not safetensors.
  if (ends(name, 4) == ".bin" || ends(name, 3) == ".pt" || ends(name, 4) == ".pth")
    throw Error(file.string() + ": not a torch.save zip checkpoint (legacy non-zip checkpoints "
                                "are not supported; re-save with torch.save or convert to safetensors)");
  return open_safetensors(file);
}

std::unique_ptr<TensorFile> open_model_tensors(const fs::path& dir) {
  if (auto file = model::find_weight_file(dir)) return open_tensor_file(*file);
  throw Error(dir.string() + ": no weights (model.safetensors, model.safetensors.index.json or pytorch_model.bin)");
}

std::vector<float> to_float32(const TensorView& v, const std::string& where) {
  const size_t n = static_cast<size_t>(v.numel());
  std::vector<float> out(n);
  switch (v.type) {
    case StoredType::F32:
      if (n) std::memcpy(out.data(), v.data, n * sizeof(float));
      return out;
    case StoredType::F16: {
      const auto* h = static_cast<const uint16_t*>(v.data);
      for (size_t i = 0; i < n; ++i) out[i] = half_to_float(h[i]);
      return out;
    }
    case StoredType::BF16: {
      const auto* h = static_cast<const uint16_t*>(v.data);
      for (size_t i = 0; i < n; ++i) {
        const uint32_t bits = static_cast<uint32_t>(h[i]) << 16;
        std::memcpy(&out[i], &bits, sizeof(float));
      }
      return out;
    }
    case StoredType::F64: {
      const auto* d = static_cast<const double*>(v.data);
      for (size_t i = 0; i < n; ++i) out[i] = static_cast<float>(d[i]);
      return out;
    }
    default:
      throw Error(where + ": stored as " + std::string(stored_name(v.type)) +
                  ", which is not a floating-point type (F32, F16, BF16, F64)");
  }
}

}  // namespace sbert::cpu
