// TorchCheckpoint: reads torch.save zip checkpoints (pytorch_model.bin) with a restricted
// unpickler. Only the opcodes and globals a state dict needs are accepted
// (collections.OrderedDict, torch._utils._rebuild_tensor_v2/_rebuild_parameter, typed storages
// as persistent ids); anything else is refused, so a checkpoint can never run code. The zip
// container is read with libzip (no libtorch): records live under the archive's top folder
// (archive/data.pkl, archive/data/0, ...), stored uncompressed by torch.save.
#include <zip.h>

#include <cstring>
#include <map>
#include <optional>
#include <unordered_map>

#include "cpu/tensor_file.h"
#include "sbert/error.h"

namespace sbert::cpu {
namespace {

using Bytes = std::vector<unsigned char>;

// A typed storage and a strided view of it (a storage itself: offset 0, [numel], stride 1).
struct TensorRef {
  StoredType type = StoredType::F32;
  std::shared_ptr<const Bytes> storage;
  int64_t numel = 0;  // of the storage
  int64_t offset = 0;
  std::vector<int64_t> size, stride;
};

// The records of a torch.save zip (names without the archive's top folder).
class ZipArchive {
 public:
  explicit ZipArchive(const std::string& path) : path_(path) {
    int err = 0;
    zip_ = zip_open(path.c_str(), ZIP_RDONLY, &err);
    if (!zip_) {
      zip_error_t e;
      zip_error_init_with_code(&e, err);
      const std::string why = zip_error_strerror(&e);
      zip_error_fini(&e);
      throw Error(path + ": not a readable torch.save zip checkpoint (legacy non-zip checkpoints are not "
                         "supported): " + why);
    }
    const zip_int64_t n = zip_get_num_entries(zip_, 0);
    if (n <= 0) fail("the zip holds no records");
    entries_ = static_cast<size_t>(n);
    const char* first = zip_get_name(zip_, 0, 0);
    const std::string f = first ? first : "";
    const size_t slash = f.find('/');
    if (slash == std::string::npos) fail("the zip's records are not under an archive folder");
    prefix_ = f.substr(0, slash + 1);
  }
  ~ZipArchive() {
    if (zip_) zip_discard(zip_);
  }
  ZipArchive(const ZipArchive&) = delete;
  ZipArchive& operator=(const ZipArchive&) = delete;

  size_t entries() const { return entries_; }
  bool has(const std::string& record) const { return zip_name_locate(zip_, (prefix_ + record).c_str(), 0) >= 0; }
  Bytes read(const std::string& record) const {
    const zip_int64_t index = zip_name_locate(zip_, (prefix_ + record).c_str(), 0);
    if (index < 0) fail("record '" + record + "' missing");
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(zip_, static_cast<zip_uint64_t>(index), 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE))
      fail("cannot read the size of record '" + record + "'");
    zip_file_t* f = zip_fopen_index(zip_, static_cast<zip_uint64_t>(index), 0);
    if (!f) fail("cannot open record '" + record + "': " + zip_strerror(zip_));
    Bytes out(static_cast<size_t>(st.size));
    size_t got = 0;
    while (got < out.size()) {
      const zip_int64_t r = zip_fread(f, out.data() + got, out.size() - got);
      if (r <= 0) break;
      got += static_cast<size_t>(r);
    }
    zip_fclose(f);
    if (got != out.size())
      fail("record '" + record + "' is truncated (" + std::to_string(got) + " of " + std::to_string(out.size()) +
           " bytes)");
    return out;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const { throw Error(path_ + ": " + what); }
  std::string path_;
  zip_t* zip_ = nullptr;
  size_t entries_ = 0;
  std::string prefix_;
};

struct PValue;
using PPtr = std::shared_ptr<PValue>;

struct PValue {
  enum Kind { None, Bool, Int, Float, Str, Tuple, List, Dict, Global, Tensor, Mark } kind = None;
  int64_t i = 0;
  double f = 0;
  std::string s;  // Str text, Global "module name"
  std::vector<PPtr> items;
  std::vector<std::pair<PPtr, PPtr>> dict;
  TensorRef tensor;
  int depth = 0;  // nesting below this value (as far as it was built by insertion)

  PValue() = default;
  PValue(const PValue&) = delete;
  PValue& operator=(const PValue&) = delete;
  // Iterative: a pickle of 200,000 nested lists must not recurse 200,000 destructors deep.
  ~PValue() {
    std::vector<PPtr> pending;
    release_children(pending);
    while (!pending.empty()) {
      PPtr p = std::move(pending.back());
      pending.pop_back();
      if (p && p.use_count() == 1) p->release_children(pending);
    }
  }
  void release_children(std::vector<PPtr>& out) {
    for (auto& x : items) out.push_back(std::move(x));
    items.clear();
    for (auto& [k, v] : dict) {
      out.push_back(std::move(k));
      out.push_back(std::move(v));
    }
    dict.clear();
  }
};

constexpr int kMaxPickleDepth = 1000;

PPtr make(PValue::Kind k) {
  auto p = std::make_shared<PValue>();
  p->kind = k;
  return p;
}

std::optional<StoredType> storage_dtype(const std::string& global) {
  static const std::pair<const char*, StoredType> kTypes[] = {
      {"torch FloatStorage", StoredType::F32},    {"torch HalfStorage", StoredType::F16},
      {"torch BFloat16Storage", StoredType::BF16}, {"torch DoubleStorage", StoredType::F64},
      {"torch LongStorage", StoredType::I64},     {"torch IntStorage", StoredType::I32},
      {"torch ShortStorage", StoredType::I16},    {"torch CharStorage", StoredType::I8},
      {"torch ByteStorage", StoredType::U8},      {"torch BoolStorage", StoredType::Bool},
  };
  for (const auto& [n, t] : kTypes)
    if (global == n) return t;
  return std::nullopt;
}

class Unpickler {
 public:
  // max_values bounds the stack + memo (a real state dict holds a few values per tensor record).
  Unpickler(const std::string& path, const ZipArchive& reader, const char* data, size_t size, size_t max_values)
      : path_(path), reader_(reader), p_(data), end_(data + size), max_values_(max_values) {}

  PPtr run() {
    while (true) {
      if (stack_.size() + memo_.size() > max_values_)
        fail("pickle holds more than " + std::to_string(max_values_) +
             " values, too many for a state dict of this archive");
      uint8_t op = byte();
      switch (op) {
        case 0x80: byte(); break;                       // PROTO
        case 0x95: bytes(8); break;                     // FRAME
        case '.': return pop();                         // STOP
        case '(': stack_.push_back(make(PValue::Mark)); break;
        case 'N': stack_.push_back(make(PValue::None)); break;
        case 0x88: case 0x89: {                         // NEWTRUE / NEWFALSE
          auto v = make(PValue::Bool);
          v->i = op == 0x88;
          stack_.push_back(v);
          break;
        }
        case 'J': push_int(static_cast<int32_t>(le(4))); break;  // BININT
        case 'K': push_int(le(1)); break;                         // BININT1
        case 'M': push_int(le(2)); break;                         // BININT2
        case 0x8a: {                                              // LONG1
          size_t n = byte();
          if (n > 8) fail("integer too large");
          uint64_t v = le(n);
          if (n > 0 && n < 8 && (v >> (8 * n - 1)) & 1) v |= ~uint64_t(0) << (8 * n);
          push_int(static_cast<int64_t>(v));
          break;
        }
        case 'G': {                                               // BINFLOAT (big endian)
          uint64_t v = 0;
          for (int k = 0; k < 8; ++k) v = (v << 8) | byte();
          double d;
          std::memcpy(&d, &v, 8);
          auto x = make(PValue::Float);
          x->f = d;
          stack_.push_back(x);
          break;
        }
        case 'X': push_str(bytes(le(4))); break;                  // BINUNICODE
        case 0x8c: push_str(bytes(byte())); break;                // SHORT_BINUNICODE
        case 0x8d: push_str(bytes(le(8))); break;                 // BINUNICODE8
        case 'C': push_str(bytes(byte())); break;                 // SHORT_BINBYTES
        case 'B': push_str(bytes(le(4))); break;                  // BINBYTES
        case ')': stack_.push_back(make(PValue::Tuple)); break;
        case ']': stack_.push_back(make(PValue::List)); break;
        case '}': stack_.push_back(make(PValue::Dict)); break;
        case 't': {
          auto t = make(PValue::Tuple);
          t->items = pop_to_mark();
          for (const auto& x : t->items) deepen(*t, *x);
          stack_.push_back(t);
          break;
        }
        case 0x85: case 0x86: case 0x87: {                        // TUPLE1..3
          size_t n = op - 0x84;
          if (stack_.size() < n) fail("stack underflow");
          auto t = make(PValue::Tuple);
          t->items.assign(stack_.end() - n, stack_.end());
          stack_.resize(stack_.size() - n);
          for (const auto& x : t->items) deepen(*t, *x);
          stack_.push_back(t);
          break;
        }
        case 'q': memo_[static_cast<uint32_t>(le(1))] = top(); break;   // BINPUT
        case 'r': memo_[static_cast<uint32_t>(le(4))] = top(); break;   // LONG_BINPUT
        case 0x94: memo_[static_cast<uint32_t>(memo_.size())] = top(); break;  // MEMOIZE
        case 'h': stack_.push_back(memo(le(1))); break;                 // BINGET
        case 'j': stack_.push_back(memo(le(4))); break;                 // LONG_BINGET
        case 'c': {                                                     // GLOBAL
          std::string module = line(), name = line();
          push_global(module + " " + name);
          break;
        }
        case 0x93: {                                                    // STACK_GLOBAL
          auto name = pop(), module = pop();
          if (name->kind != PValue::Str || module->kind != PValue::Str) fail("bad STACK_GLOBAL");
          push_global(module->s + " " + name->s);
          break;
        }
        case 'Q': stack_.push_back(persistent_load(pop())); break;      // BINPERSID
        case 'R': {                                                     // REDUCE
          auto args = pop(), fn = pop();
          stack_.push_back(reduce(fn, args));
          break;
        }
        case 'b': pop(); break;  // BUILD: object state (OrderedDict._metadata) is not needed
        case 's': {                                                     // SETITEM
          auto v = pop(), k = pop();
          auto d = dict_target();
          deepen(*d, *k);
          deepen(*d, *v);
          d->dict.emplace_back(k, v);
          break;
        }
        case 'u': {                                                     // SETITEMS
          auto items = pop_to_mark();
          if (items.size() % 2) fail("odd SETITEMS");
          auto d = dict_target();
          for (size_t k = 0; k < items.size(); k += 2) {
            deepen(*d, *items[k]);
            deepen(*d, *items[k + 1]);
            d->dict.emplace_back(items[k], items[k + 1]);
          }
          break;
        }
        case 'a': {                                                     // APPEND
          auto v = pop();
          auto l = list_target();
          deepen(*l, *v);
          l->items.push_back(v);
          break;
        }
        case 'e': {                                                     // APPENDS
          auto items = pop_to_mark();
          auto l = list_target();
          for (const auto& x : items) deepen(*l, *x);
          l->items.insert(l->items.end(), items.begin(), items.end());
          break;
        }
        default: {
          char buf[8];
          std::snprintf(buf, sizeof buf, "0x%02x", op);
          fail(std::string("unsupported pickle opcode ") + buf +
               " (only state dicts of tensors can be read)");
        }
      }
    }
  }

 private:
  [[noreturn]] void fail(const std::string& what) const { throw Error(path_ + ": " + what); }

  void deepen(PValue& parent, const PValue& child) {
    if (child.depth + 1 > parent.depth) parent.depth = child.depth + 1;
    if (parent.depth > kMaxPickleDepth)
      fail("pickle nesting deeper than " + std::to_string(kMaxPickleDepth) + " levels");
  }

  uint8_t byte() {
    if (p_ >= end_) fail("truncated pickle data");
    return static_cast<uint8_t>(*p_++);
  }
  std::string bytes(uint64_t n) {
    if (n > static_cast<uint64_t>(end_ - p_)) fail("truncated pickle data");
    std::string s(p_, p_ + n);
    p_ += n;
    return s;
  }
  uint64_t le(size_t n) {
    uint64_t v = 0;
    for (size_t k = 0; k < n; ++k) v |= static_cast<uint64_t>(byte()) << (8 * k);
    return v;
  }
  std::string line() {
    std::string s;
    while (true) {
      char c = static_cast<char>(byte());
      if (c == '\n') return s;
      s.push_back(c);
      if (s.size() > 256) fail("GLOBAL name too long");
    }
  }
  void push_int(int64_t v) {
    auto x = make(PValue::Int);
    x->i = v;
    stack_.push_back(x);
  }
  void push_str(std::string s) {
    auto x = make(PValue::Str);
    x->s = std::move(s);
    stack_.push_back(x);
  }
  void push_global(const std::string& name) {
    static const char* kAllowed[] = {"collections OrderedDict", "torch._utils _rebuild_tensor_v2",
                                     "torch._utils _rebuild_parameter"};
    bool ok = storage_dtype(name).has_value();
    for (const char* a : kAllowed) ok = ok || name == a;
    if (!ok) fail("refusing pickle global '" + name + "' (only state dicts of tensors can be read)");
    auto g = make(PValue::Global);
    g->s = name;
    stack_.push_back(g);
  }
  PPtr pop() {
    if (stack_.empty()) fail("pickle stack underflow");
    auto v = stack_.back();
    stack_.pop_back();
    if (v->kind == PValue::Mark) fail("unexpected MARK");
    return v;
  }
  PPtr top() {
    if (stack_.empty()) fail("pickle stack underflow");
    return stack_.back();
  }
  PPtr memo(uint64_t k) {
    auto it = memo_.find(static_cast<uint32_t>(k));
    if (it == memo_.end()) fail("pickle memo key " + std::to_string(k) + " missing");
    return it->second;
  }
  std::vector<PPtr> pop_to_mark() {
    for (size_t k = stack_.size(); k-- > 0;) {
      if (stack_[k]->kind == PValue::Mark) {
        std::vector<PPtr> items(stack_.begin() + k + 1, stack_.end());
        stack_.resize(k);
        return items;
      }
    }
    fail("pickle MARK missing");
  }
  PPtr dict_target() {
    auto d = top();
    if (d->kind != PValue::Dict) fail("SETITEM on a non-dict");
    return d;
  }
  PPtr list_target() {
    auto l = top();
    if (l->kind != PValue::List) fail("APPEND on a non-list");
    return l;
  }

  PPtr persistent_load(const PPtr& pid) {
    if (pid->kind != PValue::Tuple || pid->items.size() < 5 || pid->items[0]->s != "storage" ||
        pid->items[1]->kind != PValue::Global || pid->items[2]->kind != PValue::Str ||
        pid->items[4]->kind != PValue::Int)
      fail("unsupported persistent id (expected a storage)");
    const auto type = storage_dtype(pid->items[1]->s);
    if (!type) fail("unsupported storage type '" + pid->items[1]->s + "'");
    const std::string key = pid->items[2]->s;
    const int64_t numel = pid->items[4]->i;
    auto it = storages_.find(key);
    if (it != storages_.end()) return it->second;
    const std::string record = "data/" + key;
    if (!reader_.has(record)) fail("storage record '" + record + "' missing");
    auto data = std::make_shared<Bytes>(reader_.read(record));
    size_t need = 0;
    if (numel < 0 || __builtin_mul_overflow(static_cast<size_t>(numel), stored_size(*type), &need) ||
        data->size() < need)
      fail("storage '" + record + "' holds " + std::to_string(data->size()) + " bytes, expected " +
           std::to_string(numel) + " x " + std::to_string(stored_size(*type)));
    auto v = make(PValue::Tensor);
    v->tensor.type = *type;
    v->tensor.storage = std::move(data);
    v->tensor.numel = numel;
    v->tensor.size = {numel};
    v->tensor.stride = {1};
    storages_[key] = v;
    return v;
  }

  std::vector<int64_t> ints(const PPtr& t, const char* what) {
    if (t->kind != PValue::Tuple) fail(std::string("tensor ") + what + " is not a tuple");
    std::vector<int64_t> out;
    for (const auto& x : t->items) {
      if (x->kind != PValue::Int) fail(std::string("tensor ") + what + " holds a non-integer");
      out.push_back(x->i);
    }
    return out;
  }

  PPtr reduce(const PPtr& fn, const PPtr& args) {
    if (fn->kind != PValue::Global || args->kind != PValue::Tuple) fail("unsupported REDUCE");
    if (fn->s == "collections OrderedDict") {
      if (!args->items.empty()) fail("OrderedDict with arguments is not supported");
      return make(PValue::Dict);
    }
    if (fn->s == "torch._utils _rebuild_tensor_v2") {
      const auto& a = args->items;
      if (a.size() < 4 || a[0]->kind != PValue::Tensor || a[1]->kind != PValue::Int)
        fail("malformed _rebuild_tensor_v2 arguments");
      auto size = ints(a[2], "size"), stride = ints(a[3], "stride");
      if (size.size() != stride.size()) fail("tensor size and stride differ in rank");
      const TensorRef& storage = a[0]->tensor;
      int64_t last = a[1]->i;  // largest element index touched
      for (size_t d = 0; d < size.size(); ++d) {
        if (size[d] < 0 || stride[d] < 0) fail("negative tensor size or stride");
        if (size[d] == 0) last = -1;
        int64_t step = 0;
        if (last >= 0 && (__builtin_mul_overflow(size[d] - 1, stride[d], &step) ||
                          __builtin_add_overflow(last, step, &last)))
          fail("tensor view exceeds its storage");
      }
      if (a[1]->i < 0 || last >= storage.numel) fail("tensor view exceeds its storage");
      auto v = make(PValue::Tensor);
      v->tensor = storage;
      v->tensor.offset = a[1]->i;
      v->tensor.size = size;
      v->tensor.stride = stride;
      return v;
    }
    if (fn->s == "torch._utils _rebuild_parameter") {
      if (args->items.empty() || args->items[0]->kind != PValue::Tensor)
        fail("malformed _rebuild_parameter arguments");
      return args->items[0];
    }
    fail("refusing to call '" + fn->s + "'");
  }

  std::string path_;
  const ZipArchive& reader_;
  const char* p_;
  const char* end_;
  size_t max_values_;
  std::vector<PPtr> stack_;
  std::unordered_map<uint32_t, PPtr> memo_;
  std::unordered_map<std::string, PPtr> storages_;
};

class TorchCheckpoint final : public TensorFile {
 public:
  explicit TorchCheckpoint(const std::filesystem::path& file) : path_(file.string()) {
    const ZipArchive zip(path_);
    if (!zip.has("data.pkl")) throw Error(path_ + ": no data.pkl in the checkpoint");
    const Bytes pkl = zip.read("data.pkl");
    Unpickler u(path_, zip, reinterpret_cast<const char*>(pkl.data()), pkl.size(), 65536 + 256 * zip.entries());
    const PPtr root = u.run();
    if (root->kind != PValue::Dict) throw Error(path_ + ": checkpoint is not a dict of tensors");
    collect(*root, "", 0);
  }

  std::vector<std::string> names() const override {
    std::vector<std::string> out;
    for (const auto& [k, v] : tensors_) out.push_back(k);
    return out;
  }
  bool contains(const std::string& name) const override { return tensors_.count(name) > 0; }
  std::vector<int64_t> shape(const std::string& name) const override { return ref(name).size; }
  StoredType type(const std::string& name) const override { return ref(name).type; }
  std::string source(const std::string&) const override { return path_; }

  TensorView view(const std::string& name) const override {
    const TensorRef& t = ref(name);
    TensorView v;
    v.type = t.type;
    v.shape = t.size;
    const size_t elem = stored_size(t.type);
    // Row-major strides of the shape: a view with them aliases the storage, any other (a tensor
    // saved transposed, say) is copied into row-major order.
    bool contiguous = true;
    int64_t expect = 1;
    for (size_t d = t.size.size(); d-- > 0;) {
      if (t.size[d] != 1 && t.stride[d] != expect) contiguous = false;
      expect *= t.size[d];
    }
    const unsigned char* base = t.storage->data() + static_cast<size_t>(t.offset) * elem;
    if (contiguous) {
      v.data = base;
      v.owner = t.storage;
      return v;
    }
    auto copy = std::make_shared<Bytes>(static_cast<size_t>(v.numel()) * elem);
    std::vector<int64_t> index(t.size.size(), 0);
    for (int64_t i = 0; i < v.numel(); ++i) {
      int64_t src = 0;
      for (size_t d = 0; d < index.size(); ++d) src += index[d] * t.stride[d];
      std::memcpy(copy->data() + static_cast<size_t>(i) * elem, base + static_cast<size_t>(src) * elem, elem);
      for (size_t d = index.size(); d-- > 0;) {
        if (++index[d] < t.size[d]) break;
        index[d] = 0;
      }
    }
    v.data = copy->data();
    v.owner = copy;
    return v;
  }

 private:
  const TensorRef& ref(const std::string& name) const {
    auto it = tensors_.find(name);
    if (it == tensors_.end()) throw Error(path_ + ": no tensor '" + name + "'");
    return it->second;
  }

  void collect(const PValue& dict, const std::string& prefix, int depth) {
    // Bounded: a dict reached again through the memo (a cycle) must not recurse forever.
    if (depth > kMaxPickleDepth)
      throw Error(path_ + ": state dict nested deeper than " + std::to_string(kMaxPickleDepth) + " levels");
    for (const auto& [k, v] : dict.dict) {
      if (k->kind != PValue::Str) continue;
      if (v->kind == PValue::Tensor) tensors_[prefix + k->s] = v->tensor;
      else if (v->kind == PValue::Dict) collect(*v, prefix + k->s + ".", depth + 1);
    }
  }

  std::string path_;
  std::map<std::string, TensorRef> tensors_;
};

}  // namespace

std::unique_ptr<TensorFile> open_torch_checkpoint(const std::filesystem::path& file) {
  return std::make_unique<TorchCheckpoint>(file);
}

}  // namespace sbert::cpu
