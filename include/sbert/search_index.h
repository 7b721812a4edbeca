// A persistent semantic-search index: a FAISS index (any index_factory string) plus a SQLite
// table of rows (internal int64 id <-> user id, text, metadata JSON) and a JSON manifest that
// records the model the vectors came from.
//
// On disk, an index folder holds
//   manifest.json         the commit point: model, metric, factory, counts, current generation
//   index.<gen>.faiss     the FAISS index of that generation
//   rows.<gen>.sqlite     the rows of that generation
//   lock                  flock()ed by writers (one writer at a time; readers never block)
// Every write (build, add, remove) produces generation gen+1 beside the current one (files
// fsynced, renamed into place) and only then replaces manifest.json atomically; files of other
// generations are deleted afterwards (or by the next writer, when the process died). A write
// interrupted at any point, kill -9 included, leaves the previous generation intact and loadable.
//
// Scores: inner-product indexes (similarity "cosine" or "dot") return the inner product (cosine
// for "cosine", whose vectors are L2-normalised on the way in); L2 indexes ("euclidean") return
// the negative Euclidean distance, so that higher is always better and min_score means the same.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "sbert/matrix.h"

namespace sbert {

// What the manifest records. `similarity` decides the metric: "cosine" (inner product on
// normalised vectors), "dot" (inner product), "euclidean" (L2). "manhattan" is refused.
struct IndexManifest {
  std::string model;              // model path or name, as given
  std::string model_fingerprint;  // model_fingerprint() of the model folder
  std::string similarity = "cosine";
  std::string metric;             // "inner_product" | "l2" (derived from similarity)
  bool normalized = true;         // vectors are L2-normalised before add and search
  size_t dimension = 0;
  std::string factory = "Flat";
  nlohmann::json encoder = nlohmann::json::object();  // encoder options used (pooling, ...)
  // Maintained by the index:
  uint64_t generation = 0;
  size_t rows = 0;          // live rows
  size_t vectors = 0;       // vectors in the FAISS index (rows + deleted-but-not-removed)
  int64_t next_id = 0;      // next internal id
  bool supports_remove = true;  // false: removals are tombstones filtered at query time
  std::string sbert_version;
  std::string created;      // UTC ISO-8601
  std::string updated;

  nlohmann::json to_json() const;
  static IndexManifest from_json(const nlohmann::json& j, const std::string& where);
};

// How the corpus was embedded (the manifest's "encoder" object), applied again on add and
// query so that every vector of an index is made the same way.
struct IndexEncoderSettings {
  std::string pooling;            // "" = the model's own
  std::optional<bool> normalize;  // set when overridden at build
  size_t truncate_dim = 0;
  size_t max_length = 0;          // 0 = the model's
  std::string document_prompt;    // prompt text prepended to corpus rows
  std::string id_field;           // input column/key the ids came from ("" = automatic ids)

  nlohmann::json to_json() const;
  static IndexEncoderSettings from_json(const nlohmann::json& encoder);
};

struct IndexRow {
  std::string id;  // user id; empty = the internal id as a decimal string
  std::string text;
  nlohmann::json metadata;  // null or an object/value stored as JSON text
};

struct BuildOptions {
  size_t train_sample = 0;  // 0: train on all vectors; else a deterministic random sample
  bool overwrite = false;   // replace an existing index in the folder (as a new generation)
  uint64_t seed = 1234;
  bool prepared = false;    // the vectors are already as an index stores them (normalised): used as given
};

struct QueryOptions {
  size_t k = 10;
  std::optional<float> min_score;
  size_t nprobe = 0;     // IVF only (0: leave the index's value, default 1)
  size_t ef_search = 0;  // HNSW only (0: leave the index's value; sbert builds with 64)
};

struct SearchHit {
  size_t rank = 0;  // 1-based
  std::string id;
  float score = 0;
  std::string text;
  nlohmann::json metadata;
  int64_t internal_id = -1;
  std::optional<float> retrieval_score;  // set by rerank(): the index's score before reranking
};

struct QueryReport {
  size_t k_requested = 0;
  size_t k_effective = 0;  // k clamped to the number of live rows
  // An approximate index found fewer than k rows at its breadth and was searched wider:
  bool widened = false;
  size_t nprobe_used = 0;     // largest IVF nprobe used (when widened)
  size_t ef_search_used = 0;  // largest HNSW efSearch used (when widened)
};

// Fan-out over several indexes: `more` (one query's hits from the next index) merged into `hits`
// by score, on equal scores the earlier index first, then each list's own order (the tie rule
// of one index over the whole corpus); one hit per id (the first, best one: later hits with an
// id already present are dropped); at most k, ranks renumbered. Returns how many duplicates of
// an id were dropped.
size_t merge_hits(std::vector<SearchHit>& hits, std::vector<SearchHit> more, size_t k);

// The index folders of one query must be distinct, and shards of one run when they carry shard
// manifests (same shard count and key, each shard once). Throws sbert::Error naming the
// folder otherwise.
void check_query_indexes(const std::vector<std::string>& folders);

// Rescoring hook for cross-encoder reranking: returns one score per text, higher is better.
using Reranker =
    std::function<std::vector<float>(const std::string& query, const std::vector<std::string>& texts)>;

// Test hook: called at named points of a write ("rows_written", "faiss_written",
// "before_commit", "committed"); a test may kill the process there.
using WriteHook = std::function<void(const std::string& stage)>;

class SearchIndex {
 public:
  ~SearchIndex();
  SearchIndex(SearchIndex&&) noexcept;
  SearchIndex& operator=(SearchIndex&&) noexcept;

  // Creates an index in `dir` (created if missing; refused if it holds an index unless
  // options.overwrite, or other files). `info` supplies model, fingerprint, similarity, factory,
  // encoder; dimension comes from `vectors`. Trainable factories are trained on the vectors.
  static SearchIndex build(const std::filesystem::path& dir, IndexManifest info,
                           const Matrix& vectors, const std::vector<IndexRow>& rows,
                           const BuildOptions& options = {});
  // Opens an existing index folder (read-only until a write is made).
  static SearchIndex open(const std::filesystem::path& dir);

  // Adds rows. Ids already in the index are an error unless `upsert` (then replaced).
  // Returns how many existing rows this call replaced (upsert), counted inside its transaction.
  size_t add(const Matrix& vectors, const std::vector<IndexRow>& rows, bool upsert = false);
  // Removes rows by user id; unknown ids are an error unless `ignore_missing`. Returns how
  // many were removed.
  size_t remove(const std::vector<std::string>& ids, bool ignore_missing = false);

  // One list of hits per query row, best first: by score (re-computed exactly from the stored
  // vector where the index can reconstruct it), ties to the earlier inserted row, so results
  // are a pure function of the index contents and the query. k larger than the number of rows is clamped
  // (see report). Throws on a dimension mismatch, k == 0, or a parameter the index lacks.
  std::vector<std::vector<SearchHit>> search(const Matrix& queries, const QueryOptions& options,
                                             QueryReport* report = nullptr);
  // Re-scores the hits of one query with `reranker` and re-sorts them (stable on ties: the
  // retrieval order decides); the index's scores move to retrieval_score. Then drops hits
  // scoring below `min_score` and keeps at most `k` (0: all).
  static void rerank(const std::string& query, std::vector<SearchHit>& hits, const Reranker& reranker,
                     size_t k = 0, std::optional<float> min_score = std::nullopt);

  // Throws sbert::Error when `fingerprint` differs from the manifest's.
  void check_model(const std::string& fingerprint, const std::string& model) const;

  const IndexManifest& manifest() const;
  IndexEncoderSettings encoder_settings() const { return IndexEncoderSettings::from_json(manifest().encoder); }
  const std::filesystem::path& dir() const;
  // Manifest plus FAISS details (index type, ntotal, nlist/nprobe/efSearch where relevant).
  nlohmann::json info() const;
  // Looks up a row by user id.
  std::optional<IndexRow> row(const std::string& id) const;
  // Every live row with its stored vector, in insertion order. Throws sbert::Error for an index
  // that keeps its vectors lossily (PQ, SQ, LSH) or cannot give them back.
  void for_each_row(const std::function<void(const IndexRow& row, const float* vector)>& fn) const;

  // One index of the rows of `parts` in the order given (shards of one corpus, `sbert search
  // merge`): same model, similarity, factory and encoder settings, else sbert::Error naming the
  // part; built (and trained) on the parts' stored vectors as a whole-corpus build would be.
  // What makes the rows of `b` not comparable with those of `a` (search merge, fan-out queries):
  // "model", "similarity", "dimension" or "encoder settings" (and "index factory" when
  // same_factory); "" when nothing.
  static std::string difference(const IndexManifest& a, const IndexManifest& b, bool same_factory);

  static SearchIndex merge(const std::filesystem::path& dir, const std::vector<std::filesystem::path>& parts,
                           const BuildOptions& options = {});

  void set_write_hook(WriteHook hook);

 private:
  struct Impl;
  explicit SearchIndex(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A fingerprint of a model folder: "h64:<16 hex>" — a 64-bit xxHash64-style hash over the
// relative path, size and full contents of every regular file under `model_dir` (sorted by
// path), skipping hidden entries and *.md files. Throws if the folder is missing or empty.
std::string model_fingerprint(const std::filesystem::path& model_dir);

// "cosine" | "dot" -> "inner_product", "euclidean" -> "l2"; anything else throws.
std::string metric_for_similarity(const std::string& similarity);

}  // namespace sbert
