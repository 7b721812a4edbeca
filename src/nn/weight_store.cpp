// Choosing a checkpoint in a model folder, sharded checkpoints, and WeightLoader (prefix
// handling, dtype/device conversion and one error listing every missing/mismatched tensor).
#include "nn/weight_store.h"

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

std::string ends(const std::string& s, size_t n) { return s.size() >= n ? s.substr(s.size() - n) : s; }

// Several files behind one store, as listed by a *.index.json weight_map.
class ShardedWeights final : public WeightStore {
 public:
  explicit ShardedWeights(const fs::path& index) {
    const nlohmann::json j = model::read_json(index);
    if (!j.contains("weight_map") || !j["weight_map"].is_object())
      throw Error(index.string() + ": field 'weight_map' missing or not an object");
    std::map<std::string, size_t> file_index;
    for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
      if (!it.value().is_string())
        throw Error(index.string() + ": weight_map['" + it.key() + "'] is not a file name");
      const std::string file = it.value().get<std::string>();
      if (file.find('/') != std::string::npos || file.find("..") != std::string::npos)
        throw Error(index.string() + ": weight_map['" + it.key() + "'] names a file outside the folder");
      auto f = file_index.find(file);
      if (f == file_index.end()) {
        const fs::path p = index.parent_path() / file;
        if (!fs::exists(p)) throw Error(index.string() + ": shard '" + file + "' not found");
        shards_.push_back(open_weight_file(p));
        f = file_index.emplace(file, shards_.size() - 1).first;
      }
      const WeightStore& shard = *shards_[f->second];
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
  at::Tensor get(const std::string& name) const override { return shard(name).get(name); }
  std::string source(const std::string& name) const override { return shard(name).source(name); }
  void release(const std::string& name) const override { shard(name).release(name); }

 private:
  const WeightStore& shard(const std::string& name) const {
    auto it = where_.find(name);
    if (it == where_.end()) throw Error("sharded checkpoint: no tensor '" + name + "'");
    return *shards_[it->second];
  }
  std::vector<std::unique_ptr<WeightStore>> shards_;
  std::map<std::string, size_t> where_;
};

std::string shape_str(const std::vector<int64_t>& s) {
  std::ostringstream o;
  o << "[";
  for (size_t i = 0; i < s.size(); ++i) o << (i ? ", " : "") << s[i];
  o << "]";
  return o.str();
}

}  // namespace

std::unique_ptr<WeightStore> open_weight_file(const fs::path& file) {
  const std::string name = file.filename().string();
  if (!fs::exists(file)) throw Error(file.string() + ": file not found");
  if (model::is_index_file(file)) return std::make_unique<ShardedWeights>(file);
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

std::unique_ptr<WeightStore> open_model_weights(const fs::path& dir) {
  if (auto file = model::find_weight_file(dir)) return open_weight_file(*file);
  throw Error(dir.string() + ": no weights (model.safetensors, model.safetensors.index.json or "
                             "pytorch_model.bin)");
}

std::string find_encoder_prefix(const WeightStore& store) {
  const std::string anchor = "embeddings.word_embeddings.weight";
  std::string best;
  bool found = false;
  for (const std::string& n : store.names()) {
    if (n.size() >= anchor.size() && n.compare(n.size() - anchor.size(), anchor.size(), anchor) == 0) {
      std::string p = n.substr(0, n.size() - anchor.size());
      if (!p.empty() && p.back() != '.') continue;
      if (!found || p.size() < best.size()) best = p;
      found = true;
    }
  }
  return best;
}

WeightLoader::WeightLoader(const WeightStore& store, std::string prefix, at::TensorOptions options,
                           std::string where)
    : store_(store), prefix_(std::move(prefix)), options_(options), where_(std::move(where)) {}

const std::string* WeightLoader::resolve(const std::string& name) const {
  static thread_local std::string found;
  std::vector<std::string> candidates = {prefix_ + name};
  // Old BERT checkpoints name LayerNorm parameters gamma/beta.
  auto swap = [&](const std::string& from, const std::string& to) {
    if (name.size() > from.size() && name.compare(name.size() - from.size(), from.size(), from) == 0)
      candidates.push_back(prefix_ + name.substr(0, name.size() - from.size()) + to);
  };
  if (name.find("LayerNorm") != std::string::npos) {
    swap(".weight", ".gamma");
    swap(".bias", ".beta");
  }
  for (const auto& c : candidates) {
    if (store_.contains(c)) {
      found = c;
      return &found;
    }
  }
  return nullptr;
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
    mismatched_.push_back(key + " " + shape_str(got) + " (expected " + shape_str(shape) + ")");
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
  std::ostringstream o;
  o << where_ << ":";
  if (!missing_.empty()) {
    o << " missing tensors (" << missing_.size() << "):";
    for (size_t i = 0; i < missing_.size() && i < 8; ++i) o << " " << missing_[i];
    if (missing_.size() > 8) o << " ...";
    if (!mismatched_.empty()) o << ";";
  }
  if (!mismatched_.empty()) {
    o << " shape mismatches (" << mismatched_.size() << "):";
    for (size_t i = 0; i < mismatched_.size() && i < 8; ++i) o << " " << mismatched_[i] << (i + 1 < mismatched_.size() ? "," : "");
  }
  throw Error(o.str());
}

}  // namespace sbert::nn
