#include "search/faiss_store.h"

#include <cstdint>  // faiss 1.7.3 headers use uint8_t without including it (GCC 13)
#include <faiss/IndexFlat.h>
#include <faiss/IndexFlatCodes.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIDMap.h>
#include <faiss/IndexIVF.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/IndexPQ.h>
#include <faiss/IndexPreTransform.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/index_factory.h>
#include <faiss/index_io.h>
#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <typeinfo>

#include "sbert/error.h"
#include "search/fs_util.h"

namespace sbert::search {

namespace {

// The index that does the work, under id maps and pre-transforms.
const faiss::Index* core_of(const faiss::Index* index) {
  while (true) {
    if (auto* m = dynamic_cast<const faiss::IndexIDMap*>(index)) {
      index = m->index;
    } else if (auto* p = dynamic_cast<const faiss::IndexPreTransform*>(index)) {
      index = p->index;
    } else {
      return index;
    }
  }
}
faiss::Index* core_of(faiss::Index* index) {
  return const_cast<faiss::Index*>(core_of(static_cast<const faiss::Index*>(index)));
}

std::string type_name(const faiss::Index* index) {
  std::string n = typeid(*index).name();
  // Itanium mangling of faiss::X is N5faiss<len>XE; keep X.
  auto pos = n.find("faiss");
  if (pos != std::string::npos) {
    size_t i = pos + 5;
    size_t len = 0;
    while (i < n.size() && std::isdigit(static_cast<unsigned char>(n[i]))) len = len * 10 + (n[i++] - '0');
    if (len && i + len <= n.size()) return n.substr(i, len);
  }
  return n;
}

}  // namespace

FaissIndex make_index(const std::string& factory, size_t dimension, const std::string& metric) {
  faiss::MetricType mt = metric == "l2" ? faiss::METRIC_L2 : faiss::METRIC_INNER_PRODUCT;
  std::unique_ptr<faiss::Index> base;
  try {
    base.reset(faiss::index_factory(static_cast<int>(dimension), factory.c_str(), mt));
  } catch (const faiss::FaissException& e) {
    throw Error("invalid index factory '" + factory + "' for dimension " +
                std::to_string(dimension) + ": " + e.msg);
  }
  // Polysemous training (a simulated-annealing reordering of PQ codes, only used by polysemous
  // search, which sbert never enables) takes minutes; index_factory turns it on for IVF..,PQ.
  if (auto* ivfpq = dynamic_cast<faiss::IndexIVFPQ*>(core_of(base.get()))) ivfpq->do_polysemous_training = false;
  if (auto* pq = dynamic_cast<faiss::IndexPQ*>(core_of(base.get()))) pq->do_polysemous_training = false;
  // FAISS's k-means prints "WARNING clustering N points to K centroids: please provide at
  // least ..." straight to stderr (past -q) whenever there are fewer than 39 points per
  // centroid. The threshold only gates that message, so lower it; sbert checks the real
  // minimum itself (min_training_points).
  if (auto* ivf = dynamic_cast<faiss::IndexIVF*>(core_of(base.get()))) ivf->cp.min_points_per_centroid = 1;
  if (auto* ivfpq = dynamic_cast<faiss::IndexIVFPQ*>(core_of(base.get()))) ivfpq->pq.cp.min_points_per_centroid = 1;
  if (auto* pq = dynamic_cast<faiss::IndexPQ*>(core_of(base.get()))) pq->pq.cp.min_points_per_centroid = 1;
  // FAISS's default efSearch (16) gives poor recall on 384-768-d embeddings; 64 is the usual
  // starting point. It is stored in the index file; --ef-search overrides it per query.
  if (auto* hnsw = dynamic_cast<faiss::IndexHNSW*>(core_of(base.get()))) hnsw->hnsw.efSearch = 64;
  FaissIndex out;
  if (dynamic_cast<faiss::IndexIDMap*>(base.get()) || dynamic_cast<faiss::IndexIVF*>(core_of(base.get()))) {
    out.index = std::move(base);
  } else {
    auto wrapped = std::make_unique<faiss::IndexIDMap2>(base.get());
    wrapped->own_fields = true;
    base.release();
    out.index = std::move(wrapped);
  }
  out.supports_remove = supports_remove(out.index.get());
  return out;
}

bool supports_remove(const faiss::Index* index) {
  const faiss::Index* core = core_of(index);
  return dynamic_cast<const faiss::IndexIVF*>(core) != nullptr ||
         dynamic_cast<const faiss::IndexFlatCodes*>(core) != nullptr;
}

bool needs_training(const faiss::Index* index) { return !index->is_trained; }

size_t min_training_points(const faiss::Index* index) {
  if (index->is_trained) return 0;
  const faiss::Index* core = core_of(index);
  size_t n = 1;
  if (auto* ivf = dynamic_cast<const faiss::IndexIVF*>(core)) n = std::max<size_t>(n, ivf->nlist);
  if (auto* ivfpq = dynamic_cast<const faiss::IndexIVFPQ*>(core)) n = std::max<size_t>(n, ivfpq->pq.ksub);
  if (auto* pq = dynamic_cast<const faiss::IndexPQ*>(core)) n = std::max<size_t>(n, pq->pq.ksub);
  if (auto* hnsw = dynamic_cast<const faiss::IndexHNSW*>(core)) {
    if (auto* pq = dynamic_cast<const faiss::IndexPQ*>(hnsw->storage)) n = std::max<size_t>(n, pq->pq.ksub);
  }
  return n;
}

void train(faiss::Index* index, size_t n, const float* x, const std::string& factory) {
  size_t need = min_training_points(index);
  if (n < need)
    throw Error("index factory '" + factory + "' needs at least " + std::to_string(need) +
                " training vectors, got " + std::to_string(n) +
                " (use a smaller nlist/code size, or more data)");
  try {
    index->train(static_cast<faiss::Index::idx_t>(n), x);
  } catch (const faiss::FaissException& e) {
    throw Error("training index '" + factory + "' failed: " + e.msg);
  }
}

void add(faiss::Index* index, size_t n, const float* x, const int64_t* ids) {
  try {
    index->add_with_ids(static_cast<faiss::Index::idx_t>(n), x, ids);
  } catch (const faiss::FaissException& e) {
    throw Error("adding vectors to the FAISS index failed: " + e.msg);
  }
}

size_t remove(faiss::Index* index, const std::vector<int64_t>& ids) {
  if (ids.empty()) return 0;
  try {
    faiss::IDSelectorBatch sel(ids.size(), ids.data());
    return index->remove_ids(sel);
  } catch (const faiss::FaissException& e) {
    throw Error("removing vectors from the FAISS index failed: " + e.msg);
  }
}

void set_search_parameters(faiss::Index* index, size_t nprobe, size_t ef_search) {
  faiss::Index* core = core_of(index);
  if (nprobe) {
    auto* ivf = dynamic_cast<faiss::IndexIVF*>(core);
    if (!ivf) throw Error("--nprobe applies to IVF indexes only (this index is " + type_name(core) + ")");
    ivf->nprobe = std::min<size_t>(nprobe, ivf->nlist);
  }
  if (ef_search) {
    auto* hnsw = dynamic_cast<faiss::IndexHNSW*>(core);
    if (!hnsw) throw Error("--ef-search applies to HNSW indexes only (this index is " + type_name(core) + ")");
    hnsw->hnsw.efSearch = static_cast<int>(ef_search);
  }
}

void search(const faiss::Index* index, size_t n, const float* x, size_t k, float* distances,
            int64_t* labels) {
  try {
    index->search(static_cast<faiss::Index::idx_t>(n), x, static_cast<faiss::Index::idx_t>(k), distances, labels);
  } catch (const faiss::FaissException& e) {
    throw Error("FAISS search failed: " + e.msg);
  }
}

SearchEffort search_effort(const faiss::Index* index) {
  const faiss::Index* core = core_of(index);
  SearchEffort e;
  if (auto* ivf = dynamic_cast<const faiss::IndexIVF*>(core)) e.nprobe = ivf->nprobe;
  if (auto* hnsw = dynamic_cast<const faiss::IndexHNSW*>(core)) e.ef_search = static_cast<size_t>(hnsw->hnsw.efSearch);
  return e;
}

void set_search_effort(faiss::Index* index, const SearchEffort& effort) {
  faiss::Index* core = core_of(index);
  if (auto* ivf = dynamic_cast<faiss::IndexIVF*>(core); ivf && effort.nprobe) ivf->nprobe = effort.nprobe;
  if (auto* hnsw = dynamic_cast<faiss::IndexHNSW*>(core); hnsw && effort.ef_search)
    hnsw->hnsw.efSearch = static_cast<int>(effort.ef_search);
}

bool widen_search(faiss::Index* index) {
  faiss::Index* core = core_of(index);
  if (auto* ivf = dynamic_cast<faiss::IndexIVF*>(core)) {
    if (ivf->nprobe >= ivf->nlist) return false;
    ivf->nprobe = std::min<size_t>(ivf->nlist, std::max<size_t>(1, ivf->nprobe) * 2);
    return true;
  }
  if (auto* hnsw = dynamic_cast<faiss::IndexHNSW*>(core)) {
    size_t ef = static_cast<size_t>(std::max(1, hnsw->hnsw.efSearch));
    size_t limit = std::max<size_t>(1, static_cast<size_t>(index->ntotal));
    if (ef >= limit) return false;
    hnsw->hnsw.efSearch = static_cast<int>(std::min(limit, ef * 2));
    return true;
  }
  return false;
}

void enable_reconstruct(faiss::Index* index) {
  if (auto* ivf = dynamic_cast<faiss::IndexIVF*>(core_of(index))) {
    try {
      if (ivf->direct_map.type == faiss::DirectMap::NoMap)
        ivf->set_direct_map_type(faiss::DirectMap::Hashtable);
    } catch (const faiss::FaissException&) {
      // reconstruct() then reports false and FAISS's own scores are used
    }
  }
}

bool reconstruct(const faiss::Index* index, int64_t id, float* out) {
  try {
    index->reconstruct(static_cast<faiss::Index::idx_t>(id), out);
    return true;
  } catch (const faiss::FaissException&) {
    return false;
  }
}

nlohmann::json describe(const faiss::Index* index) {
  const faiss::Index* core = core_of(index);
  nlohmann::json j;
  j["type"] = type_name(core);
  j["ntotal"] = index->ntotal;
  j["dimension"] = index->d;
  j["trained"] = index->is_trained;
  if (auto* ivf = dynamic_cast<const faiss::IndexIVF*>(core)) {
    j["nlist"] = ivf->nlist;
    j["nprobe"] = ivf->nprobe;
  }
  if (auto* hnsw = dynamic_cast<const faiss::IndexHNSW*>(core)) {
    j["efSearch"] = hnsw->hnsw.efSearch;
    j["efConstruction"] = hnsw->hnsw.efConstruction;
  }
  return j;
}

void write_index(const faiss::Index* index, const std::filesystem::path& path) {
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw Error(tmp.string() + ": cannot create file");
  try {
    faiss::write_index(index, f);
  } catch (const faiss::FaissException& e) {
    std::fclose(f);
    std::filesystem::remove(tmp);
    throw Error(tmp.string() + ": writing the FAISS index failed: " + e.msg);
  }
  bool ok = std::fflush(f) == 0 && ::fsync(fileno(f)) == 0;
  ok = (std::fclose(f) == 0) && ok;
  if (!ok) {
    std::filesystem::remove(tmp);
    throw Error(tmp.string() + ": writing the FAISS index failed (disk full?)");
  }
  rename_durably(tmp, path);
}

namespace {

// FAISS's on-disk index header (faiss/impl/index_read.cpp read_index_header), after the fourcc:
// int32 d, int64 ntotal, two unused int64, a one-byte is_trained, int32 metric_type, and a float
// metric_arg when metric_type > 1.
struct HeadReader {
  std::string_view b;
  size_t at = 0;
  const std::string& path;
  template <typename T>
  T take(const char* field) {
    if (b.size() - at < sizeof(T)) throw Error(path + ": corrupted FAISS index: truncated header (no " + field + ")");
    T v;
    std::memcpy(&v, b.data() + at, sizeof(T));
    at += sizeof(T);
    return v;
  }
  std::string fourcc() {
    if (b.size() - at < 4) throw Error(path + ": corrupted FAISS index: truncated header");
    std::string f(b.substr(at, 4));
    at += 4;
    for (char c : f)
      if (!std::isalnum(static_cast<unsigned char>(c))) throw Error(path + ": corrupted FAISS index: not a FAISS index file");
    return f;
  }
  struct Fields {
    int32_t d;
    int64_t ntotal;
  };
  Fields header() {
    Fields h;
    h.d = take<int32_t>("dimension");
    h.ntotal = take<int64_t>("ntotal");
    take<int64_t>("header");
    take<int64_t>("header");
    take<uint8_t>("is_trained");
    const int32_t metric = take<int32_t>("metric_type");
    if (metric != 0 && metric != 1)  // inner product, L2: the two metrics sbert builds
      throw Error(path + ": corrupted FAISS index: unknown metric type " + std::to_string(metric));
    return h;
  }
};

bool flat_fourcc(const std::string& f) { return f == "IxFI" || f == "IxF2" || f == "IxFl"; }

}  // namespace

IndexHeader check_index_header(std::string_view head, uint64_t file_size, std::optional<size_t> vectors,
                               size_t dimension, const std::string& path) {
  HeadReader r{head, 0, path};
  IndexHeader out;
  out.fourcc = r.fourcc();
  if (out.fourcc[0] != 'I') throw Error(path + ": corrupted FAISS index: not a FAISS index file (type code '" + out.fourcc + "')");
  const HeadReader::Fields h = r.header();
  out.dimension = h.d;
  out.ntotal = h.ntotal;
  if (h.d <= 0 || (dimension && static_cast<size_t>(h.d) != dimension))
    throw Error(path + ": corrupted FAISS index: dimension " + std::to_string(h.d) +
                (dimension ? ", the manifest says " + std::to_string(dimension) : std::string(" is not positive")));
  if (h.ntotal < 0) throw Error(path + ": corrupted FAISS index: negative vector count " + std::to_string(h.ntotal));
  if (vectors && static_cast<uint64_t>(h.ntotal) != *vectors)
    throw Error(path + ": corrupted FAISS index: its header claims " + std::to_string(h.ntotal) + " vectors, the manifest says " +
                std::to_string(*vectors));
  // The fewest bytes a vector takes in the file: every index sbert writes keeps an 8-byte id per
  // vector (IndexIDMap2's id map, or the ids of an IVF index's lists) besides its code (at least
  // a byte; d floats in a flat index).
  const bool id_map = out.fourcc == "IxMp" || out.fourcc == "IxM2";
  std::string core = out.fourcc;
  if (id_map) {
    out.core_fourcc = core = r.fourcc();
    const HeadReader::Fields inner = r.header();
    if (inner.d != h.d || inner.ntotal != h.ntotal)
      throw Error(path + ": corrupted FAISS index: the id map holds " + std::to_string(h.ntotal) + " vectors of dimension " +
                  std::to_string(h.d) + ", the index inside it " + std::to_string(inner.ntotal) + " of dimension " +
                  std::to_string(inner.d));
  }
  const bool ids = id_map || out.fourcc.rfind("Iw", 0) == 0;
  const uint64_t per_vector = (ids ? 8 : 0) + (flat_fourcc(core) ? 4 * static_cast<uint64_t>(h.d) : 1);
  using U = unsigned __int128;
  if (U(static_cast<uint64_t>(h.ntotal)) * per_vector > U(file_size))
    throw Error(path + ": corrupted FAISS index: its header claims " + std::to_string(h.ntotal) + " vectors (at least " +
                std::to_string(per_vector) + " bytes each), but the file has " + std::to_string(file_size) +
                " bytes: truncated or corrupt");
  return out;
}

std::unique_ptr<faiss::Index> read_index(const std::filesystem::path& path, std::optional<size_t> vectors,
                                         size_t dimension) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw Error(path.string() + ": FAISS index file is missing");
  if (!std::filesystem::is_regular_file(path, ec)) throw Error(path.string() + ": FAISS index is not a regular file");
  {
    const uint64_t size = std::filesystem::file_size(path, ec);
    if (ec) throw Error(path.string() + ": cannot read: " + ec.message());
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(path.string() + ": cannot open: " + std::strerror(errno));
    std::string head(kIndexHeadBytes, '\0');
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
    head.resize(static_cast<size_t>(in.gcount()));
    check_index_header(head, size, vectors, dimension, path.string());
  }
  try {
    return std::unique_ptr<faiss::Index>(faiss::read_index(path.c_str()));
  } catch (const faiss::FaissException& e) {
    std::string msg = e.msg;
    if (auto nl = msg.find('\n'); nl != std::string::npos) msg = msg.substr(0, nl);
    throw Error(path.string() + ": corrupted or unreadable FAISS index: " + msg);
  } catch (const std::bad_alloc&) {
    throw Error(path.string() + ": corrupted FAISS index (implausible sizes)");
  } catch (const std::exception& e) {
    throw Error(path.string() + ": corrupted or unreadable FAISS index: " + e.what());
  }
}

}  // namespace sbert::search
