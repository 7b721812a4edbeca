// SearchIndex: generations of (FAISS file, rows database) committed by replacing manifest.json.
#include "sbert/json_parse.h"
#include "sbert/output_file.h"
#include "sbert/search_index.h"

#include <cstdint>  // faiss 1.7.3 headers use uint8_t without including it (GCC 13)
#include <faiss/Index.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <fstream>
#include <limits>
#include <numeric>
#include <random>
#include <regex>
#include <sstream>
#include <unordered_set>

#include "sbert/error.h"
#include "sbert/similarity.h"
#include "sbert/version.h"
#include "search/faiss_store.h"
#include "search/fs_util.h"
#include "search/row_store.h"

namespace fs = std::filesystem;

namespace sbert {

namespace {

constexpr const char* kFormat = "sbert-search-index";
constexpr int kFormatVersion = 1;

std::string now_utc() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

fs::path manifest_path(const fs::path& dir) { return dir / "manifest.json"; }
fs::path faiss_path(const fs::path& dir, uint64_t gen) {
  return dir / ("index." + std::to_string(gen) + ".faiss");
}
fs::path rows_path(const fs::path& dir, uint64_t gen) {
  return dir / ("rows." + std::to_string(gen) + ".sqlite");
}

// Files an index folder may hold; anything else means the folder is not (only) an index.
bool is_index_file(const std::string& name) {
  static const std::regex re(R"((manifest\.json(\.tmp)?|lock|index\.\d+\.faiss(\.tmp)?|rows\.\d+\.sqlite(\.tmp)?(-journal)?))");
  return std::regex_match(name, re);
}

// Deletes files of generations other than `keep` and leftover temporaries (writer lock held).
void remove_stray_files(const fs::path& dir, uint64_t keep) {
  std::error_code ec;
  const std::string fa = faiss_path(dir, keep).filename().string();
  const std::string ro = rows_path(dir, keep).filename().string();
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::string name = e.path().filename().string();
    if (name == "manifest.json" || name == "lock" || name == fa || name == ro) continue;
    if (is_index_file(name)) fs::remove(e.path(), ec);
  }
}

IndexManifest read_manifest(const fs::path& dir) {
  fs::path p = manifest_path(dir);
  if (!fs::is_directory(dir)) throw Error(dir.string() + ": index folder not found");
  std::ifstream in(p, std::ios::binary);
  if (!in) {
    throw Error(p.string() + ": not found (" + dir.string() +
                " is not an sbert index, or its first build was interrupted)");
  }
  std::stringstream ss;
  ss << in.rdbuf();
  nlohmann::json j;
  try {
    j = parse_json(ss.str(), p.string());
  } catch (const nlohmann::json::exception& e) {
    throw Error(p.string() + ": invalid JSON: " + std::string(e.what()));
  }
  return IndexManifest::from_json(j, p.string());
}

std::vector<float> prepared_vectors(const Matrix& m, bool normalize, const char* what) {
  check_finite(m, what);
  return normalize ? normalized_rows(m).data : m.data;
}

}  // namespace

// ---------------------------------------------------------------- manifest

nlohmann::json IndexEncoderSettings::to_json() const {
  nlohmann::json j = {{"pooling", pooling}, {"truncate_dim", truncate_dim}, {"max_length", max_length},
                      {"document_prompt", document_prompt}};
  if (normalize) j["normalize"] = *normalize;
  if (!id_field.empty()) j["id_field"] = id_field;
  return j;
}

IndexEncoderSettings IndexEncoderSettings::from_json(const nlohmann::json& e) {
  IndexEncoderSettings s;
  if (!e.is_object()) return s;
  auto str = [&](const char* key) {
    auto it = e.find(key);
    return it != e.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  auto num = [&](const char* key) {
    auto it = e.find(key);
    return it != e.end() && it->is_number_unsigned() ? it->get<size_t>() : size_t(0);
  };
  s.pooling = str("pooling");
  s.document_prompt = str("document_prompt");
  s.id_field = str("id_field");
  s.truncate_dim = num("truncate_dim");
  s.max_length = num("max_length");
  if (auto it = e.find("normalize"); it != e.end() && it->is_boolean()) s.normalize = it->get<bool>();
  return s;
}

std::string metric_for_similarity(const std::string& similarity) {
  if (similarity == "cosine" || similarity == "dot") return "inner_product";
  if (similarity == "euclidean") return "l2";
  throw Error("similarity '" + similarity +
              "' is not supported by search (use cosine, dot or euclidean)");
}

nlohmann::json IndexManifest::to_json() const {
  nlohmann::json j;
  j["format"] = kFormat;
  j["format_version"] = kFormatVersion;
  j["model"] = model;
  j["model_fingerprint"] = model_fingerprint;
  j["similarity"] = similarity;
  j["metric"] = metric;
  j["normalized"] = normalized;
  j["dimension"] = dimension;
  j["factory"] = factory;
  j["encoder"] = encoder;
  j["generation"] = generation;
  j["rows"] = rows;
  j["vectors"] = vectors;
  j["next_id"] = next_id;
  j["supports_remove"] = supports_remove;
  j["sbert_version"] = sbert_version;
  j["created"] = created;
  j["updated"] = updated;
  return j;
}

IndexManifest IndexManifest::from_json(const nlohmann::json& j, const std::string& where) {
  // (Types checked before value(): value() throws a json type_error on a mistyped field.)
  if (!j.is_object() || !j.contains("format") || !j["format"].is_string() ||
      j["format"].get<std::string>() != kFormat)
    throw Error(where + ": not an sbert search manifest (\"format\" is not \"" + kFormat + "\")");
  if (!j.contains("format_version") || !j["format_version"].is_number_integer() ||
      j["format_version"].get<int64_t>() != kFormatVersion)
    throw Error(where + ": unsupported format_version " + j.value("format_version", nlohmann::json()).dump());
  IndexManifest m;
  auto field = [&](const char* key) -> const nlohmann::json& {
    if (!j.contains(key)) throw Error(where + ": missing field \"" + key + "\"");
    return j.at(key);
  };
  auto named = [&](const char* key) { return where + ": field \"" + key + "\""; };
  try {
    m.model = field("model").get<std::string>();
    m.model_fingerprint = field("model_fingerprint").get<std::string>();
    m.similarity = field("similarity").get<std::string>();
    m.metric = field("metric").get<std::string>();
    m.normalized = field("normalized").get<bool>();
    m.dimension = json_integer<size_t>(field("dimension"), named("dimension"));
    m.factory = field("factory").get<std::string>();
    m.encoder = j.value("encoder", nlohmann::json::object());
    m.generation = json_integer<uint64_t>(field("generation"), named("generation"));
    m.rows = json_integer<size_t>(field("rows"), named("rows"));
    m.vectors = json_integer<size_t>(field("vectors"), named("vectors"));
    m.next_id = json_integer<int64_t>(field("next_id"), named("next_id"));
    m.supports_remove = field("supports_remove").get<bool>();
    m.sbert_version = j.value("sbert_version", "");
    m.created = j.value("created", "");
    m.updated = j.value("updated", "");
  } catch (const nlohmann::json::exception& e) {
    throw Error(where + ": bad field type: " + std::string(e.what()));
  }
  if (m.metric != "inner_product" && m.metric != "l2")
    throw Error(where + ": field \"metric\" must be inner_product or l2, got '" + m.metric + "'");
  if (m.dimension == 0) throw Error(where + ": field \"dimension\" must be positive");
  return m;
}

// ---------------------------------------------------------------- index

struct SearchIndex::Impl {
  fs::path dir;
  IndexManifest m;
  std::unique_ptr<faiss::Index> index;
  search::RowStore rows;
  WriteHook hook;

  void stage(const char* name) {
    if (hook) hook(name);
  }

  // Loads generation m.generation from disk.
  void load() {
    m = read_manifest(dir);
    fs::path fp = faiss_path(dir, m.generation);
    auto idx = search::read_index(fp, m.vectors, m.dimension);
    if (static_cast<size_t>(idx->d) != m.dimension)
      throw Error(fp.string() + ": dimension " + std::to_string(idx->d) +
                  " does not match the manifest's " + std::to_string(m.dimension));
    if (static_cast<size_t>(idx->ntotal) != m.vectors)
      throw Error(fp.string() + ": holds " + std::to_string(idx->ntotal) +
                  " vectors, the manifest says " + std::to_string(m.vectors));
    auto store = search::RowStore::open(rows_path(dir, m.generation), /*read_only=*/true);
    size_t n = store.count();
    if (n != m.rows)
      throw Error(store.path().string() + ": holds " + std::to_string(n) +
                  " rows, the manifest says " + std::to_string(m.rows));
    index = std::move(idx);
    rows = std::move(store);
  }

  // Writes `index` and the rows database `rows_tmp` as generation m.generation + 1 and commits
  // it by replacing manifest.json. The writer lock must be held.
  void commit_generation(IndexManifest next, const fs::path& rows_tmp) {
    next.generation = m.generation + 1;
    next.vectors = static_cast<size_t>(index->ntotal);
    next.updated = now_utc();
    next.sbert_version = SBERT_VERSION_STRING;
    fs::path new_rows = rows_path(dir, next.generation);
    search::rename_durably(rows_tmp, new_rows);
    stage("rows_written");
    search::write_index(index.get(), faiss_path(dir, next.generation));
    stage("faiss_written");
    stage("before_commit");
    search::write_file_durably(manifest_path(dir), next.to_json().dump(2) + "\n");
    stage("committed");
    m = next;
    rows = search::RowStore::open(new_rows, /*read_only=*/true);
    remove_stray_files(dir, m.generation);
  }

  // Runs a write on the current generation: takes the lock, reloads when another writer
  // committed since we loaded, and reloads the committed state if the write fails half-way
  // (the in-memory FAISS index may have been modified). `body` gets the rows database copy.
  template <typename F>
  void write_transaction(F&& body) {
    search::FileLock lock(dir / "lock");
    IndexManifest on_disk = read_manifest(dir);
    if (on_disk.generation != m.generation) load();
    remove_stray_files(dir, m.generation);
    fs::path rows_tmp = rows_path(dir, m.generation + 1);
    rows_tmp += ".tmp";
    TempPathGuard guard(rows_tmp.string());
    try {
      fs::copy_file(rows_path(dir, m.generation), rows_tmp, fs::copy_options::overwrite_existing);
      body(rows_tmp);
    } catch (...) {
      std::error_code ec;
      fs::remove(rows_tmp, ec);
      try {
        load();
      } catch (...) {
      }
      throw;
    }
  }
};

SearchIndex::SearchIndex(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SearchIndex::~SearchIndex() = default;
SearchIndex::SearchIndex(SearchIndex&&) noexcept = default;
SearchIndex& SearchIndex::operator=(SearchIndex&&) noexcept = default;

const IndexManifest& SearchIndex::manifest() const { return impl_->m; }
const fs::path& SearchIndex::dir() const { return impl_->dir; }
void SearchIndex::set_write_hook(WriteHook hook) { impl_->hook = std::move(hook); }

SearchIndex SearchIndex::open(const fs::path& dir) {
  auto impl = std::make_unique<Impl>();
  impl->dir = dir;
  impl->load();
  return SearchIndex(std::move(impl));
}

namespace {

// Checks rows/vectors agreement, fills in automatic ids and rejects duplicates in the batch.
std::vector<std::string> batch_ids(const Matrix& vectors, const std::vector<IndexRow>& rows,
                                   size_t dimension, int64_t first_id) {
  if (vectors.rows != rows.size())
    throw Error("got " + std::to_string(vectors.rows) + " vectors for " + std::to_string(rows.size()) + " rows");
  if (vectors.cols != dimension)
    throw Error("dimension mismatch: the vectors have " + std::to_string(vectors.cols) +
                " dimensions, the index has " + std::to_string(dimension));
  std::vector<std::string> ids(rows.size());
  std::unordered_set<std::string> seen;
  for (size_t i = 0; i < rows.size(); ++i) {
    ids[i] = rows[i].id.empty() ? std::to_string(first_id + static_cast<int64_t>(i)) : rows[i].id;
    if (!seen.insert(ids[i]).second)
      throw Error("duplicate id '" + ids[i] + "' in the input (row " + std::to_string(i + 1) + ")");
  }
  return ids;
}

std::string metadata_text(const nlohmann::json& metadata) {
  return metadata.is_null() ? std::string() : metadata.dump();
}

}  // namespace

SearchIndex SearchIndex::build(const fs::path& dir, IndexManifest info, const Matrix& vectors,
                               const std::vector<IndexRow>& rows, const BuildOptions& options) {
  if (rows.empty() || vectors.rows == 0) throw Error("cannot build an index from an empty corpus");
  if (vectors.cols == 0) throw Error("vectors have zero dimensions");
  info.metric = metric_for_similarity(info.similarity);
  if (info.similarity == "cosine") info.normalized = true;
  info.dimension = vectors.cols;
  auto ids = batch_ids(vectors, rows, info.dimension, 0);

  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) throw Error(dir.string() + ": cannot create index folder");
  search::FileLock lock(dir / "lock");

  auto impl = std::make_unique<Impl>();
  impl->dir = dir;
  if (fs::exists(manifest_path(dir))) {
    if (!options.overwrite)
      throw Error(dir.string() + ": already holds an index (use `search add`, or --overwrite to replace it)");
    impl->m = read_manifest(dir);  // only its generation is used
  } else {
    for (const auto& e : fs::directory_iterator(dir)) {
      if (!is_index_file(e.path().filename().string()))
        throw Error(dir.string() + ": folder is not empty and not an sbert index (found " +
                    e.path().filename().string() + ")");
    }
    impl->m.generation = 0;
  }
  remove_stray_files(dir, impl->m.generation);

  auto fi = search::make_index(info.factory, info.dimension, info.metric);
  std::vector<float> data = options.prepared ? vectors.data : prepared_vectors(vectors, info.normalized, "vector");
  if (search::needs_training(fi.index.get())) {
    size_t n = vectors.rows;
    if (options.train_sample && options.train_sample < n) {
      std::vector<size_t> order(n);
      std::iota(order.begin(), order.end(), 0);
      std::mt19937_64 rng(options.seed);
      std::shuffle(order.begin(), order.end(), rng);
      order.resize(options.train_sample);
      std::sort(order.begin(), order.end());
      std::vector<float> sample(order.size() * info.dimension);
      for (size_t i = 0; i < order.size(); ++i)
        std::copy_n(data.data() + order[i] * info.dimension, info.dimension, sample.data() + i * info.dimension);
      search::train(fi.index.get(), order.size(), sample.data(), info.factory);
    } else {
      search::train(fi.index.get(), n, data.data(), info.factory);
    }
  }
  std::vector<int64_t> internal(rows.size());
  std::iota(internal.begin(), internal.end(), 0);
  search::add(fi.index.get(), rows.size(), data.data(), internal.data());

  fs::path rows_tmp = rows_path(dir, impl->m.generation + 1);
  rows_tmp += ".tmp";
  fs::remove(rows_tmp, ec);
  // The temporary database goes away on failure and on SIGINT/SIGTERM/SIGHUP.
  fs::path journal = rows_tmp;
  journal += "-journal";
  TempPathGuard guard(rows_tmp.string()), journal_guard(journal.string());
  try {
    {
      auto store = search::RowStore::create(rows_tmp);
      store.begin();
      for (size_t i = 0; i < rows.size(); ++i)
        store.insert(internal[i], ids[i], rows[i].text, metadata_text(rows[i].metadata));
      store.commit();
    }
    impl->index = std::move(fi.index);
    IndexManifest next = info;
    next.rows = rows.size();
    next.next_id = static_cast<int64_t>(rows.size());
    next.supports_remove = fi.supports_remove;
    next.created = now_utc();
    impl->commit_generation(next, rows_tmp);
  } catch (...) {
    fs::remove(rows_tmp, ec);
    fs::remove(journal, ec);
    throw;
  }
  return SearchIndex(std::move(impl));
}


size_t SearchIndex::add(const Matrix& vectors, const std::vector<IndexRow>& rows, bool upsert) {
  Impl& impl = *impl_;
  if (rows.empty()) throw Error("nothing to add (empty input)");
  size_t replaced_count = 0;
  impl.write_transaction([&](const fs::path& rows_tmp) {
    auto ids = batch_ids(vectors, rows, impl.m.dimension, impl.m.next_id);
    std::vector<float> data = prepared_vectors(vectors, impl.m.normalized, "vector");
    auto store = search::RowStore::open(rows_tmp, /*read_only=*/false);
    store.begin();
    std::vector<int64_t> replaced;
    for (const auto& id : ids) {
      if (auto old = store.find(id)) {
        if (!upsert) throw Error("id '" + id + "' is already in the index (use --upsert to replace it)");
        replaced.push_back(*old);
        store.erase(*old);
      }
    }
    std::vector<int64_t> internal(rows.size());
    for (size_t i = 0; i < rows.size(); ++i) {
      internal[i] = impl.m.next_id + static_cast<int64_t>(i);
      store.insert(internal[i], ids[i], rows[i].text, metadata_text(rows[i].metadata));
    }
    store.commit();
    size_t live = store.count();
    store.close();
    if (impl.m.supports_remove) search::remove(impl.index.get(), replaced);
    search::add(impl.index.get(), rows.size(), data.data(), internal.data());
    IndexManifest next = impl.m;
    next.rows = live;
    next.next_id = impl.m.next_id + static_cast<int64_t>(rows.size());
    impl.commit_generation(next, rows_tmp);
    replaced_count = replaced.size();
  });
  return replaced_count;
}

size_t SearchIndex::remove(const std::vector<std::string>& ids, bool ignore_missing) {
  Impl& impl = *impl_;
  if (ids.empty()) return 0;
  size_t removed = 0;
  impl.write_transaction([&](const fs::path& rows_tmp) {
    auto store = search::RowStore::open(rows_tmp, /*read_only=*/false);
    store.begin();
    std::vector<int64_t> internal;
    std::unordered_set<std::string> seen;
    for (const auto& id : ids) {
      if (!seen.insert(id).second) continue;
      auto old = store.find(id);
      if (!old) {
        if (ignore_missing) continue;
        throw Error("id '" + id + "' is not in the index");
      }
      internal.push_back(*old);
      store.erase(*old);
    }
    store.commit();
    size_t live = store.count();
    store.close();
    removed = internal.size();
    if (impl.m.supports_remove) search::remove(impl.index.get(), internal);
    IndexManifest next = impl.m;
    next.rows = live;
    impl.commit_generation(next, rows_tmp);
  });
  return removed;
}

std::vector<std::vector<SearchHit>> SearchIndex::search(const Matrix& queries,
                                                       const QueryOptions& options,
                                                       QueryReport* report) {
  Impl& impl = *impl_;
  if (options.k == 0) throw Error("k must be at least 1");
  if (queries.cols != impl.m.dimension)
    throw Error("dimension mismatch: the queries have " + std::to_string(queries.cols) +
                " dimensions, the index has " + std::to_string(impl.m.dimension));
  const size_t live = impl.m.rows;
  const size_t total = static_cast<size_t>(impl.index->ntotal);
  const size_t k = std::min(options.k, live);
  QueryReport local;
  QueryReport& rep = report ? *report : local;
  rep = QueryReport{};
  rep.k_requested = options.k;
  rep.k_effective = k;
  std::vector<std::vector<SearchHit>> out(queries.rows);
  if (queries.rows == 0 || k == 0) return out;
  search::set_search_parameters(impl.index.get(), options.nprobe, options.ef_search);
  search::enable_reconstruct(impl.index.get());
  const search::SearchEffort base_effort = search::search_effort(impl.index.get());
  const size_t dim = impl.m.dimension;
  std::vector<float> q = prepared_vectors(queries, impl.m.normalized, "query");
  const bool l2 = impl.m.metric == "l2";
  const SimilarityFunction fn = l2 ? SimilarityFunction::Euclidean : SimilarityFunction::Dot;
  // FAISS's scores and sbert's exact per-pair kernel differ by rounding only; a candidate FAISS
  // ranks below the k-th exact score by more than this cannot tie with it.
  auto slack = [](float s) { return 1e-4f * std::max(1.0f, std::fabs(s)); };

  struct Candidate {
    int64_t label;
    float score;
  };
  std::vector<float> vec(dim);
  // The result is a pure function of the index contents and the query: every candidate is
  // re-scored with the exact kernel from its stored vector, and ties go to the earlier
  // insertion (internal ids grow with insertion). FAISS is asked for more candidates until the
  // k-th place is decided: no unfetched vector can reach its score.
  for (size_t qi = 0; qi < queries.rows; ++qi) {
    const float* qv = q.data() + qi * dim;
    size_t fetch = std::min(total, k + (total - std::min(total, live)));
    search::set_search_effort(impl.index.get(), base_effort);
    std::vector<SearchHit> hits;
    while (true) {
      std::vector<float> dist(fetch);
      std::vector<int64_t> labels(fetch);
      search::search(impl.index.get(), 1, qv, fetch, dist.data(), labels.data());
      std::vector<Candidate> cands;
      size_t returned = 0;
      float last_faiss = std::numeric_limits<float>::infinity();
      for (size_t j = 0; j < fetch; ++j) {
        if (labels[j] < 0) continue;
        ++returned;
        float fs_score = l2 ? -std::sqrt(std::max(0.0f, dist[j])) : dist[j];
        last_faiss = std::min(last_faiss, fs_score);
        float score = fs_score;
        if (search::reconstruct(impl.index.get(), labels[j], vec.data()))
          score = similarity(qv, vec.data(), dim, fn);
        cands.push_back({labels[j], score});
      }
      std::sort(cands.begin(), cands.end(), [](const Candidate& a, const Candidate& b) {
        if (a.score != b.score) return a.score > b.score;
        return a.label < b.label;
      });
      hits.clear();
      for (const auto& c : cands) {
        if (hits.size() >= k) break;
        if (options.min_score && c.score < *options.min_score) break;
        auto row = impl.rows.get(c.label);
        if (!row) continue;  // removed (tombstone)
        SearchHit h;
        h.rank = hits.size() + 1;
        h.id = row->id;
        h.score = c.score;
        h.text = std::move(row->text);
        if (!row->metadata.empty()) {
          try {
            h.metadata = parse_json(row->metadata);
          } catch (const nlohmann::json::exception&) {
            h.metadata = row->metadata;
          }
        }
        h.internal_id = c.label;
        hits.push_back(std::move(h));
      }
      const bool exhausted = returned < fetch;  // FAISS had no more candidates at this breadth
      bool decided;
      if (hits.size() >= k) {
        float kth = hits[k - 1].score;
        decided = fetch >= total || exhausted || last_faiss < kth - slack(kth);
      } else if (options.min_score && returned > 0 &&
                 last_faiss < *options.min_score - slack(*options.min_score)) {
        decided = true;  // everything further scores below min_score
      } else {
        decided = fetch >= total || exhausted;
      }
      if (!decided) {
        fetch = std::min(total, fetch * 2);
        continue;
      }
      // An approximate index may find fewer than k rows at its current breadth: widen it
      // (IVF nprobe, HNSW efSearch) until k live rows are found or it cannot widen further.
      if (hits.size() < k && !options.min_score && search::widen_search(impl.index.get())) {
        auto e = search::search_effort(impl.index.get());
        rep.widened = true;
        rep.nprobe_used = std::max(rep.nprobe_used, e.nprobe);
        rep.ef_search_used = std::max(rep.ef_search_used, e.ef_search);
        continue;
      }
      break;
    }
    out[qi] = std::move(hits);
  }
  search::set_search_effort(impl.index.get(), base_effort);
  return out;
}

void SearchIndex::rerank(const std::string& query, std::vector<SearchHit>& hits, const Reranker& reranker,
                         size_t k, std::optional<float> min_score) {
  if (hits.empty()) return;
  std::vector<std::string> texts;
  texts.reserve(hits.size());
  for (const auto& h : hits) texts.push_back(h.text);
  std::vector<float> scores = reranker(query, texts);
  if (scores.size() != hits.size())
    throw Error("reranker returned " + std::to_string(scores.size()) + " scores for " +
                std::to_string(hits.size()) + " texts");
  for (size_t i = 0; i < hits.size(); ++i) {
    hits[i].retrieval_score = hits[i].score;
    hits[i].score = scores[i];
  }
  std::stable_sort(hits.begin(), hits.end(),
                   [](const SearchHit& a, const SearchHit& b) { return a.score > b.score; });
  if (min_score)
    hits.erase(std::remove_if(hits.begin(), hits.end(), [&](const SearchHit& h) { return h.score < *min_score; }),
               hits.end());
  if (k > 0 && hits.size() > k) hits.resize(k);
  for (size_t i = 0; i < hits.size(); ++i) hits[i].rank = i + 1;
}

void SearchIndex::check_model(const std::string& fingerprint, const std::string& model) const {
  if (fingerprint != impl_->m.model_fingerprint)
    throw Error("model '" + model + "' (fingerprint " + fingerprint + ") is not the model index " +
                impl_->dir.string() + " was built with ('" + impl_->m.model + "', fingerprint " +
                impl_->m.model_fingerprint + ")");
}

nlohmann::json SearchIndex::info() const {
  nlohmann::json j = impl_->m.to_json();
  j["index_dir"] = impl_->dir.string();
  j["faiss"] = search::describe(impl_->index.get());
  j["deleted_pending"] = impl_->m.vectors - std::min(impl_->m.vectors, impl_->m.rows);
  return j;
}

std::optional<IndexRow> SearchIndex::row(const std::string& id) const {
  auto internal = impl_->rows.find(id);
  if (!internal) return std::nullopt;
  auto r = impl_->rows.get(*internal);
  if (!r) return std::nullopt;
  IndexRow out;
  out.id = r->id;
  out.text = r->text;
  if (!r->metadata.empty()) out.metadata = nlohmann::json::parse(r->metadata, nullptr, false);
  return out;
}

void SearchIndex::for_each_row(const std::function<void(const IndexRow&, const float*)>& fn) const {
  const std::string& f = impl_->m.factory;
  for (const char* lossy : {"PQ", "SQ", "LSH"})
    if (f.find(lossy) != std::string::npos)
      throw Error(impl_->dir.string() + ": a " + f +
                  " index keeps its vectors lossily; build the whole index from the inputs instead");
  search::enable_reconstruct(impl_->index.get());
  std::vector<float> v(impl_->m.dimension);
  impl_->rows.for_each([&](const search::StoredRow& r) {
    if (!search::reconstruct(impl_->index.get(), r.internal_id, v.data()))
      throw Error(impl_->dir.string() + ": the " + f + " index cannot give its vectors back");
    IndexRow out;
    out.id = r.id;
    out.text = r.text;
    if (!r.metadata.empty()) out.metadata = nlohmann::json::parse(r.metadata, nullptr, false);
    fn(out, v.data());
  });
}

std::string SearchIndex::difference(const IndexManifest& a, const IndexManifest& b, bool same_factory) {
  if (a.model_fingerprint != b.model_fingerprint) return "model";
  if (a.similarity != b.similarity || a.normalized != b.normalized) return "similarity";
  if (same_factory && a.factory != b.factory) return "index factory";
  if (a.dimension != b.dimension) return "dimension";
  if (a.encoder != b.encoder) return "encoder settings";
  return "";
}

SearchIndex SearchIndex::merge(const fs::path& dir, const std::vector<fs::path>& parts, const BuildOptions& options) {
  if (parts.empty()) throw Error("search merge: no indexes given");
  IndexManifest info;
  Matrix vectors;
  std::vector<IndexRow> rows;
  for (size_t p = 0; p < parts.size(); ++p) {
    SearchIndex part = open(parts[p]);
    const IndexManifest& m = part.manifest();
    if (p == 0) {
      info = m;
      vectors = Matrix(0, m.dimension);
    } else if (std::string what = difference(info, m, /*same_factory=*/true); !what.empty()) {
      throw Error(parts[p].string() + ": made with another " + what + " than " + parts[0].string());
    }
    part.for_each_row([&](const IndexRow& r, const float* v) {
      rows.push_back(r);
      vectors.data.insert(vectors.data.end(), v, v + info.dimension);
      ++vectors.rows;
    });
  }
  IndexManifest fresh;
  fresh.model = info.model;
  fresh.model_fingerprint = info.model_fingerprint;
  fresh.similarity = info.similarity;
  fresh.normalized = info.normalized;
  fresh.factory = info.factory;
  fresh.encoder = info.encoder;
  BuildOptions bo = options;
  bo.prepared = true;  // the stored vectors are already normalised where the index normalises
  return build(dir, fresh, vectors, rows, bo);
}

}  // namespace sbert
