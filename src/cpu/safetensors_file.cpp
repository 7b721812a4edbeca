// SafetensorsFile: a memory-mapped .safetensors reader that validates the whole header before
// handing out any tensor.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>

#include "cpu/tensor_file.h"
#include "sbert/json_parse.h"
#include "sbert/error.h"

namespace sbert::cpu {
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
  StoredType type;
  size_t bytes;
};

const DtypeInfo kDtypes[] = {
    {"F32", StoredType::F32, 4},  {"F16", StoredType::F16, 2}, {"BF16", StoredType::BF16, 2},
    {"F64", StoredType::F64, 8},  {"I64", StoredType::I64, 8}, {"I32", StoredType::I32, 4},
    {"I16", StoredType::I16, 2},  {"I8", StoredType::I8, 1},   {"U8", StoredType::U8, 1},
    {"BOOL", StoredType::Bool, 1},
};

const DtypeInfo* find_dtype(const std::string& name) {
  for (const auto& d : kDtypes)
    if (name == d.name) return &d;
  return nullptr;
}

struct Entry {
  StoredType type;
  size_t elem_bytes;
  std::vector<int64_t> shape;
  size_t begin, end;  // relative to the data section
};

class SafetensorsFile final : public TensorFile {
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
    // MAP_POPULATE: the page tables for the whole file in one call (the file is read in full
    // anyway; one fault per 4 KiB page costs more on a virtual machine).
    map_->data = mmap(nullptr, map_->size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
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

  StoredType type(const std::string& name) const override { return entry(name).type; }

  TensorView view(const std::string& name) const override {
    const Entry& e = entry(name);
    const char* ptr = static_cast<const char*>(map_->data) + data_start_ + e.begin;
    TensorView v;
    v.type = e.type;
    v.shape = e.shape;
    if (reinterpret_cast<uintptr_t>(ptr) % e.elem_bytes != 0) {
      // Misaligned data: an owned, aligned copy.
      auto copy = std::make_shared<std::vector<uint64_t>>((e.end - e.begin + 7) / 8);
      if (e.end > e.begin) std::memcpy(copy->data(), ptr, e.end - e.begin);
      v.data = copy->data();
      v.owner = copy;
      return v;
    }
    v.data = ptr;
    v.owner = map_;
    return v;
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

std::unique_ptr<TensorFile> open_safetensors(const std::filesystem::path& file) {
  return std::make_unique<SafetensorsFile>(file);
}

}  // namespace sbert::cpu

