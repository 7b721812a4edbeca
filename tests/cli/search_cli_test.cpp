// End-to-end tests of `sbert search`: STS-B exactness (Flat) and recall (HNSW32) against a
// brute force computed here from the library's embeddings, incremental adds, refusals, and
// cross-encoder reranking against the golden order.
#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>

#include "sbert/encoder.h"
#include "sbert/search_index.h"
#include "../tools/bench/sts_data.h"
#include "cli_support.h"
#include "test_support.h"

namespace fs = std::filesystem;
using sbert::testing::parse_jsonl;
using sbert::testing::quote;
using sbert::testing::run_sbert;
using sbert::testing::sbert_bin;
using sbert::testing::read_file;
using sbert::testing::run_command;
using sbert::testing::temp_dir;
using sbert::testing::write_file;

namespace {

// The 2,758 STS-B test sentences: columns 5 and 6 of each tab-separated row, in order.
std::vector<std::string> stsb_sentences(const fs::path& shared) {
  return sbert::bench::sts_sentences((shared / "data/stsb/stsb-test.csv").string(), false);
}

fs::path write_lines(const fs::path& path, const std::vector<std::string>& lines) {
  std::string body;
  for (auto& l : lines) body += l + "\n";
  write_file(path, body);
  return path;
}

struct Scored {
  size_t index;
  double score;
};

}  // namespace

TEST(SearchCli, StsbFlatIsExactAndHnswRecall) {
  SBERT_REQUIRE_SHARED(shared);
  fs::path model = shared / "fixtures/models/bert-wordpiece-mean-norm";
  auto sentences = stsb_sentences(shared);
  ASSERT_EQ(sentences.size(), 2758u);
  auto dir = temp_dir("search-stsb");
  auto corpus = write_lines(dir / "stsb.txt", sentences);

  // Reference: the library's embeddings and a brute-force top-10 in double precision.
  auto enc = sbert::SentenceEncoder::load(model);
  sbert::Matrix v = enc->encode(sentences);
  ASSERT_EQ(v.rows, sentences.size());
  const size_t n = v.rows, k = 10;
  std::vector<std::vector<Scored>> ref(n);
  std::vector<std::vector<double>> sims(n, std::vector<double>(n));
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < n; ++j) {
      double s = 0;
      for (size_t d = 0; d < v.cols; ++d) s += double(v.at(i, d)) * v.at(j, d);
      sims[i][j] = s;
    }
  for (size_t i = 0; i < n; ++i) {
    std::vector<Scored> all(n);
    for (size_t j = 0; j < n; ++j) all[j] = {j, sims[i][j]};
    std::partial_sort(all.begin(), all.begin() + k, all.end(),
                      [](const Scored& a, const Scored& b) { return a.score > b.score; });
    ref[i].assign(all.begin(), all.begin() + k);
  }

  for (std::string factory : {"Flat", "HNSW32"}) {
    fs::path index = dir / factory;
    std::string err;
    ASSERT_EQ(run_sbert("search build -q --index " + index.string() + " --model " + model.string() +
                        " --factory " + factory + " " + corpus.string(),
                    nullptr, &err),
              0)
        << err;
    std::string out;
    ASSERT_EQ(run_sbert("search query -q --index " + index.string() + " -k 10 --input " + corpus.string(), &out, &err), 0)
        << err;
    auto rows = parse_jsonl(out);
    ASSERT_EQ(rows.size(), n);
    size_t exact_ids = 0, tie_ok = 0, found = 0;
    for (size_t i = 0; i < n; ++i) {
      const auto& r = rows[i];
      ASSERT_EQ(r["query_index"].get<size_t>(), i);
      ASSERT_EQ(r["query"].get<std::string>(), sentences[i]);
      const auto& res = r["results"];
      ASSERT_EQ(res.size(), k);
      // Duplicate sentences embed identically: any id whose true score ties (within 1e-5) with
      // the reference 10th score belongs to the top 10 as much as the reference's choice.
      const double kth = ref[i][k - 1].score;
      for (size_t rank = 0; rank < k; ++rank) {
        size_t id = std::stoul(res[rank]["id"].get<std::string>());
        EXPECT_EQ(res[rank]["text"].get<std::string>(), sentences[id]);
        found += sims[i][id] >= kth - 1e-5;
        if (factory != "Flat") continue;
        // Exact: the score at each rank, and the id (or, for duplicate sentences with equal
        // scores, an id whose true score equals the reference score at that rank).
        EXPECT_NEAR(res[rank]["score"].get<double>(), ref[i][rank].score, 1e-5) << "query " << i << " rank " << rank;
        if (id == ref[i][rank].index) {
          ++exact_ids;
        } else {
          EXPECT_NEAR(sims[i][id], ref[i][rank].score, 1e-5) << "query " << i << " rank " << rank;
          ++tie_ok;
        }
      }
      std::set<std::string> distinct;
      for (auto& h : res) distinct.insert(h["id"].get<std::string>());
      EXPECT_EQ(distinct.size(), k);
    }
    double recall = double(found) / double(n * k);
    RecordProperty(factory + "_recall_at_10", std::to_string(recall));
    std::cout << "[ info ] " << factory << ": recall@10 " << recall << ", ids equal " << exact_ids
              << ", tie swaps " << tie_ok << "\n";
    if (factory == "Flat") {
      EXPECT_EQ(recall, 1.0);
      EXPECT_EQ(exact_ids + tie_ok, n * k);
    } else {
      EXPECT_GE(recall, 0.95);
    }
  }
}

TEST(SearchCli, BuildAddQueryEqualsSingleBuild) {
  SBERT_REQUIRE_SHARED(shared);
  fs::path model = shared / "fixtures/models/bert-wordpiece-mean-norm";
  auto sentences = stsb_sentences(shared);
  sentences.resize(600);
  auto dir = temp_dir("search-add-cli");
  // jsonl with ids and a metadata key
  std::string all, first, second;
  for (size_t i = 0; i < sentences.size(); ++i) {
    std::string line = nlohmann::json{{"id", "s" + std::to_string(i)}, {"text", sentences[i]}, {"n", i}}.dump() + "\n";
    all += line;
    (i < 400 ? first : second) += line;
  }
  write_file(dir / "all.jsonl", all);
  write_file(dir / "first.jsonl", first);
  write_file(dir / "second.jsonl", second);
  std::string m = " --model " + model.string() + " --id-field id --meta-column n ";
  std::string err, a, b;
  ASSERT_EQ(run_sbert("search build -q --index " + (dir / "whole").string() + m + (dir / "all.jsonl").string(), nullptr, &err), 0) << err;
  ASSERT_EQ(run_sbert("search build -q --index " + (dir / "inc").string() + m + (dir / "first.jsonl").string(), nullptr, &err), 0) << err;
  ASSERT_EQ(run_sbert("search add -q --index " + (dir / "inc").string() + " --id-field id --meta-column n " +
                      (dir / "second.jsonl").string(), nullptr, &err), 0)
      << err;
  auto queries = write_lines(dir / "q.txt", {sentences[3], sentences[450], "a man is playing a guitar"});
  ASSERT_EQ(run_sbert("search query -q --index " + (dir / "whole").string() + " -k 7 -i " + queries.string(), &a, &err), 0) << err;
  ASSERT_EQ(run_sbert("search query -q --index " + (dir / "inc").string() + " -k 7 -i " + queries.string(), &b, &err), 0) << err;
  auto ra = parse_jsonl(a), rb = parse_jsonl(b);
  ASSERT_EQ(ra.size(), 3u);
  ASSERT_EQ(rb.size(), 3u);
  for (size_t q = 0; q < 3; ++q) {
    ASSERT_EQ(ra[q]["results"].size(), 7u);
    for (size_t r = 0; r < 7; ++r) {
      const double score = ra[q]["results"][r]["score"].get<double>();
      EXPECT_NEAR(score, rb[q]["results"][r]["score"].get<double>(), 1e-6);
      if (ra[q]["results"][r]["id"] == rb[q]["results"][r]["id"]) continue;
      // Not the same id at this rank: only allowed for a near-tie. The two builds embed the
      // same sentences in different batches (600 at once vs 400 + 200), which may move the last
      // bit of a vector, so scores within 1e-6 can swap places or cross the top-7 cut: the id
      // must either appear in the other build's list with its score, or sit on the cut.
      const auto& id = rb[q]["results"][r]["id"];
      const double last = ra[q]["results"][6]["score"].get<double>();
      bool tie = std::fabs(score - last) <= 1e-6;
      for (const auto& other : ra[q]["results"])
        tie = tie || (other["id"] == id && std::fabs(other["score"].get<double>() - score) <= 1e-6);
      EXPECT_TRUE(tie) << "query " << q << " rank " << r << ": " << id << " instead of "
                       << ra[q]["results"][r]["id"];
    }
  }
  EXPECT_EQ(rb[1]["results"][0]["id"], "s450");
  EXPECT_EQ(rb[1]["results"][0]["metadata"]["n"], 450);

  // Duplicate ids are refused unless --upsert; the index is untouched.
  EXPECT_EQ(run_sbert("search add -q --index " + (dir / "inc").string() + " --id-field id " + (dir / "second.jsonl").string(),
                  nullptr, &err), 2);
  EXPECT_NE(err.find("already in the index"), std::string::npos) << err;
  EXPECT_EQ(run_sbert("search add -q --upsert --index " + (dir / "inc").string() + " --id-field id " +
                      (dir / "second.jsonl").string(), nullptr, &err), 0) << err;
  std::string info;
  ASSERT_EQ(run_sbert("search info --index " + (dir / "inc").string(), &info, &err), 0) << err;
  auto j = nlohmann::json::parse(info);
  EXPECT_EQ(j["rows"], 600);
  EXPECT_EQ(j["dimension"], 32);
  EXPECT_EQ(j["metric"], "inner_product");
  EXPECT_EQ(j["model_fingerprint"], sbert::model_fingerprint(model));

  // remove, then the removed id is gone from results
  ASSERT_EQ(run_sbert("search remove -q --index " + (dir / "inc").string() + " --ids s450 s3", nullptr, &err), 0) << err;
  ASSERT_EQ(run_sbert("search query -q --index " + (dir / "inc").string() + " -k 5 " + quote(sentences[450]), &b, &err), 0) << err;
  auto rr = parse_jsonl(b);
  ASSERT_EQ(rr.size(), 1u);
  for (auto& h : rr[0]["results"]) EXPECT_NE(h["id"], "s450");

  // k larger than the index is clamped with a note.
  ASSERT_EQ(run_sbert("search query --index " + (dir / "whole").string() + " -k 5000 " + quote("hello"), &b, &err), 0) << err;
  EXPECT_EQ(parse_jsonl(b)[0]["results"].size(), 600u);
  EXPECT_NE(err.find("larger than the index"), std::string::npos) << err;
  // min_score filters
  ASSERT_EQ(run_sbert("search query -q --index " + (dir / "whole").string() + " -k 50 --min-score 0.9 " + quote(sentences[3]), &b, &err), 0) << err;
  for (auto& h : parse_jsonl(b)[0]["results"]) EXPECT_GE(h["score"].get<double>(), 0.9);
  // queries from stdin
  ASSERT_EQ(run_command("printf 'one\\ntwo\\n' | " + sbert_bin() + " search query -q -k 2 --index " + (dir / "whole").string(), &b), 0);
  EXPECT_EQ(parse_jsonl(b).size(), 2u);
}

TEST(SearchCli, Refusals) {
  SBERT_REQUIRE_SHARED(shared);
  fs::path model = shared / "fixtures/models/bert-wordpiece-mean-norm";
  auto dir = temp_dir("search-refuse");
  auto corpus = write_lines(dir / "c.txt", {"a cat", "a dog", "a bird", "a fish"});
  std::string err;
  // empty corpus
  write_file(dir / "empty.txt", "");
  EXPECT_EQ(run_sbert("search build -q --index " + (dir / "e").string() + " --model " + model.string() + " " +
                  (dir / "empty.txt").string(), nullptr, &err), 2);
  EXPECT_NE(err.find("empty corpus"), std::string::npos) << err;
  // too few training points for IVF
  EXPECT_EQ(run_sbert("search build -q --index " + (dir / "ivf").string() + " --model " + model.string() +
                  " --factory IVF1024,Flat " + corpus.string(), nullptr, &err), 2);
  EXPECT_NE(err.find("at least 1024 training vectors, got 4"), std::string::npos) << err;
  // missing index
  EXPECT_EQ(run_sbert("search query --index " + (dir / "nope").string() + " x", nullptr, &err), 2);
  EXPECT_NE(err.find("index folder not found"), std::string::npos) << err;

  ASSERT_EQ(run_sbert("search build -q --index " + (dir / "ok").string() + " --model " + model.string() + " " + corpus.string(),
                  nullptr, &err), 0) << err;
  // a different model is refused (a copy with one changed config value)
  fs::copy(model, dir / "other", fs::copy_options::recursive);
  fs::permissions(dir / "other", fs::perms::owner_all, fs::perm_options::add);
  fs::permissions(dir / "other" / "config.json", fs::perms::owner_all, fs::perm_options::add);
  auto cfg = read_file(dir / "other" / "config.json");
  write_file(dir / "other" / "config.json", cfg + " ");
  EXPECT_EQ(run_sbert("search query --index " + (dir / "ok").string() + " --model " + (dir / "other").string() + " cat",
                  nullptr, &err), 2);
  EXPECT_NE(err.find("is not the model index"), std::string::npos) << err;
  // a corrupted FAISS file is named
  fs::path faiss_file;
  for (auto& e : fs::directory_iterator(dir / "ok"))
    if (e.path().extension() == ".faiss") faiss_file = e.path();
  write_file(faiss_file, "not an index");
  EXPECT_EQ(run_sbert("search query --index " + (dir / "ok").string() + " cat", nullptr, &err), 2);
  EXPECT_NE(err.find(faiss_file.string()), std::string::npos) << err;
  // an existing index is not overwritten by build
  EXPECT_EQ(run_sbert("search build -q --index " + (dir / "ok").string() + " --model " + model.string() + " " +
                  corpus.string(), nullptr, &err), 2);
  EXPECT_NE(err.find("already holds an index"), std::string::npos) << err;
}

TEST(SearchCli, RerankReproducesCrossEncoderGolden) {
  SBERT_REQUIRE_SHARED(shared);
  auto g = sbert::testing::load_json(shared / "fixtures/golden/cross-encoder-bert.json");
  fs::path model = shared / "fixtures/models/bert-wordpiece-mean-norm";
  fs::path ce = shared / "fixtures/models/cross-encoder-bert";
  auto dir = temp_dir("search-rerank");
  std::string body;
  for (size_t i = 0; i < g["rank_docs"].size(); ++i)
    body += nlohmann::json{{"id", std::to_string(i)}, {"text", g["rank_docs"][i]}}.dump() + "\n";
  write_file(dir / "docs.jsonl", body);
  std::string err, out;
  ASSERT_EQ(run_sbert("search build -q --index " + (dir / "idx").string() + " --model " + model.string() +
                      " --id-field id " + (dir / "docs.jsonl").string(), nullptr, &err), 0) << err;
  size_t n = g["rank"].size();
  ASSERT_EQ(run_sbert("search query -q --index " + (dir / "idx").string() + " -k " + std::to_string(n) + " --rerank " +
                      ce.string() + " --rerank-top " + std::to_string(n) + " " + quote(g["rank_query"]), &out, &err), 0)
      << err;
  auto rows = parse_jsonl(out);
  ASSERT_EQ(rows.size(), 1u);
  const auto& res = rows[0]["results"];
  ASSERT_EQ(res.size(), n);
  for (size_t r = 0; r < n; ++r) {
    EXPECT_EQ(res[r]["id"].get<std::string>(), std::to_string(g["rank"][r]["corpus_id"].get<int>())) << "rank " << r;
    EXPECT_NEAR(res[r]["score"].get<double>(), g["rank"][r]["score"].get<double>(), 1e-5) << "rank " << r;
    EXPECT_TRUE(res[r].contains("retrieval_score"));
  }
  // Top-3 after reranking the top 40 is the golden top-3.
  ASSERT_EQ(run_sbert("search query -q --index " + (dir / "idx").string() + " -k 3 --rerank " + ce.string() + " " +
                      quote(g["rank_query"]), &out, &err), 0) << err;
  auto top = parse_jsonl(out)[0]["results"];
  ASSERT_EQ(top.size(), 3u);
  for (size_t r = 0; r < 3; ++r)
    EXPECT_EQ(top[r]["id"].get<std::string>(), std::to_string(g["rank"][r]["corpus_id"].get<int>()));
}
