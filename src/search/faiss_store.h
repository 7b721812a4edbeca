// FAISS behind sbert errors: index creation from factory strings with id mapping, training
// checks, search-time parameters, and file I/O that never lets a faiss::FaissException escape.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace faiss {
struct Index;
}

namespace sbert::search {

struct FaissIndex {
  std::unique_ptr<faiss::Index> index;
  bool supports_remove = false;  // FAISS remove_ids works on this index type
};

// index_factory(d, factory, metric) wrapped so that int64 ids can be given on add: IVF indexes
// take ids natively, everything else goes inside an IndexIDMap2.
FaissIndex make_index(const std::string& factory, size_t dimension, const std::string& metric);
// Whether an index read from disk supports remove_ids.
bool supports_remove(const faiss::Index* index);
// Fewest training points the index accepts (0 when it needs no training).
size_t min_training_points(const faiss::Index* index);
bool needs_training(const faiss::Index* index);
void train(faiss::Index* index, size_t n, const float* x, const std::string& factory);
void add(faiss::Index* index, size_t n, const float* x, const int64_t* ids);
size_t remove(faiss::Index* index, const std::vector<int64_t>& ids);
// Sets nprobe / efSearch (0 = unchanged); throws when the index has no such parameter.
void set_search_parameters(faiss::Index* index, size_t nprobe, size_t ef_search);
void search(const faiss::Index* index, size_t n, const float* x, size_t k, float* distances,
            int64_t* labels);

// Search breadth of an approximate index (IVF nprobe, HNSW efSearch; 0 where not applicable).
struct SearchEffort {
  size_t nprobe = 0, ef_search = 0;
};
SearchEffort search_effort(const faiss::Index* index);
void set_search_effort(faiss::Index* index, const SearchEffort& effort);
// Doubles the breadth of an approximate index (nprobe up to nlist, efSearch up to ntotal);
// false when it is already as broad as it gets (or the index is exhaustive).
bool widen_search(faiss::Index* index);

// Prepares `index` for reconstruct() (IVF indexes need a direct map from ids to list entries).
void enable_reconstruct(faiss::Index* index);
// The stored (decoded) vector of id `id` into out[0..d); false when the index cannot
// reconstruct vectors.
bool reconstruct(const faiss::Index* index, int64_t id, float* out);
nlohmann::json describe(const faiss::Index* index);

// Writes to `path` durably (temporary file, fsync, rename).
void write_index(const faiss::Index* index, const std::filesystem::path& path);

// What the first bytes of an index file claim, checked before FAISS reads it: FAISS sizes its
// arrays from these fields, so a header claiming 2^60 vectors makes it allocate until memory
// runs out. `head` is the start of the file (kIndexHeadBytes or the whole file when shorter),
// `file_size` its size; `vectors` (when given) what the search manifest says the index holds,
// `dimension` (when non-zero) its dimension. Throws sbert::Error naming `path` and the field.
constexpr size_t kIndexHeadBytes = 128;
struct IndexHeader {
  std::string fourcc;        // e.g. "IxM2" (IndexIDMap2), "IwFl" (IndexIVFFlat)
  int32_t dimension = 0;
  int64_t ntotal = 0;
  std::string core_fourcc;   // the index inside an id map ("" when there is none)
};
IndexHeader check_index_header(std::string_view head, uint64_t file_size, std::optional<size_t> vectors,
                               size_t dimension, const std::string& path);

// Checks the header (check_index_header), then reads the index.
std::unique_ptr<faiss::Index> read_index(const std::filesystem::path& path, std::optional<size_t> vectors = std::nullopt,
                                         size_t dimension = 0);

}  // namespace sbert::search
