// Search benchmark: build and query throughput and recall@k (against exact brute force) for
// several FAISS factories, on STS-B sentences embedded with a model, or on synthetic vectors.
// Prints one JSON object.
//   bench_search --model DIR --stsb stsb-test.csv [--factories Flat,HNSW32,IVF64,Flat]
//   bench_search --synthetic 100000 --dim 384 --queries 1000
#include <CLI/CLI.hpp>

#include "sts_data.h"
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <set>
#include <sstream>

#include "sbert/encoder.h"
#include "sbert/search_index.h"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

static double secs(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

static sbert::Matrix synthetic(size_t n, size_t d, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g;
  const size_t centers = 100;
  sbert::Matrix c(centers, d);
  for (auto& v : c.data) v = g(rng);
  sbert::Matrix m(n, d);
  for (size_t i = 0; i < n; ++i) {
    size_t ci = rng() % centers;
    double ss = 0;
    for (size_t j = 0; j < d; ++j) {
      m.at(i, j) = c.at(ci, j) + 0.7f * g(rng);
      ss += double(m.at(i, j)) * m.at(i, j);
    }
    for (size_t j = 0; j < d; ++j) m.at(i, j) = float(m.at(i, j) / std::sqrt(ss));
  }
  return m;
}

int main(int argc, char** argv) {
  CLI::App app{"sbert search benchmark"};
  std::string model, stsb, factories = "Flat,HNSW32,IVF64,Flat";
  size_t synthetic_rows = 0, dim = 384, nqueries = 0, k = 10, ef = 0, nprobe = 8;
  app.add_option("--model", model, "Model folder (with --stsb)");
  app.add_option("--stsb", stsb, "STS-B tsv (sentences in columns 5 and 6)");
  app.add_option("--synthetic", synthetic_rows, "Use N synthetic normalised vectors instead");
  app.add_option("--dim", dim, "Synthetic dimension");
  app.add_option("--queries", nqueries, "Queries (default: every sentence / 1000 synthetic)");
  app.add_option("--factories", factories, "Comma-separated list; IVF lists separated by ';' if needed");
  app.add_option("-k", k, "k");
  app.add_option("--ef-search", ef, "HNSW efSearch (0: FAISS default 16)");
  app.add_option("--nprobe", nprobe, "IVF nprobe");
  CLI11_PARSE(app, argc, argv);

  nlohmann::json report;
  sbert::Matrix corpus, queries;
  if (synthetic_rows) {
    sbert::Matrix all = synthetic(synthetic_rows + (nqueries ? nqueries : 1000), dim, 7);
    corpus = sbert::Matrix(synthetic_rows, dim);
    std::copy_n(all.data.begin(), corpus.data.size(), corpus.data.begin());
    queries = sbert::Matrix(all.rows - synthetic_rows, dim);
    std::copy(all.data.begin() + corpus.data.size(), all.data.end(), queries.data.begin());
    report["data"] = "synthetic";
  } else {
    auto texts = sbert::bench::sts_sentences(stsb, false);
    auto t0 = Clock::now();
    auto enc = sbert::SentenceEncoder::load(model);
    corpus = enc->encode(texts);
    double s = secs(t0);
    report["data"] = "stsb-test";
    report["embed"] = {{"texts", texts.size()}, {"seconds", s}, {"texts_per_s", texts.size() / s}};
    size_t nq = nqueries ? std::min(nqueries, corpus.rows) : corpus.rows;
    queries = sbert::Matrix(nq, corpus.cols);
    std::copy_n(corpus.data.begin(), queries.data.size(), queries.data.begin());
  }
  report["rows"] = corpus.rows;
  report["dimension"] = corpus.cols;
  report["queries"] = queries.rows;
  report["k"] = k;

  std::vector<sbert::IndexRow> rows(corpus.rows);
  for (size_t i = 0; i < rows.size(); ++i) rows[i].id = std::to_string(i);
  fs::path tmp = fs::temp_directory_path() / ("sbert-bench-search-" + std::to_string(::getpid()));
  std::vector<std::set<std::string>> truth;
  std::string spec = factories;
  // Factories are separated by ',' unless a known index part follows (IVF64,Flat is one).
  std::vector<std::string> list;
  {
    std::stringstream ss(spec);
    std::string part;
    while (std::getline(ss, part, ',')) {
      bool continuation = !list.empty() && list.back().rfind("IVF", 0) == 0 &&
                          list.back().find(',') == std::string::npos &&
                          (part == "Flat" || part.rfind("PQ", 0) == 0 || part.rfind("SQ", 0) == 0);
      if (continuation) list.back() += "," + part;
      else list.push_back(part);
    }
  }
  for (const auto& factory : list) {
    fs::remove_all(tmp);
    sbert::IndexManifest m;
    m.model = model.empty() ? "synthetic" : model;
    m.model_fingerprint = "bench";
    m.factory = factory;
    auto t0 = Clock::now();
    auto index = sbert::SearchIndex::build(tmp, m, corpus, rows);
    double build_s = secs(t0);
    sbert::QueryOptions qo;
    qo.k = k;
    if (factory.rfind("IVF", 0) == 0) qo.nprobe = nprobe;
    if (factory.rfind("HNSW", 0) == 0) qo.ef_search = ef;
    t0 = Clock::now();
    auto res = index.search(queries, qo);
    double query_s = secs(t0);
    nlohmann::json r = {{"factory", factory},
                        {"build_s", build_s},
                        {"build_rows_per_s", corpus.rows / build_s},
                        {"query_s", query_s},
                        {"queries_per_s", queries.rows / query_s}};
    if (qo.nprobe) r["nprobe"] = qo.nprobe;
    if (qo.ef_search) r["ef_search"] = qo.ef_search;
    if (factory == "Flat") {
      truth.clear();
      for (auto& hits : res) {
        std::set<std::string> s;
        for (auto& h : hits) s.insert(h.id);
        truth.push_back(std::move(s));
      }
    } else if (!truth.empty()) {
      size_t hit = 0;
      for (size_t q = 0; q < res.size(); ++q)
        for (auto& h : res[q]) hit += truth[q].count(h.id);
      r["recall_at_k_vs_flat"] = double(hit) / double(res.size() * k);
    }
    report["indexes"].push_back(r);
  }
  fs::remove_all(tmp);
  std::cout << report.dump(2) << "\n";
  return 0;
}
