// SearchIndex with synthetic vectors: exactness against brute force (computed here in double),
// ANN recall, incremental adds, removal, persistence, bad input, and kill -9 during a write.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <chrono>
#include <cmath>
#include <numeric>
#include <random>
#include <set>
#include <iostream>
#include <thread>

#include "sbert/error.h"
#include "sbert/search_index.h"
#include "search/faiss_store.h"
#include "test_support.h"

extern char** environ;

namespace fs = std::filesystem;
using sbert::IndexManifest;
using sbert::IndexRow;
using sbert::Matrix;
using sbert::QueryOptions;
using sbert::SearchIndex;

namespace {

// Clustered gaussian data: realistic for embeddings and free of exact ties.
Matrix make_vectors(size_t n, size_t d, uint64_t seed, bool normalize = true) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g(0.f, 1.f);
  const size_t centers = 20;
  Matrix c(centers, d);
  for (auto& v : c.data) v = g(rng);
  Matrix m(n, d);
  for (size_t i = 0; i < n; ++i) {
    size_t ci = rng() % centers;
    double ss = 0;
    for (size_t j = 0; j < d; ++j) {
      m.at(i, j) = c.at(ci, j) + 0.7f * g(rng);
      ss += double(m.at(i, j)) * m.at(i, j);
    }
    if (normalize)
      for (size_t j = 0; j < d; ++j) m.at(i, j) = float(m.at(i, j) / std::sqrt(ss));
  }
  return m;
}

std::vector<IndexRow> make_rows(size_t n, size_t offset = 0) {
  std::vector<IndexRow> rows(n);
  for (size_t i = 0; i < n; ++i) {
    rows[i].id = "doc-" + std::to_string(offset + i);
    rows[i].text = "text " + std::to_string(offset + i);
    rows[i].metadata = {{"n", offset + i}};
  }
  return rows;
}

Matrix slice(const Matrix& m, size_t from, size_t to) {
  Matrix out(to - from, m.cols);
  std::copy(m.row(from), m.row(to), out.data.begin());
  return out;
}

struct Ref {
  size_t index;
  double score;
};

// Brute-force top-k in double precision: inner product, or negative L2 distance.
std::vector<Ref> brute_force(const Matrix& corpus, const float* q, size_t k, bool l2 = false) {
  std::vector<Ref> all(corpus.rows);
  for (size_t i = 0; i < corpus.rows; ++i) {
    double s = 0;
    for (size_t j = 0; j < corpus.cols; ++j) {
      double a = corpus.at(i, j), b = q[j];
      s += l2 ? (a - b) * (a - b) : a * b;
    }
    all[i] = {i, l2 ? -std::sqrt(s) : s};
  }
  std::partial_sort(all.begin(), all.begin() + std::min(k, all.size()), all.end(),
                    [](const Ref& a, const Ref& b) { return a.score > b.score; });
  all.resize(std::min(k, all.size()));
  return all;
}

IndexManifest manifest(const std::string& factory, const std::string& similarity = "cosine") {
  IndexManifest m;
  m.model = "synthetic";
  m.model_fingerprint = "h64:0000000000000001";
  m.similarity = similarity;
  m.normalized = similarity == "cosine";
  m.factory = factory;
  return m;
}

std::string id_of(size_t i) { return "doc-" + std::to_string(i); }

void expect_exact(SearchIndex& index, const Matrix& corpus, const Matrix& queries, size_t k,
                  const QueryOptions& base = {}, bool l2 = false) {
  QueryOptions opt = base;
  opt.k = k;
  auto results = index.search(queries, opt);
  ASSERT_EQ(results.size(), queries.rows);
  for (size_t qi = 0; qi < queries.rows; ++qi) {
    auto ref = brute_force(corpus, queries.row(qi), k, l2);
    ASSERT_EQ(results[qi].size(), ref.size()) << "query " << qi;
    for (size_t r = 0; r < ref.size(); ++r) {
      EXPECT_EQ(results[qi][r].id, id_of(ref[r].index)) << "query " << qi << " rank " << r;
      EXPECT_NEAR(results[qi][r].score, ref[r].score, 1e-5) << "query " << qi << " rank " << r;
      EXPECT_EQ(results[qi][r].rank, r + 1);
    }
  }
}

double recall_at(SearchIndex& index, const Matrix& corpus, const Matrix& queries, size_t k,
                 const QueryOptions& base = {}) {
  QueryOptions opt = base;
  opt.k = k;
  auto results = index.search(queries, opt);
  size_t hit = 0, total = 0;
  for (size_t qi = 0; qi < queries.rows; ++qi) {
    std::set<std::string> truth;
    for (auto& r : brute_force(corpus, queries.row(qi), k)) truth.insert(id_of(r.index));
    for (auto& h : results[qi]) hit += truth.count(h.id);
    total += truth.size();
  }
  return double(hit) / double(total);
}

using sbert::testing::error_of;

}  // namespace

TEST(SearchIndex, FlatMatchesBruteForce) {
  auto dir = sbert::testing::temp_dir("search-flat");
  Matrix corpus = make_vectors(3000, 48, 1);
  auto index = SearchIndex::build(dir / "idx", manifest("Flat"), corpus, make_rows(3000));
  EXPECT_EQ(index.manifest().rows, 3000u);
  EXPECT_EQ(index.manifest().metric, "inner_product");
  // Every corpus vector as a query: its own row first with score 1.
  expect_exact(index, corpus, corpus, 10);
  auto again = SearchIndex::open(dir / "idx");
  Matrix queries = make_vectors(50, 48, 99);
  expect_exact(again, corpus, queries, 10);
  EXPECT_EQ(again.search(slice(corpus, 7, 8), {})[0][0].text, "text 7");
  EXPECT_EQ(again.search(slice(corpus, 7, 8), {})[0][0].metadata, nlohmann::json({{"n", 7}}));
}

TEST(SearchIndex, CosineNormalisesUnnormalisedVectors) {
  auto dir = sbert::testing::temp_dir("search-cos");
  Matrix raw = make_vectors(500, 16, 2, /*normalize=*/false);
  Matrix norm = raw;
  for (size_t i = 0; i < norm.rows; ++i) {
    double ss = 0;
    for (size_t j = 0; j < norm.cols; ++j) ss += double(norm.at(i, j)) * norm.at(i, j);
    for (size_t j = 0; j < norm.cols; ++j) norm.at(i, j) = float(norm.at(i, j) / std::sqrt(ss));
  }
  auto index = SearchIndex::build(dir / "idx", manifest("Flat"), raw, make_rows(500));
  Matrix q = slice(raw, 0, 40);
  for (auto& v : q.data) v *= 3.0f;  // scale must not matter for cosine
  expect_exact(index, norm, slice(norm, 0, 40), 5);
  auto res = index.search(q, {});
  EXPECT_NEAR(res[0][0].score, 1.0, 1e-5);
}

TEST(SearchIndex, EuclideanUsesL2AndNegativeDistance) {
  auto dir = sbert::testing::temp_dir("search-l2");
  Matrix corpus = make_vectors(800, 24, 3, /*normalize=*/false);
  auto index = SearchIndex::build(dir / "idx", manifest("Flat", "euclidean"), corpus, make_rows(800));
  EXPECT_EQ(index.manifest().metric, "l2");
  EXPECT_FALSE(index.manifest().normalized);
  expect_exact(index, corpus, make_vectors(30, 24, 4, false), 10, {}, /*l2=*/true);
}

TEST(SearchIndex, HnswRecall) {
  auto dir = sbert::testing::temp_dir("search-hnsw");
  // Queries from the same distribution as the corpus (held-out rows of one draw).
  Matrix all = make_vectors(4300, 48, 5);
  Matrix corpus = slice(all, 0, 4000);
  Matrix queries = slice(all, 4000, 4300);
  auto index = SearchIndex::build(dir / "idx", manifest("HNSW32"), corpus, make_rows(4000));
  EXPECT_GE(recall_at(index, corpus, queries, 10), 0.95);
  QueryOptions opt;
  opt.ef_search = 128;
  EXPECT_GE(recall_at(index, corpus, queries, 10, opt), 0.99);
  EXPECT_FALSE(index.manifest().supports_remove);
  EXPECT_NE(error_of([&] { QueryOptions o; o.nprobe = 4; index.search(queries, o); }).find("IVF"),
            std::string::npos);
}

TEST(SearchIndex, IvfTrainsAndIsExactWithFullProbe) {
  auto dir = sbert::testing::temp_dir("search-ivf");
  Matrix corpus = make_vectors(2000, 32, 7);
  auto index = SearchIndex::build(dir / "idx", manifest("IVF16,Flat"), corpus, make_rows(2000));
  EXPECT_TRUE(index.manifest().supports_remove);
  QueryOptions opt;
  opt.nprobe = 16;
  expect_exact(index, corpus, make_vectors(40, 32, 8), 10, opt);
  EXPECT_EQ(index.info()["faiss"]["nlist"], 16);
  // A training sample works as well.
  sbert::BuildOptions b;
  b.train_sample = 300;
  auto sampled = SearchIndex::build(dir / "idx2", manifest("IVF16,PQ8"), corpus, make_rows(2000), b);
  opt.nprobe = 4;
  EXPECT_GE(recall_at(sampled, corpus, make_vectors(40, 32, 8), 10, opt), 0.3);
}

// Ties: rows with equal scores come back in insertion order, whatever the build history, and
// a tie group straddling the k-th place is decided the same way (issue: an index built in one
// go and one built then added returned different ids among tied rows).
TEST(SearchIndex, TiesGoToEarlierInsertionWhateverTheHistory) {
  auto dir = sbert::testing::temp_dir("search-ties");
  Matrix corpus = make_vectors(600, 32, 30);
  // Eight copies of one vector spread over the corpus (and over both batches below).
  const std::vector<size_t> copies = {17, 90, 233, 301, 388, 402, 517, 599};
  for (size_t c : copies) std::copy_n(corpus.row(5), 32, corpus.row(c));
  Matrix query = slice(corpus, 5, 6);
  for (std::string factory : {"Flat", "IVF4,Flat", "HNSW16"}) {
    auto whole = SearchIndex::build(dir / ("whole" + factory), manifest(factory), corpus, make_rows(600));
    auto inc = SearchIndex::build(dir / ("inc" + factory), manifest(factory), slice(corpus, 0, 350),
                                  make_rows(350));
    inc.add(slice(corpus, 350, 450), make_rows(100, 350));
    inc.add(slice(corpus, 450, 600), make_rows(150, 450));
    for (size_t k : {1, 3, 5, 9, 12}) {
      QueryOptions opt;
      opt.k = k;
      if (factory != "Flat" && factory != "HNSW16") opt.nprobe = 4;  // equal candidate sets
      auto a = whole.search(query, opt)[0];
      auto b = inc.search(query, opt)[0];
      ASSERT_EQ(a.size(), k) << factory;
      ASSERT_EQ(b.size(), k) << factory;
      // Row 5 and its copies tie at the top: in insertion order.
      std::vector<std::string> expected = {id_of(5)};
      for (size_t c : copies) expected.push_back(id_of(c));
      for (size_t r = 0; r < std::min<size_t>(k, 9); ++r) {
        EXPECT_EQ(a[r].id, expected[r]) << factory << " k=" << k << " rank " << r;
        EXPECT_EQ(b[r].id, expected[r]) << factory << " k=" << k << " rank " << r;
        EXPECT_EQ(a[r].score, a[0].score) << factory;  // bit-identical scores for equal vectors
      }
      for (size_t r = 0; r < k; ++r) {
        EXPECT_EQ(a[r].id, b[r].id) << factory << " k=" << k << " rank " << r;
        EXPECT_EQ(a[r].score, b[r].score) << factory << " k=" << k << " rank " << r;
      }
    }
  }
}

TEST(SearchIndex, TiesAfterRemoveAndUpsertFollowInsertionOrder) {
  auto dir = sbert::testing::temp_dir("search-ties-upsert");
  Matrix corpus = make_vectors(100, 16, 31);
  for (size_t c : {20, 40, 60}) std::copy_n(corpus.row(0), 16, corpus.row(c));
  auto index = SearchIndex::build(dir / "idx", manifest("Flat"), corpus, make_rows(100));
  // Re-inserting doc-0 (upsert) makes it the newest copy: it now loses ties to 20, 40, 60.
  EXPECT_EQ(index.add(slice(corpus, 0, 1), make_rows(1, 0), /*upsert=*/true), 1u);  // replaced count
  QueryOptions opt;
  opt.k = 4;
  auto hits = index.search(slice(corpus, 0, 1), opt)[0];
  ASSERT_EQ(hits.size(), 4u);
  EXPECT_EQ(hits[0].id, id_of(20));
  EXPECT_EQ(hits[1].id, id_of(40));
  EXPECT_EQ(hits[2].id, id_of(60));
  EXPECT_EQ(hits[3].id, id_of(0));
  index.remove({id_of(40)});
  opt.k = 2;
  hits = index.search(slice(corpus, 0, 1), opt)[0];
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0].id, id_of(20));
  EXPECT_EQ(hits[1].id, id_of(60));
}

// An IVF index probed with nprobe 1 can hold fewer than k rows in the probed list: the search
// widens until it has k rows, and says so in the report.
TEST(SearchIndex, IvfReturnsKRowsWhenTheProbedListIsShort) {
  auto dir = sbert::testing::temp_dir("search-ivf-short");
  Matrix corpus = make_vectors(400, 16, 32);
  auto index = SearchIndex::build(dir / "idx", manifest("IVF32,Flat"), corpus, make_rows(400));
  QueryOptions opt;
  opt.k = 60;  // more than any single list of 400 rows over 32 lists holds
  sbert::QueryReport report;
  auto results = index.search(make_vectors(5, 16, 33), opt, &report);
  for (auto& hits : results) {
    ASSERT_EQ(hits.size(), 60u);
    std::set<std::string> ids;
    for (size_t r = 0; r < hits.size(); ++r) {
      ids.insert(hits[r].id);
      if (r) EXPECT_GE(hits[r - 1].score, hits[r].score);
    }
    EXPECT_EQ(ids.size(), 60u);
  }
  EXPECT_TRUE(report.widened);
  EXPECT_GT(report.nprobe_used, 1u);
}

TEST(SearchIndex, TooFewTrainingPointsIsAClearError) {
  auto dir = sbert::testing::temp_dir("search-train");
  Matrix corpus = make_vectors(100, 32, 9);
  auto msg = error_of([&] { SearchIndex::build(dir / "a", manifest("IVF1024,Flat"), corpus, make_rows(100)); });
  EXPECT_NE(msg.find("at least 1024 training vectors, got 100"), std::string::npos) << msg;
  msg = error_of([&] { SearchIndex::build(dir / "b", manifest("IVF4,PQ8"), corpus, make_rows(100)); });
  EXPECT_NE(msg.find("at least 256"), std::string::npos) << msg;
  sbert::BuildOptions b;
  b.train_sample = 3;
  msg = error_of([&] { SearchIndex::build(dir / "c", manifest("IVF4,Flat"), corpus, make_rows(100), b); });
  EXPECT_NE(msg.find("at least 4 training vectors, got 3"), std::string::npos) << msg;
  msg = error_of([&] { SearchIndex::build(dir / "d", manifest("IVF4,PQ7"), corpus, make_rows(100)); });
  EXPECT_NE(msg.find("invalid index factory 'IVF4,PQ7' for dimension 32"), std::string::npos) << msg;
  msg = error_of([&] { SearchIndex::build(dir / "e", manifest("Bogus99"), corpus, make_rows(100)); });
  EXPECT_NE(msg.find("invalid index factory 'Bogus99'"), std::string::npos) << msg;
  // Nothing half-built was left to be opened.
  EXPECT_NE(error_of([&] { SearchIndex::open(dir / "a"); }).find("manifest.json"), std::string::npos);
}

TEST(SearchIndex, BuildThenAddEqualsSingleBuild) {
  auto dir = sbert::testing::temp_dir("search-add");
  Matrix corpus = make_vectors(1500, 32, 10);
  Matrix queries = make_vectors(60, 32, 11);
  for (std::string factory : {"Flat", "IVF8,Flat"}) {
    auto whole = SearchIndex::build(dir / ("whole" + factory), manifest(factory), corpus, make_rows(1500));
    auto inc = SearchIndex::build(dir / ("inc" + factory), manifest(factory), slice(corpus, 0, 900),
                                  make_rows(900));
    inc.add(slice(corpus, 900, 1200), make_rows(300, 900));
    auto reopened = SearchIndex::open(dir / ("inc" + factory));
    reopened.add(slice(corpus, 1200, 1500), make_rows(300, 1200));
    EXPECT_EQ(reopened.manifest().rows, 1500u);
    EXPECT_EQ(reopened.manifest().generation, 3u);
    QueryOptions opt;
    opt.k = 10;
    if (factory != "Flat") opt.nprobe = 8;
    auto a = whole.search(queries, opt);
    auto b = reopened.search(queries, opt);
    for (size_t q = 0; q < queries.rows; ++q) {
      ASSERT_EQ(a[q].size(), b[q].size());
      for (size_t r = 0; r < a[q].size(); ++r) {
        EXPECT_EQ(a[q][r].id, b[q][r].id) << factory << " q" << q << " r" << r;
        EXPECT_NEAR(a[q][r].score, b[q][r].score, 1e-6);
      }
    }
    expect_exact(reopened, corpus, queries, 10, opt);
    // Old generations are cleaned up.
    size_t faiss_files = 0;
    for (auto& e : fs::directory_iterator(dir / ("inc" + factory)))
      faiss_files += e.path().extension() == ".faiss";
    EXPECT_EQ(faiss_files, 1u);
  }
}

TEST(SearchIndex, DuplicateIdsAndUpsert) {
  auto dir = sbert::testing::temp_dir("search-dup");
  Matrix corpus = make_vectors(200, 16, 12);
  for (std::string factory : {"Flat", "HNSW16"}) {
    auto index = SearchIndex::build(dir / factory, manifest(factory), slice(corpus, 0, 100), make_rows(100));
    auto msg = error_of([&] { index.add(slice(corpus, 100, 101), make_rows(1, 5)); });
    EXPECT_NE(msg.find("id 'doc-5' is already in the index"), std::string::npos) << msg;
    auto dup = make_rows(2, 150);
    dup[1].id = dup[0].id;
    msg = error_of([&] { index.add(slice(corpus, 150, 152), dup); });
    EXPECT_NE(msg.find("duplicate id 'doc-150'"), std::string::npos) << msg;
    EXPECT_EQ(SearchIndex::open(dir / factory).manifest().generation, 1u);  // nothing written
    EXPECT_EQ(index.manifest().rows, 100u);
    // Upsert doc-5 with the vector of row 150: querying that vector finds doc-5 at score 1,
    // and the old vector of doc-5 no longer finds doc-5.
    auto rows = make_rows(1, 5);
    rows[0].text = "replaced";
    index.add(slice(corpus, 150, 151), rows, /*upsert=*/true);
    EXPECT_EQ(index.manifest().rows, 100u);
    auto hits = index.search(slice(corpus, 150, 151), {});
    EXPECT_EQ(hits[0][0].id, "doc-5");
    EXPECT_EQ(hits[0][0].text, "replaced");
    EXPECT_NEAR(hits[0][0].score, 1.0, 1e-5);
    QueryOptions all;
    all.k = 100;
    auto old_hits = SearchIndex::open(dir / factory).search(slice(corpus, 5, 6), all)[0];
    // HNSW is approximate: with k near the index size it may return fewer rows than k.
    if (factory == "Flat") EXPECT_EQ(old_hits.size(), 100u) << factory;
    EXPECT_GE(old_hits.size(), 50u) << factory;
    std::set<std::string> ids;
    for (auto& h : old_hits) ids.insert(h.id);
    EXPECT_EQ(ids.size(), old_hits.size());  // each live row at most once: stale vectors never returned
    EXPECT_NE(old_hits[0].id, "doc-5");
  }
}

TEST(SearchIndex, RemoveFlatAndHnswTombstones) {
  auto dir = sbert::testing::temp_dir("search-rm");
  Matrix corpus = make_vectors(300, 16, 13);
  for (std::string factory : {"Flat", "IVF4,Flat", "HNSW16"}) {
    auto index = SearchIndex::build(dir / factory, manifest(factory), corpus, make_rows(300));
    EXPECT_EQ(index.remove({"doc-3", "doc-4"}), 2u);
    EXPECT_NE(error_of([&] { index.remove({"nope"}); }).find("id 'nope' is not in the index"),
              std::string::npos);
    EXPECT_EQ(index.remove({"nope", "doc-7"}, /*ignore_missing=*/true), 1u);
    auto reopened = SearchIndex::open(dir / factory);
    EXPECT_EQ(reopened.manifest().rows, 297u);
    bool tomb = factory == "HNSW16";
    EXPECT_EQ(reopened.manifest().vectors, tomb ? 300u : 297u) << factory;
    EXPECT_EQ(reopened.info()["deleted_pending"], tomb ? 3 : 0);
    QueryOptions opt;
    opt.k = 1000;  // clamped to the 297 live rows
    if (factory == "IVF4,Flat") opt.nprobe = 4;
    sbert::QueryReport report;
    auto hits = reopened.search(slice(corpus, 3, 4), opt, &report)[0];
    EXPECT_EQ(report.k_effective, 297u);
    if (!tomb) EXPECT_EQ(hits.size(), 297u) << factory;
    EXPECT_GE(hits.size(), 50u) << factory;
    for (auto& h : hits) EXPECT_TRUE(h.id != "doc-3" && h.id != "doc-4" && h.id != "doc-7");
    EXPECT_FALSE(reopened.row("doc-3"));
    ASSERT_TRUE(reopened.row("doc-2"));
    EXPECT_EQ(reopened.row("doc-2")->text, "text 2");
    // Re-adding a removed id works.
    reopened.add(slice(corpus, 3, 4), make_rows(1, 3));
    EXPECT_EQ(reopened.search(slice(corpus, 3, 4), {})[0][0].id, "doc-3");
  }
}

TEST(SearchIndex, QueryOptions) {
  auto dir = sbert::testing::temp_dir("search-opts");
  Matrix corpus = make_vectors(50, 8, 14);
  auto index = SearchIndex::build(dir / "idx", manifest("Flat"), corpus, make_rows(50));
  QueryOptions opt;
  opt.k = 50;
  opt.min_score = 0.5f;
  auto hits = index.search(slice(corpus, 0, 1), opt)[0];
  auto ref = brute_force(corpus, corpus.row(0), 50);
  size_t expected = std::count_if(ref.begin(), ref.end(), [](const Ref& r) { return r.score >= 0.5; });
  EXPECT_EQ(hits.size(), expected);
  EXPECT_GT(expected, 0u);
  EXPECT_LT(expected, 50u);
  opt.k = 0;
  EXPECT_NE(error_of([&] { index.search(corpus, opt); }).find("k must be at least 1"), std::string::npos);
  opt.k = 5;
  opt.min_score.reset();
  opt.ef_search = 10;
  EXPECT_NE(error_of([&] { index.search(corpus, opt); }).find("HNSW"), std::string::npos);
  EXPECT_NE(error_of([&] { index.search(make_vectors(2, 9, 1), {}); }).find("dimension mismatch"),
            std::string::npos);
  EXPECT_NE(error_of([&] { index.add(make_vectors(2, 9, 1), make_rows(2, 100)); }).find("dimension mismatch"),
            std::string::npos);
  // Reranking re-sorts by the reranker's scores.
  auto top = index.search(slice(corpus, 0, 1), {})[0];
  SearchIndex::rerank("q", top, [](const std::string&, const std::vector<std::string>& texts) {
    std::vector<float> s;
    for (auto& t : texts) s.push_back(-float(std::stoi(t.substr(5))));  // "text N" -> -N
    return s;
  });
  for (size_t i = 1; i < top.size(); ++i) {
    EXPECT_LT(std::stoi(top[i - 1].text.substr(5)), std::stoi(top[i].text.substr(5)));
    EXPECT_EQ(top[i].rank, i + 1);
  }
}

TEST(SearchIndex, BadInput) {
  auto dir = sbert::testing::temp_dir("search-bad");
  Matrix corpus = make_vectors(100, 8, 15);
  EXPECT_NE(error_of([&] { SearchIndex::open(dir / "missing"); }).find("index folder not found"),
            std::string::npos);
  EXPECT_NE(error_of([&] { SearchIndex::build(dir / "e", manifest("Flat"), Matrix(0, 8), {}); })
                .find("empty corpus"),
            std::string::npos);
  EXPECT_NE(error_of([&] { SearchIndex::build(dir / "m", manifest("Flat", "manhattan"), corpus, make_rows(100)); })
                .find("manhattan"),
            std::string::npos);
  auto nan = corpus;
  nan.at(3, 2) = NAN;
  EXPECT_NE(error_of([&] { SearchIndex::build(dir / "n", manifest("Flat"), nan, make_rows(100)); })
                .find("vector 3 has a non-finite value"),
            std::string::npos);
  // A folder with other files is not clobbered; an existing index is not overwritten silently.
  fs::create_directories(dir / "other");
  sbert::testing::write_file(dir / "other" / "notes.txt", "keep me");
  EXPECT_NE(error_of([&] { SearchIndex::build(dir / "other", manifest("Flat"), corpus, make_rows(100)); })
                .find("not empty and not an sbert index"),
            std::string::npos);
  EXPECT_EQ(sbert::testing::read_file(dir / "other" / "notes.txt"), "keep me");
  SearchIndex::build(dir / "idx", manifest("Flat"), corpus, make_rows(100));
  EXPECT_NE(error_of([&] { SearchIndex::build(dir / "idx", manifest("Flat"), corpus, make_rows(100)); })
                .find("already holds an index"),
            std::string::npos);
  sbert::BuildOptions ow;
  ow.overwrite = true;
  auto rebuilt = SearchIndex::build(dir / "idx", manifest("HNSW16"), slice(corpus, 0, 60), make_rows(60), ow);
  EXPECT_EQ(SearchIndex::open(dir / "idx").manifest().rows, 60u);
  EXPECT_EQ(SearchIndex::open(dir / "idx").manifest().factory, "HNSW16");

  // Corrupted and truncated FAISS files name the file; the rows database too.
  auto faiss_file = dir / "idx" / ("index." + std::to_string(rebuilt.manifest().generation) + ".faiss");
  std::string good = sbert::testing::read_file(faiss_file);
  sbert::testing::write_file(faiss_file, "garbage garbage garbage");
  auto msg = error_of([&] { SearchIndex::open(dir / "idx"); });
  EXPECT_NE(msg.find(faiss_file.string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("corrupted"), std::string::npos) << msg;
  sbert::testing::write_file(faiss_file, good.substr(0, good.size() / 2));
  msg = error_of([&] { SearchIndex::open(dir / "idx"); });
  EXPECT_NE(msg.find(faiss_file.string()), std::string::npos) << msg;
  sbert::testing::write_file(faiss_file, good);
  EXPECT_EQ(SearchIndex::open(dir / "idx").manifest().rows, 60u);
  auto rows_file = dir / "idx" / ("rows." + std::to_string(rebuilt.manifest().generation) + ".sqlite");
  std::string good_rows = sbert::testing::read_file(rows_file);
  sbert::testing::write_file(rows_file, std::string(4096, 'x'));
  msg = error_of([&] { SearchIndex::open(dir / "idx"); });
  EXPECT_NE(msg.find(rows_file.string()), std::string::npos) << msg;
  sbert::testing::write_file(rows_file, good_rows);
  sbert::testing::write_file(dir / "idx" / "manifest.json", "{not json");
  msg = error_of([&] { SearchIndex::open(dir / "idx"); });
  EXPECT_NE(msg.find("manifest.json: invalid JSON"), std::string::npos) << msg;
}

TEST(SearchIndex, ModelFingerprint) {
  auto dir = sbert::testing::temp_dir("search-fp");
  fs::create_directories(dir / "a" / "1_Pooling");
  sbert::testing::write_file(dir / "a" / "config.json", "{\"hidden_size\": 8}");
  sbert::testing::write_file(dir / "a" / "model.safetensors", std::string(100000, '\1'));
  sbert::testing::write_file(dir / "a" / "1_Pooling" / "config.json", "{}");
  sbert::testing::write_file(dir / "a" / "README.md", "docs");
  fs::copy(dir / "a", dir / "b", fs::copy_options::recursive);
  std::string fa = sbert::model_fingerprint(dir / "a");
  EXPECT_EQ(fa.rfind("h64:", 0), 0u);
  EXPECT_EQ(fa.size(), 20u);
  EXPECT_EQ(sbert::model_fingerprint(dir / "b"), fa);  // content, not location or mtime
  sbert::testing::write_file(dir / "b" / "README.md", "other docs");
  EXPECT_EQ(sbert::model_fingerprint(dir / "b"), fa);  // docs do not count
  std::string w(100000, '\1');
  w[50000] = '\2';
  sbert::testing::write_file(dir / "b" / "model.safetensors", w);
  EXPECT_NE(sbert::model_fingerprint(dir / "b"), fa);  // same size, one byte differs
  EXPECT_NE(error_of([&] { sbert::model_fingerprint(dir / "none"); }).find("model folder not found"),
            std::string::npos);

  Matrix corpus = make_vectors(20, 8, 16);
  auto m = manifest("Flat");
  m.model_fingerprint = fa;
  m.model = (dir / "a").string();
  auto index = SearchIndex::build(dir / "idx", m, corpus, make_rows(20));
  EXPECT_NO_THROW(index.check_model(fa, "a"));
  auto msg = error_of([&] { index.check_model(sbert::model_fingerprint(dir / "b"), "b"); });
  EXPECT_NE(msg.find("is not the model index"), std::string::npos) << msg;
}

// ---------------------------------------------------------------- kill -9 during writes

namespace {

constexpr size_t kKillDim = 32;

// Runs this test binary again as a child that performs writes (see KillChild below).
pid_t spawn_child(const fs::path& dir, const std::string& mode) {
  std::string self = fs::read_symlink("/proc/self/exe").string();
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);
  env_strings.push_back("SBERT_SEARCH_KILL_DIR=" + dir.string());
  env_strings.push_back("SBERT_SEARCH_KILL_MODE=" + mode);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<char*> argv = {self.data(), nullptr};
  std::string log = (dir.parent_path() / ("child-" + mode + ".log")).string();
  pid_t pid = -1;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  int rc = posix_spawn(&pid, self.c_str(), &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  EXPECT_EQ(rc, 0);
  return pid;
}

}  // namespace

// The child side of the kill -9 tests: runs before main() when spawned by them (and is not a
// test of its own, so ctest lists nothing that "did not run").
namespace {
void kill_child_main(const char* dir, const std::string& m) {
  auto index = SearchIndex::open(dir);
  if (m == "loop") {
    // Adds batches forever until the parent kills us.
    for (size_t b = 0;; ++b) {
      size_t start = index.manifest().rows;
      index.add(make_vectors(2000, kKillDim, 1000 + b), make_rows(2000, start));
    }
  }
  // Kill ourselves (SIGKILL: no cleanup, no destructors) at a named stage of one add.
  index.set_write_hook([m](const std::string& stage) {
    if (stage == m) ::kill(::getpid(), SIGKILL);
  });
  index.add(make_vectors(500, kKillDim, 77), make_rows(500, index.manifest().rows));
}

struct KillChild {
  KillChild() {
    const char* dir = std::getenv("SBERT_SEARCH_KILL_DIR");
    const char* mode = std::getenv("SBERT_SEARCH_KILL_MODE");
    if (!dir || !mode) return;
    try {
      kill_child_main(dir, mode);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "kill child: %s\n", e.what());
      std::_Exit(3);
    }
    std::_Exit(0);
  }
} kill_child;
}  // namespace

TEST(SearchIndexKill, KillAtEachStageOfAnAdd) {
  auto root = sbert::testing::temp_dir("search-kill");
  Matrix corpus = make_vectors(1000, kKillDim, 20);
  for (std::string stage : {"rows_written", "faiss_written", "before_commit", "committed"}) {
    fs::path dir = root / stage;
    SearchIndex::build(dir, manifest("HNSW16"), corpus, make_rows(1000));
    pid_t pid = spawn_child(dir, stage);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << stage << " status " << status;
    EXPECT_EQ(WTERMSIG(status), SIGKILL);
    auto index = SearchIndex::open(dir);
    size_t expected = stage == "committed" ? 1500u : 1000u;
    EXPECT_EQ(index.manifest().rows, expected) << stage;
    auto hits = index.search(slice(corpus, 10, 11), {})[0];
    ASSERT_FALSE(hits.empty());
    EXPECT_EQ(hits[0].id, "doc-10");
    // The next writer cleans up and works.
    index.add(make_vectors(10, kKillDim, 5), make_rows(10, 5000));
    EXPECT_EQ(SearchIndex::open(dir).manifest().rows, expected + 10);
    size_t faiss_files = 0;
    for (auto& e : fs::directory_iterator(dir)) faiss_files += e.path().extension() == ".faiss";
    EXPECT_EQ(faiss_files, 1u) << stage;
  }
}

TEST(SearchIndexKill, KillAtRandomTimesDuringAdds) {
  auto dir = sbert::testing::temp_dir("search-kill-rand") / "idx";
  Matrix corpus = make_vectors(2000, kKillDim, 21);
  SearchIndex::build(dir, manifest("Flat"), corpus, make_rows(2000));
  std::mt19937 rng(42);
  size_t interrupted = 0;  // kills that left a half-written generation behind
  for (int trial = 0; trial < 6; ++trial) {
    pid_t pid = spawn_child(dir, "loop");
    std::this_thread::sleep_for(std::chrono::milliseconds(150 + rng() % 400));
    ::kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFSIGNALED(status));
    size_t files = 0;
    for (auto& e : fs::directory_iterator(dir)) files += e.path().filename() != "lock";
    interrupted += files > 3;  // more than manifest + one generation's two files
    auto index = SearchIndex::open(dir);
    EXPECT_EQ(index.manifest().rows % 2000, 0u);
    EXPECT_EQ(index.manifest().vectors, index.manifest().rows);
    auto hits = index.search(slice(corpus, 0, 1), {})[0];
    ASSERT_FALSE(hits.empty());
    EXPECT_EQ(hits[0].id, "doc-0");
    EXPECT_NEAR(hits[0].score, 1.0, 1e-5);
  }
  EXPECT_GT(SearchIndex::open(dir).manifest().rows, 2000u);  // the children did commit adds
  std::cout << "[ info ] " << interrupted << " of 6 kills landed in the middle of a write\n";
}

// A manifest counter written as a float (1.2e27 vectors: found by search_manifest_fuzz, where
// nlohmann's get<size_t>() was an undefined cast) or as a negative number is a one-line error.
TEST(SearchIndex, ManifestCountsMustBeIntegers) {
  IndexManifest m = manifest("Flat");
  m.dimension = 8;
  m.metric = "inner_product";
  const nlohmann::json good = m.to_json();
  EXPECT_EQ(IndexManifest::from_json(good, "manifest.json").dimension, 8u);
  for (const char* key : {"vectors", "rows", "dimension", "generation"}) {
    for (const nlohmann::json& bad : {nlohmann::json(1.2e27), nlohmann::json(-3), nlohmann::json(2.5)}) {
      nlohmann::json j = good;
      j[key] = bad;
      const std::string msg = sbert::testing::error_of([&] { IndexManifest::from_json(j, "manifest.json"); });
      EXPECT_NE(msg.find(std::string("manifest.json: field \"") + key + "\" must be an integer"), std::string::npos)
          << key << "=" << bad.dump() << ": " << msg;
    }
  }
}

// Issue 32 #10: a FAISS file whose header lies about its size is refused from the header, before
// FAISS sizes anything from it (FAISS's own reader allocated > 20 GB for ntotal = 2^60 in the
// id map's header). The open runs in a child process under a 4 GiB address-space limit, so a
// regression fails (bad_alloc, a different message) instead of eating the machine's memory.
namespace {

void patch_i64(const fs::path& file, size_t offset, int64_t value) {
  std::string b = sbert::testing::read_file(file);
  ASSERT_GE(b.size(), offset + 8);
  std::memcpy(b.data() + offset, &value, 8);
  sbert::testing::write_file(file, b);
}

void set_manifest_vectors(const fs::path& dir, uint64_t vectors) {
  nlohmann::json j = sbert::testing::load_json(dir / "manifest.json");
  j["vectors"] = vectors;
  sbert::testing::write_file(dir / "manifest.json", j.dump(2));
}

// The error of SearchIndex::open(dir), run in a child with bounded memory ("" when it opens).
std::string open_error_bounded(const fs::path& dir) {
  fs::path msg_file = dir.parent_path() / (dir.filename().string() + ".err");
  fs::remove(msg_file);
  const pid_t pid = fork();
  if (pid == 0) {
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SBERT_TEST_ASAN 1
#endif
#endif
#if !defined(__SANITIZE_ADDRESS__) && !defined(SBERT_TEST_ASAN)  // ASan's shadow memory needs the address space
    struct rlimit lim = {size_t{4} << 30, size_t{4} << 30};
    setrlimit(RLIMIT_AS, &lim);
#endif
    std::string what;
    try {
      SearchIndex::open(dir);
    } catch (const std::exception& e) {
      what = e.what();
    }
    std::FILE* f = std::fopen(msg_file.c_str(), "w");
    if (f) {
      std::fputs(what.c_str(), f);
      std::fclose(f);
    }
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return fs::exists(msg_file) ? sbert::testing::read_file(msg_file) : "<child died>";
}

}  // namespace

TEST(SearchIndex, FaissHeadersThatLieAreRefusedBeforeReading) {
  fs::path dir = sbert::testing::temp_dir("search-faiss-lies");
  Matrix corpus = make_vectors(20, 8, 5);
  SearchIndex::build(dir / "clean", manifest("Flat"), corpus, make_rows(20));
  const fs::path faiss_file = dir / "clean" / "index.1.faiss";
  // Layout: "IxM2", int32 d, int64 ntotal (offset 8), 2 x int64, bool, int32 metric (= 37 bytes);
  // then the flat index inside: "IxFI", d, ntotal (offset 45), ...
  const int64_t huge = int64_t{1} << 60;
  auto variant = [&](const std::string& name) {
    fs::copy(dir / "clean", dir / name);
    return dir / name;
  };
  {
    const fs::path d = variant("outer-and-manifest");  // what made FAISS allocate without end
    patch_i64(d / "index.1.faiss", 8, huge);
    set_manifest_vectors(d, uint64_t(huge));
    const std::string e = open_error_bounded(d);
    EXPECT_NE(e.find((d / "index.1.faiss").string() + ": corrupted FAISS index: the id map holds 1152921504606846976 vectors"),
              std::string::npos) << e;
  }
  {
    const fs::path d = variant("header-only");  // the manifest still says 20
    patch_i64(d / "index.1.faiss", 8, huge);
    patch_i64(d / "index.1.faiss", 45, huge);
    const std::string e = open_error_bounded(d);
    EXPECT_NE(e.find("its header claims 1152921504606846976 vectors, the manifest says 20"), std::string::npos) << e;
  }
  {
    const fs::path d = variant("both-headers-and-manifest");  // consistent lies: the file size tells
    patch_i64(d / "index.1.faiss", 8, huge);
    patch_i64(d / "index.1.faiss", 45, huge);
    set_manifest_vectors(d, uint64_t(huge));
    const std::string e = open_error_bounded(d);
    EXPECT_NE(e.find("claims 1152921504606846976 vectors (at least 40 bytes each), but the file has"), std::string::npos)
        << e;
  }
  EXPECT_EQ(open_error_bounded(dir / "clean"), "");
}

TEST(SearchIndex, FaissHeaderCheckOnBytes) {
  using sbert::search::check_index_header;
  fs::path dir = sbert::testing::temp_dir("search-faiss-head");
  SearchIndex::build(dir / "ivf", manifest("IVF4,Flat"), make_vectors(200, 8, 9), make_rows(200));
  const std::string ivf = sbert::testing::read_file(dir / "ivf" / "index.1.faiss");
  auto h = check_index_header(ivf, ivf.size(), 200, 8, "i");
  EXPECT_EQ(h.fourcc.substr(0, 2), "Iw");
  EXPECT_EQ(h.ntotal, 200);
  EXPECT_EQ(h.dimension, 8);
  auto err = [&](std::string bytes, std::optional<size_t> vectors, size_t dim) {
    return sbert::testing::error_of([&] { check_index_header(bytes, bytes.size(), vectors, dim, "i.faiss"); });
  };
  EXPECT_NE(err(ivf, 199, 8).find("claims 200 vectors, the manifest says 199"), std::string::npos);
  EXPECT_NE(err(ivf, 200, 16).find("dimension 8, the manifest says 16"), std::string::npos);
  EXPECT_NE(err(ivf.substr(0, 20), std::nullopt, 0).find("truncated header"), std::string::npos);
  EXPECT_NE(err("", std::nullopt, 0).find("i.faiss: corrupted FAISS index"), std::string::npos);
  std::string neg = ivf;
  const int64_t minus = -5;
  std::memcpy(neg.data() + 8, &minus, 8);
  EXPECT_NE(err(neg, std::nullopt, 0).find("negative vector count -5"), std::string::npos);
  // 200 ids of 8 bytes do not fit in 1,000 bytes, whatever the rest says.
  EXPECT_NE(sbert::testing::error_of([&] { check_index_header(ivf, 1000, 200, 8, "i"); }).find("but the file has 1000 bytes"),
            std::string::npos);
}
