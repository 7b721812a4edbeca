// SafetensorsFile: a memory-mapped .safetensors reader that validates the whole header before
// handing out any tensor, and the matching writer.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "nn/weight_store.h"
#include "sbert/json_parse.h"
#include "sbert/error.h"
#include "sbert/safetensors_writer.h"

namespace sbert::nn {
namespace {

struct Mapping {
  void* data = nullptr;
  size_t size = 0;
  ~Mapping() {
    if (data && data != MAP_FAILED) munmap(data, size);
  }
};

struct DtypeInfo {
  const char* name;
  at::ScalarType type;
  size_t bytes;
};

const DtypeInfo kDtypes[] = {
    {"F32", at::kFloat, 4},  {"F16", at::kHalf, 2},   {"BF16", at::kBFloat16, 2},
    {"F64", at::kDouble, 8}, {"I64", at::kLong, 8},   {"I32", at::kInt, 4},
    {"I16", at::kShort, 2},  {"I8", at::kChar, 1},    {"U8", at::kByte, 1},
    {"BOOL", at::kBool, 1},
};

const DtypeInfo* find_dtype(const std::string& name) {
  for (const auto& d : kDtypes)
    if (name == d.name) return &d;
  return nullptr;
}

struct Entry {
  at::ScalarType type;
  size_t elem_bytes;
  std::vector<int64_t> shape;
  size_t begin, end;  // relative to the data section
};

class SafetensorsFile final : public WeightStore {
 public:
  explicit SafetensorsFile(const std::filesystem::path& file) : path_(file.string()) {
    int fd = ::open(path_.c_str(), O_RDONLY);
    if (fd < 0) throw Error(path_ + ": cannot open: " + std::strerror(errno));
    struct stat st {};
    if (fstat(fd, &st) != 0) {
      ::close(fd);
      throw Error(path_ + ": cannot stat: " + std::strerror(errno));
    }
    map_ = std::make_shared<Mapping>();
    map_->size = static_cast<size_t>(st.st_size);
    if (map_->size < 8) {
      ::close(fd);
      throw Error(path_ + ": truncated safetensors file (" + std::to_string(map_->size) +
                  " bytes, no header)");
    }
    map_->data = mmap(nullptr, map_->size, PROT_READ, MAP_PRIVATE, fd, 0);
    ::close(fd);
    if (map_->data == MAP_FAILED) throw Error(path_ + ": cannot mmap: " + std::strerror(errno));
    parse_header();
  }

  std::vector<std::string> names() const override {
    std::vector<std::string> out;
    for (const auto& [k, v] : entries_) out.push_back(k);
    return out;
  }
  bool contains(const std::string& name) const override { return entries_.count(name) > 0; }
  std::vector<int64_t> shape(const std::string& name) const override {
    return entry(name).shape;
  }
  std::string source(const std::string&) const override { return path_; }

  at::Tensor get(const std::string& name) const override {
    const Entry& e = entry(name);
    char* ptr = static_cast<char*>(map_->data) + data_start_ + e.begin;
    auto opts = at::TensorOptions().dtype(e.type);
    if (reinterpret_cast<uintptr_t>(ptr) % e.elem_bytes != 0) {
      // Misaligned data: copy into an owned tensor.
      at::Tensor t = at::empty(e.shape, opts);
      std::memcpy(t.data_ptr(), ptr, e.end - e.begin);
      return t;
    }
    auto keep = map_;
    return at::from_blob(ptr, e.shape, [keep](void*) {}, opts);
  }

  void release(const std::string& name) const override {
    auto it = entries_.find(name);
    if (it == entries_.end()) return;
    // Whole pages inside the tensor's bytes only. The mapping is private and never written, so
    // the pages are clean copies of the file: dropping them loses nothing.
    const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
    const uintptr_t base = reinterpret_cast<uintptr_t>(map_->data) + data_start_;
    const uintptr_t lo = (base + it->second.begin + page - 1) / page * page;
    const uintptr_t hi = (base + it->second.end) / page * page;
    if (hi > lo) (void)madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTNEED);
  }

 private:
  const Entry& entry(const std::string& name) const {
    auto it = entries_.find(name);
    if (it == entries_.end()) throw Error(path_ + ": no tensor '" + name + "'");
    return it->second;
  }

  void parse_header() {
    const auto* bytes = static_cast<const unsigned char*>(map_->data);
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[i];
    if (n > map_->size - 8)
      throw Error(path_ + ": truncated safetensors file (header length " + std::to_string(n) +
                  " but only " + std::to_string(map_->size - 8) + " bytes follow)");
    data_start_ = 8 + n;
    const size_t data_size = map_->size - data_start_;
    nlohmann::json header;
    try {
      header = parse_json(reinterpret_cast<const char*>(bytes + 8),
                                     reinterpret_cast<const char*>(bytes + 8 + n));
    } catch (const std::exception& ex) {
      throw Error(path_ + ": invalid safetensors header JSON: " + std::string(ex.what()));
    }
    if (!header.is_object()) throw Error(path_ + ": safetensors header is not a JSON object");
    for (auto it = header.begin(); it != header.end(); ++it) {
      const std::string& name = it.key();
      if (name == "__metadata__") continue;
      const auto& v = it.value();
      const std::string where = path_ + ": tensor '" + name + "'";
      if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") ||
          !v.contains("data_offsets"))
        throw Error(where + ": entry needs dtype, shape and data_offsets");
      if (!v["dtype"].is_string()) throw Error(where + ": dtype is not a string");
      const std::string dtype = v["dtype"].get<std::string>();
      const DtypeInfo* d = find_dtype(dtype);
      if (!d) throw Error(where + ": unsupported dtype '" + dtype + "'");
      Entry e;
      e.type = d->type;
      e.elem_bytes = d->bytes;
      if (!v["shape"].is_array()) throw Error(where + ": shape is not an array");
      size_t numel = 1;
      for (const auto& s : v["shape"]) {
        if (!s.is_number_integer() || s.get<int64_t>() < 0)
          throw Error(where + ": shape holds a non-integer or negative dimension");
        e.shape.push_back(s.get<int64_t>());
        if (__builtin_mul_overflow(numel, static_cast<size_t>(s.get<int64_t>()), &numel))
          throw Error(where + ": shape " + v["shape"].dump() + " is too large");
      }
      size_t nbytes = 0;
      if (__builtin_mul_overflow(numel, d->bytes, &nbytes))
        throw Error(where + ": shape " + v["shape"].dump() + " is too large");
      const auto& off = v["data_offsets"];
      if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() ||
          !off[1].is_number_unsigned())
        throw Error(where + ": data_offsets must be two non-negative integers");
      e.begin = off[0].get<size_t>();
      e.end = off[1].get<size_t>();
      if (e.begin > e.end)
        throw Error(where + ": data_offsets [" + std::to_string(e.begin) + ", " +
                    std::to_string(e.end) + "] are reversed");
      if (e.end > data_size)
        throw Error(where + ": data_offsets [" + std::to_string(e.begin) + ", " +
                    std::to_string(e.end) + "] point past the end of the file (data section is " +
                    std::to_string(data_size) + " bytes; truncated file?)");
      if (nbytes != e.end - e.begin)
        throw Error(where + ": shape x dtype size is " + std::to_string(nbytes) +
                    " bytes but data_offsets span " + std::to_string(e.end - e.begin));
      entries_.emplace(name, std::move(e));
    }
    // As the reference loader: the tensors tile the data section exactly, in offset order,
    // without overlaps, gaps or trailing bytes.
    std::vector<std::pair<const std::string*, const Entry*>> order;
    for (const auto& [name, e] : entries_) order.emplace_back(&name, &e);
    std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
      return std::make_pair(a.second->begin, a.second->end) < std::make_pair(b.second->begin, b.second->end);
    });
    size_t expected = 0;
    for (const auto& [name, e] : order) {
      if (e->begin != expected)
        throw Error(path_ + ": tensor '" + *name + "': data_offsets [" + std::to_string(e->begin) + ", " +
                    std::to_string(e->end) + "] " + (e->begin < expected ? "overlap the previous tensor"
                                                                          : "leave a gap after the previous tensor") +
                    " (expected to start at " + std::to_string(expected) + ")");
      expected = e->end;
    }
    if (expected != data_size)
      throw Error(path_ + ": " + std::to_string(data_size - expected) +
                  " bytes after the last tensor's data (the header does not describe the whole file)");
  }

  std::string path_;
  std::shared_ptr<Mapping> map_;
  size_t data_start_ = 0;
  std::map<std::string, Entry> entries_;
};

}  // namespace

std::unique_ptr<WeightStore> open_safetensors(const std::filesystem::path& file) {
  return std::make_unique<SafetensorsFile>(file);
}

}  // namespace sbert::nn

namespace sbert {

void write_safetensors(const std::filesystem::path& file, const std::vector<NamedTensor>& tensors,
                       const std::string& dtype) {
  size_t elem = 0;
  if (dtype == "F32") elem = 4;
  else if (dtype == "F16" || dtype == "BF16") elem = 2;
  else throw Error(file.string() + ": cannot write dtype '" + dtype + "' (F32, F16, BF16)");
  std::vector<const NamedTensor*> order;
  for (const auto& t : tensors) order.push_back(&t);
  std::sort(order.begin(), order.end(),
            [](const NamedTensor* a, const NamedTensor* b) { return a->name < b->name; });
  nlohmann::json header = nlohmann::json::object();
  header["__metadata__"] = {{"format", "pt"}};
  size_t offset = 0;
  for (const NamedTensor* t : order) {
    size_t numel = 1;
    for (int64_t s : t->shape) numel *= static_cast<size_t>(s);
    if (numel != t->values.size())
      throw Error(file.string() + ": tensor '" + t->name + "' has " +
                  std::to_string(t->values.size()) + " values for shape of " +
                  std::to_string(numel));
    header[t->name] = {{"dtype", dtype},
                       {"shape", t->shape},
                       {"data_offsets", {offset, offset + numel * elem}}};
    offset += numel * elem;
  }
  std::string h = header.dump();
  while ((8 + h.size()) % 8 != 0) h.push_back(' ');
  std::ofstream out(file, std::ios::binary);
  if (!out) throw Error(file.string() + ": cannot open for writing");
  uint64_t n = h.size();
  unsigned char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>((n >> (8 * i)) & 0xff);
  out.write(reinterpret_cast<const char*>(len), 8);
  out.write(h.data(), static_cast<std::streamsize>(h.size()));
  for (const NamedTensor* t : order) {
    if (dtype == "F32") {
      out.write(reinterpret_cast<const char*>(t->values.data()),
                static_cast<std::streamsize>(t->values.size() * 4));
    } else {
      std::vector<uint16_t> buf(t->values.size());
      for (size_t i = 0; i < buf.size(); ++i) {
        if (dtype == "F16") buf[i] = c10::Half(t->values[i]).x;
        else buf[i] = c10::BFloat16(t->values[i]).x;
      }
      out.write(reinterpret_cast<const char*>(buf.data()),
                static_cast<std::streamsize>(buf.size() * 2));
    }
  }
  if (!out) throw Error(file.string() + ": write failed");
}

}  // namespace sbert
