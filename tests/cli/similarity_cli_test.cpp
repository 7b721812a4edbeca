// `sbert similarity` end to end: pairs (CSV/TSV/JSONL, evaluation, reports), matrix, top-k and
// mining, with precomputed embeddings and with the fixture models.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>

#include "sbert/matrix.h"
#include "sbert/npy.h"
#include "sbert/text_input.h"
#include "test_support.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using sbert::Matrix;
using sbert::testing::read_file;
using sbert::testing::run_command;
using sbert::testing::temp_dir;
using sbert::testing::write_file;

std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

int sbert_run(const std::string& args, std::string* out = nullptr, std::string* err = nullptr) {
  return run_command(std::string(SBERT_BINARY) + " " + args, out, err);
}

std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> lines;
  std::istringstream in(s);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

// All records of a CSV/TSV file, parsed with the library reader.
std::vector<std::vector<std::string>> read_table(const fs::path& p, sbert::InputFormat f, bool header) {
  sbert::ReaderOptions o;
  o.format = f;
  o.header = header;
  sbert::RecordReader r({p.string()}, o);
  std::vector<std::vector<std::string>> rows;
  sbert::Record rec;
  while (r.next(rec)) rows.push_back(rec.fields);
  return rows;
}

// Independent tie-aware Spearman: Pearson of average ranks.
double ranks_pearson(const std::vector<double>& x, const std::vector<double>& y) {
  auto ranks = [](const std::vector<double>& v) {
    std::vector<double> r(v.size());
    for (size_t i = 0; i < v.size(); ++i) {
      double less = 0, equal = 0;
      for (double w : v) {
        less += w < v[i];
        equal += w == v[i];
      }
      r[i] = less + (equal + 1) / 2.0;  // mean of ranks less+1 .. less+equal
    }
    return r;
  };
  auto rx = ranks(x), ry = ranks(y);
  double mx = 0, my = 0;
  for (size_t i = 0; i < rx.size(); ++i) mx += rx[i], my += ry[i];
  mx /= rx.size();
  my /= ry.size();
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < rx.size(); ++i) {
    sxy += (rx[i] - mx) * (ry[i] - my);
    sxx += (rx[i] - mx) * (rx[i] - mx);
    syy += (ry[i] - my) * (ry[i] - my);
  }
  return sxy / std::sqrt(sxx * syy);
}

double cosine(const float* a, const float* b, size_t n) {
  double d = 0, na = 0, nb = 0;
  for (size_t i = 0; i < n; ++i) d += double(a[i]) * b[i], na += double(a[i]) * a[i], nb += double(b[i]) * b[i];
  return d / std::sqrt(na * nb);
}

Matrix random_matrix(size_t rows, size_t cols, unsigned seed, int levels) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::uniform_int_distribution<int> level(-levels, levels);
  Matrix m(rows, cols);
  for (float& v : m.data) v = levels ? float(level(rng)) : normal(rng);
  return m;
}

double parse_summary(const std::string& err, const std::string& key) {
  auto p = err.find(key + " ");
  if (p == std::string::npos) return NAN;
  return std::stod(err.substr(p + key.size() + 1));
}

// ------------------------------------------------------------ embeddings only (no model)

TEST(SimilarityCli, TopKOverPrecomputedEmbeddingsEqualsBruteForce) {
  auto dir = temp_dir("simcli");
  // 2,758 rows (the number of STS-B test sentences), integer-valued: dot products are exact in
  // float, so the brute force below is exact too and ties are frequent.
  Matrix e = random_matrix(2758, 12, 42, 2);
  sbert::write_npy((dir / "e.npy").string(), e);
  std::string out, err;
  ASSERT_EQ(sbert_run("similarity --embeddings " + q(dir / "e.npy") + " --top-k 10 --function dot", &out, &err), 0) << err;
  auto lines = split_lines(out);
  ASSERT_EQ(lines.size(), e.rows);
  for (size_t i = 0; i < e.rows; ++i) {
    std::vector<std::pair<double, size_t>> all;
    for (size_t j = 0; j < e.rows; ++j) {
      if (j == i) continue;
      double s = 0;
      for (size_t d = 0; d < e.cols; ++d) s += double(e.at(i, d)) * e.at(j, d);
      all.push_back({-s, j});  // ascending: best score first, then lower index
    }
    std::sort(all.begin(), all.end());
    json row = json::parse(lines[i]);
    ASSERT_EQ(row["index"], i);
    ASSERT_EQ(row["matches"].size(), 10u);
    for (size_t r = 0; r < 10; ++r) {
      ASSERT_EQ(row["matches"][r]["index"].get<size_t>(), all[r].second) << "row " << i << " rank " << r;
      ASSERT_EQ(row["matches"][r]["score"].get<double>(), -all[r].first);
    }
  }
}

TEST(SimilarityCli, MatrixNpyAndCsvFromEmbeddings) {
  auto dir = temp_dir("simcli");
  Matrix a = random_matrix(5, 7, 1, 0), b = random_matrix(3, 7, 2, 0);
  sbert::write_npy((dir / "a.npy").string(), a);
  sbert::write_npy((dir / "b.npy").string(), b);
  std::string err;
  ASSERT_EQ(sbert_run("similarity --embeddings " + q(dir / "a.npy") + " " + q(dir / "b.npy") +
                          " --matrix --format npy -o " + q(dir / "m.npy"), nullptr, &err), 0) << err;
  Matrix m = sbert::read_npy((dir / "m.npy").string());
  ASSERT_EQ(m.rows, 5u);
  ASSERT_EQ(m.cols, 3u);
  for (size_t i = 0; i < 5; ++i)
    for (size_t j = 0; j < 3; ++j) EXPECT_NEAR(m.at(i, j), cosine(a.row(i), b.row(j), 7), 1e-6);
  // CSV with a header, euclidean as negative distances.
  std::string out;
  ASSERT_EQ(sbert_run("similarity --embeddings " + q(dir / "a.npy") + " " + q(dir / "b.npy") +
                          " --function euclidean", &out, &err), 0) << err;
  auto lines = split_lines(out);
  ASSERT_EQ(lines.size(), 6u);
  EXPECT_EQ(lines[0], "index,0,1,2");
  double d = 0;
  for (size_t k = 0; k < 7; ++k) d += (double(a.at(4, k)) - b.at(2, k)) * (double(a.at(4, k)) - b.at(2, k));
  EXPECT_NEAR(std::stod(lines[5].substr(lines[5].rfind(',') + 1)), -std::sqrt(d), 1e-5);
}

TEST(SimilarityCli, MiningEqualsBruteForce) {
  auto dir = temp_dir("simcli");
  Matrix e = random_matrix(1500, 8, 7, 2);
  sbert::write_npy((dir / "e.npy").string(), e);
  std::string out, err;
  ASSERT_EQ(sbert_run("similarity --embeddings " + q(dir / "e.npy") +
                          " --mine --function dot --top-k 3 --max-pairs 400 --format csv", &out, &err), 0) << err;
  // Brute force: each row's 3 best partners (ties to the lower index), as unordered pairs,
  // best first (ties by i then j), first 400.
  std::set<std::pair<size_t, size_t>> cand;
  for (size_t i = 0; i < e.rows; ++i) {
    std::vector<std::pair<double, size_t>> all;
    for (size_t j = 0; j < e.rows; ++j) {
      if (j == i) continue;
      double s = 0;
      for (size_t d = 0; d < e.cols; ++d) s += double(e.at(i, d)) * e.at(j, d);
      all.push_back({-s, j});
    }
    std::partial_sort(all.begin(), all.begin() + 3, all.end());
    for (size_t r = 0; r < 3; ++r) cand.insert({std::min(i, all[r].second), std::max(i, all[r].second)});
  }
  std::vector<std::tuple<double, size_t, size_t>> expected;
  for (auto [i, j] : cand) {
    double s = 0;
    for (size_t d = 0; d < e.cols; ++d) s += double(e.at(i, d)) * e.at(j, d);
    expected.push_back({-s, i, j});
  }
  std::sort(expected.begin(), expected.end());
  expected.resize(400);
  auto lines = split_lines(out);
  ASSERT_EQ(lines.size(), 401u);
  EXPECT_EQ(lines[0], "index,match_index,score");
  for (size_t r = 0; r < 400; ++r) {
    std::istringstream in(lines[r + 1]);
    double s;
    size_t i, j;
    char c1, c2;
    in >> i >> c1 >> j >> c2 >> s;
    ASSERT_EQ(s, -std::get<0>(expected[r])) << r;
    ASSERT_EQ(i, std::get<1>(expected[r])) << r;
    ASSERT_EQ(j, std::get<2>(expected[r])) << r;
  }
}

TEST(SimilarityCli, PairsCsvKeepsRowsAndQuotingAndEvaluates) {
  auto dir = temp_dir("simcli");
  // RFC 4180: commas, quotes and a line break inside quoted fields.
  write_file(dir / "pairs.csv",
             "id,s1,s2,gold\n"
             "1,\"a, b\",\"say \"\"hi\"\"\",4.5\n"
             "2,\"two\nlines\",plain,1\n"
             "3,x,y,3\n"
             "4,p,q,0.5\n");
  Matrix a = random_matrix(4, 6, 3, 0), b = random_matrix(4, 6, 4, 0);
  sbert::write_npy((dir / "a.npy").string(), a);
  sbert::write_npy((dir / "b.npy").string(), b);
  std::string out, err;
  ASSERT_EQ(sbert_run("similarity " + q(dir / "pairs.csv") + " --a-column s1 --b-column s2 --gold-column gold" +
                          " --embeddings " + q(dir / "a.npy") + " " + q(dir / "b.npy") + " -o " + q(dir / "out.csv") +
                          " --report " + q(dir / "r.json"), &out, &err), 0) << err;
  auto in_rows = read_table(dir / "pairs.csv", sbert::InputFormat::Csv, true);
  auto out_rows = read_table(dir / "out.csv", sbert::InputFormat::Csv, true);
  ASSERT_EQ(out_rows.size(), 4u);
  std::vector<double> scores, gold{4.5, 1, 3, 0.5};
  for (size_t i = 0; i < 4; ++i) {
    ASSERT_EQ(out_rows[i].size(), 5u);
    for (size_t c = 0; c < 4; ++c) EXPECT_EQ(out_rows[i][c], in_rows[i][c]);
    double s = std::stod(out_rows[i][4]);
    EXPECT_NEAR(s, cosine(a.row(i), b.row(i), 6), 1e-6);
    scores.push_back(s);
  }
  EXPECT_EQ(split_lines(read_file(dir / "out.csv"))[0], "id,s1,s2,gold,similarity");
  EXPECT_NEAR(parse_summary(err, "Spearman"), ranks_pearson(scores, gold), 1e-4) << err;
  json report = json::parse(read_file(dir / "r.json"));
  EXPECT_NEAR(report["spearman"].get<double>(), ranks_pearson(scores, gold), 1e-6);
  EXPECT_EQ(report["pairs"], 4);
}

TEST(SimilarityCli, PairsJsonlInJsonlOut) {
  auto dir = temp_dir("simcli");
  write_file(dir / "p.jsonl", "{\"a\": \"x\", \"b\": \"y\", \"n\": 1}\n{\"a\": \"z\", \"b\": \"w\", \"n\": 2}\n");
  Matrix a = random_matrix(2, 4, 5, 0), b = random_matrix(2, 4, 6, 0);
  sbert::write_npy((dir / "a.npy").string(), a);
  sbert::write_npy((dir / "b.npy").string(), b);
  std::string out, err;
  ASSERT_EQ(sbert_run("similarity " + q(dir / "p.jsonl") + " --a-field a --b-field b --function dot --embeddings " +
                          q(dir / "a.npy") + " " + q(dir / "b.npy"), &out, &err), 0) << err;
  auto lines = split_lines(out);
  ASSERT_EQ(lines.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    json j = json::parse(lines[i]);
    EXPECT_EQ(j["n"], i + 1);
    double dot = 0;
    for (size_t d = 0; d < 4; ++d) dot += double(a.at(i, d)) * b.at(i, d);
    EXPECT_NEAR(j["similarity"].get<double>(), dot, 1e-5);
  }
}

// The score column has one name whatever the input (scripts rely on it), --score-column renames
// it, and a name the input already uses is an error, not a silent second column.
TEST(SimilarityCli, ScoreColumnNameIsFixedRenamableAndNeverCollides) {
  auto dir = temp_dir("simcli-scorecol");
  write_file(dir / "p.csv", "a,b,score\nx,y,1\nz,w,2\n");
  write_file(dir / "q.csv", "a,b,gold\nx,y,1\nz,w,2\n");
  sbert::write_npy((dir / "a.npy").string(), random_matrix(2, 4, 5, 0));
  sbert::write_npy((dir / "b.npy").string(), random_matrix(2, 4, 6, 0));
  const std::string emb = " --embeddings " + q(dir / "a.npy") + " " + q(dir / "b.npy");
  std::string out, err;
  ASSERT_EQ(sbert_run("similarity " + q(dir / "q.csv") + " --a-column a --b-column b" + emb, &out, &err), 0) << err;
  EXPECT_EQ(split_lines(out)[0], "a,b,gold,similarity");
  ASSERT_EQ(sbert_run("similarity " + q(dir / "p.csv") + " --a-column a --b-column b" + emb, &out, &err), 0) << err;
  EXPECT_EQ(split_lines(out)[0], "a,b,score,similarity");
  ASSERT_EQ(sbert_run("similarity " + q(dir / "q.csv") + " --a-column a --b-column b --score-column cos" + emb, &out, &err), 0)
      << err;
  EXPECT_EQ(split_lines(out)[0], "a,b,gold,cos");
  EXPECT_EQ(sbert_run("similarity " + q(dir / "q.csv") + " --a-column a --b-column b --score-column gold -o " +
                          q(dir / "o.csv") + emb, &out, &err), 2);
  EXPECT_NE(err.find("already has a column 'gold'"), std::string::npos) << err;
  EXPECT_NE(err.find("--score-column"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(dir / "o.csv"));
}

// -q silences logs, never the evaluation that --gold-column asked for.
TEST(SimilarityCli, QuietStillPrintsTheEvaluation) {
  auto dir = temp_dir("simcli-quiet");
  write_file(dir / "p.csv", "a,b,g\nx,y,1\nz,w,2\nu,v,3\n");
  sbert::write_npy((dir / "a.npy").string(), random_matrix(3, 4, 5, 0));
  sbert::write_npy((dir / "b.npy").string(), random_matrix(3, 4, 6, 0));
  std::string out, err;
  ASSERT_EQ(sbert_run("similarity -q " + q(dir / "p.csv") + " --a-column a --b-column b --gold-column g --embeddings " +
                          q(dir / "a.npy") + " " + q(dir / "b.npy"), &out, &err), 0) << err;
  EXPECT_NE(err.find("Spearman"), std::string::npos) << err;
  EXPECT_NE(err.find("Pearson"), std::string::npos) << err;
  ASSERT_EQ(sbert_run("similarity -q " + q(dir / "p.csv") + " --a-column a --b-column b --embeddings " +
                          q(dir / "a.npy") + " " + q(dir / "b.npy"), &out, &err), 0) << err;
  EXPECT_EQ(err, "");  // nothing else is printed under -q
}

// The README's example: texts beside --embeddings label the rows (and their count is checked).
TEST(SimilarityCli, TextsBesideEmbeddingsLabelTheRows) {
  auto dir = temp_dir("simcli-embtext");
  Matrix m = random_matrix(4, 5, 7, 0);
  std::copy_n(m.row(0), 5, m.row(2));  // rows 0 and 2 are paraphrases
  sbert::write_npy((dir / "v.npy").string(), m);
  write_file(dir / "corpus.txt", "first\nsecond\nthird\nfourth\n");
  write_file(dir / "short.txt", "first\nsecond\n");
  std::string out, err;
  ASSERT_EQ(sbert_run("similarity --embeddings " + q(dir / "v.npy") + " --mine --threshold 0.99 " + q(dir / "corpus.txt"),
                      &out, &err), 0) << err;
  auto lines = split_lines(out);
  ASSERT_EQ(lines.size(), 1u) << out;
  json j = json::parse(lines[0]);
  EXPECT_EQ(j["index"], 0);
  EXPECT_EQ(j["match_index"], 2);
  EXPECT_EQ(j["text"], "first");
  EXPECT_EQ(j["match_text"], "third");
  EXPECT_EQ(sbert_run("similarity --embeddings " + q(dir / "v.npy") + " --mine " + q(dir / "short.txt"), &out, &err), 2);
  EXPECT_NE(err.find("has 4 rows but"), std::string::npos) << err;
  EXPECT_NE(err.find("short.txt has 2 texts"), std::string::npos) << err;
}

TEST(SimilarityCli, ReportsInAllThreeFormats) {
  auto dir = temp_dir("simcli");
  std::string csv = "s1,s2,g\n";
  for (int i = 0; i < 30; ++i) csv += "a" + std::to_string(i) + ",b" + std::to_string(i) + "," + std::to_string(i % 6) + "\n";
  write_file(dir / "p.csv", csv);
  sbert::write_npy((dir / "a.npy").string(), random_matrix(30, 5, 8, 0));
  sbert::write_npy((dir / "b.npy").string(), random_matrix(30, 5, 9, 0));
  for (std::string ext : {"json", "md", "html"}) {
    std::string err;
    ASSERT_EQ(sbert_run("similarity " + q(dir / "p.csv") + " --a-column s1 --b-column s2 --gold-column g -q -o " + q(dir / "pairs.out") + " --embeddings " +
                            q(dir / "a.npy") + " " + q(dir / "b.npy") + " --report " + q(dir / ("r." + ext)), nullptr, &err), 0) << err;
    std::string r = read_file(dir / ("r." + ext));
    EXPECT_FALSE(r.empty()) << ext;
    if (ext == "html") {
      EXPECT_NE(r.find("<svg"), std::string::npos);
      size_t points = 0;
      for (size_t p = r.find("<circle class='pt'"); p != std::string::npos; p = r.find("<circle class='pt'", p + 1)) ++points;
      EXPECT_EQ(points, 30u);
    }
  }
}

// ------------------------------------------------------------ bad input

std::string fails(const std::string& args) {
  std::string out, err;
  int rc = sbert_run(args, &out, &err);
  EXPECT_EQ(rc, 2) << args << "\n" << err;
  EXPECT_EQ(err.find("terminate"), std::string::npos) << err;
  return err;
}

TEST(SimilarityCli, BadInputGivesOneLineErrors) {
  auto dir = temp_dir("simcli");
  write_file(dir / "p.csv", "s1,s2,g\nx,y,1\nz,w,abc\n");
  sbert::write_npy((dir / "a.npy").string(), random_matrix(2, 4, 1, 0));
  sbert::write_npy((dir / "b.npy").string(), random_matrix(2, 4, 2, 0));
  sbert::write_npy((dir / "c.npy").string(), random_matrix(2, 5, 3, 0));
  const std::string emb = " --embeddings " + q(dir / "a.npy") + " " + q(dir / "b.npy");

  std::string err = fails("similarity " + q(dir / "p.csv") + " --a-column sentence1 --b-column s2" + emb);
  EXPECT_NE(err.find("sentence1"), std::string::npos) << err;
  EXPECT_NE(err.find("s1, s2, g"), std::string::npos) << err;  // the columns found

  err = fails("similarity " + q(dir / "p.csv") + " --a-column s1 --b-column s2 --gold-column g" + emb);
  EXPECT_NE(err.find("p.csv:3"), std::string::npos) << err;
  EXPECT_NE(err.find("abc"), std::string::npos) << err;

  write_file(dir / "ragged.csv", "s1,s2\nx,y\nz\n");
  err = fails("similarity " + q(dir / "ragged.csv") + " --a-column s1 --b-column s2" + emb);
  EXPECT_NE(err.find("ragged.csv:3"), std::string::npos) << err;

  write_file(dir / "openquote.csv", "s1,s2\n\"x,y\n");
  err = fails("similarity " + q(dir / "openquote.csv") + " --a-column s1 --b-column s2" + emb);
  EXPECT_NE(err.find("openquote.csv"), std::string::npos) << err;

  err = fails("similarity --embeddings " + q(dir / "a.npy") + " " + q(dir / "c.npy") + " --matrix");
  EXPECT_NE(err.find("dimensions"), std::string::npos) << err;

  err = fails("similarity " + q(dir / "p.csv") + " --a-column s1 --b-column s2 --embeddings " + q(dir / "a.npy") +
              " " + q(dir / "c.npy"));
  EXPECT_NE(err.find("dimensions"), std::string::npos) << err;

  // A cross-encoder scores pairs of texts: not with precomputed vectors, and a missing model
  // folder is named (offline, so no network is ever tried).
  err = fails("similarity --offline --cross-encoder " + q(dir / "no-such-model") + " " + q(dir / "p.csv") +
              " --a-column s1 --b-column s2 --embeddings " + q(dir / "a.npy") + " " + q(dir / "c.npy"));
  EXPECT_NE(err.find("--embeddings"), std::string::npos) << err;
  err = fails("similarity --offline --cross-encoder " + q(dir / "no-such-model") + " " + q(dir / "p.csv") +
              " --a-column s1 --b-column s2");
  EXPECT_NE(err.find("no-such-model"), std::string::npos) << err;

  err = fails("similarity --embeddings " + q(dir / "a.npy") + " --report r.txt --matrix");
  err = fails("similarity --embeddings " + q(dir / "a.npy") + " --matrix --mine");
}

TEST(SimilarityCli, NoOutputReplacedWhenAnotherOutputCannotBeWritten) {
  auto dir = temp_dir("simcli_outputs");
  write_file(dir / "p.csv", "s1,s2,g\nx,y,1\nz,w,2\n");
  sbert::write_npy((dir / "a.npy").string(), random_matrix(2, 4, 1, 0));
  sbert::write_npy((dir / "b.npy").string(), random_matrix(2, 4, 2, 0));
  write_file(dir / "out.tsv", "precious\n");
  std::string err = fails("similarity " + q(dir / "p.csv") + " --a-column s1 --b-column s2 --gold-column g" +
                          " --embeddings " + q(dir / "a.npy") + " " + q(dir / "b.npy") + " --report " +
                          q(dir / "nodir" / "r.json") + " -o " + q(dir / "out.tsv"));
  EXPECT_NE(err.find("r.json"), std::string::npos) << err;
  EXPECT_EQ(read_file(dir / "out.tsv"), "precious\n");
  size_t n = 0;
  for (auto& e : fs::directory_iterator(dir)) (void)e, ++n;
  EXPECT_EQ(n, 4u) << "a temporary was left behind";
}

TEST(SimilarityCli, NegativeCountsAreRefused) {
  auto dir = temp_dir("simcli_negative");
  sbert::write_npy((dir / "a.npy").string(), random_matrix(3, 4, 1, 0));
  std::string err = fails("similarity --embeddings " + q(dir / "a.npy") + " --top-k -1");
  EXPECT_NE(err.find("top-k"), std::string::npos) << err;
  EXPECT_EQ(err.find("18446744073709551615"), std::string::npos) << err;
}

// ------------------------------------------------------------ with the fixture model

fs::path model_dir(const fs::path& shared, const std::string& name) { return shared / "fixtures" / "models" / name; }

TEST(SimilarityCliModel, ReproducesSimilarityThreeGolden) {
  SBERT_REQUIRE_SHARED(shared);
  auto golden = sbert::testing::load_json(shared / "fixtures/golden/bert-wordpiece-mean-norm.json")["similarity_three"];
  auto dir = temp_dir("simcli");
  std::string texts;
  for (auto& t : golden["texts"]) texts += t.get<std::string>() + "\n";
  write_file(dir / "three.txt", texts);
  for (auto& [fn, expected] : golden["by_function"].items()) {
    std::string out, err;
    ASSERT_EQ(sbert_run("similarity " + q(dir / "three.txt") + " --matrix --function " + fn + " -m " +
                            q(model_dir(shared, "bert-wordpiece-mean-norm")), &out, &err), 0) << err;
    auto lines = split_lines(out);
    ASSERT_EQ(lines.size(), 4u) << out;
    for (size_t i = 0; i < 3; ++i) {
      std::istringstream row(lines[i + 1]);
      std::string cell;
      std::getline(row, cell, ',');
      EXPECT_EQ(cell, std::to_string(i));
      for (size_t j = 0; j < 3; ++j) {
        ASSERT_TRUE(std::getline(row, cell, ','));
        EXPECT_NEAR(std::stod(cell), expected[i][j].get<double>(), 1e-5) << fn << " " << i << "," << j;
      }
    }
  }
}

TEST(SimilarityCliModel, StsbTestPairsInOrderWithSpearman) {
  SBERT_REQUIRE_SHARED(shared);
  auto dir = temp_dir("simcli");
  const fs::path stsb = shared / "data/stsb/stsb-test.csv";
  std::string out, err;
  ASSERT_EQ(sbert_run("similarity " + q(stsb) + " --input-format tsv --no-header --a-column 5 --b-column 6 "
                          "--gold-column 4 -m " + q(model_dir(shared, "bert-wordpiece-mean-norm")) +
                          " -o " + q(dir / "out.tsv") + " --report " + q(dir / "r.html"), &out, &err), 0) << err;
  auto in_rows = read_table(stsb, sbert::InputFormat::Tsv, false);
  auto out_rows = read_table(dir / "out.tsv", sbert::InputFormat::Tsv, false);
  ASSERT_EQ(in_rows.size(), 1379u);
  ASSERT_EQ(out_rows.size(), in_rows.size());
  std::vector<double> scores, gold;
  for (size_t i = 0; i < in_rows.size(); ++i) {
    ASSERT_EQ(out_rows[i].size(), in_rows[i].size() + 1) << "row " << i;  // its own fields (7 or 9) + score
    for (size_t c = 0; c < in_rows[i].size(); ++c) ASSERT_EQ(out_rows[i][c], in_rows[i][c]) << i;
    scores.push_back(std::stod(out_rows[i].back()));
    gold.push_back(std::stod(in_rows[i][4]));
  }
  const double rho = ranks_pearson(scores, gold);
  EXPECT_NEAR(parse_summary(err, "Spearman"), rho, 1e-4) << err;
  EXPECT_NE(read_file(dir / "r.html").find("<svg"), std::string::npos);
}

TEST(SimilarityCliModel, KorStsTestPairsByColumnName) {
  SBERT_REQUIRE_SHARED(shared);
  auto dir = temp_dir("simcli");
  const fs::path korsts = shared / "data/korsts/korsts-test.tsv";
  std::string out, err;
  ASSERT_EQ(sbert_run("similarity " + q(korsts) + " --a-column sentence1 --b-column sentence2 --gold-column score "
                          "-m " + q(model_dir(shared, "distilbert-krwordpiece-dense")) + " -o " + q(dir / "out.tsv") +
                          " --report " + q(dir / "r.json"), &out, &err), 0) << err;
  auto in_rows = read_table(korsts, sbert::InputFormat::Tsv, true);
  auto out_rows = read_table(dir / "out.tsv", sbert::InputFormat::Tsv, true);
  ASSERT_EQ(out_rows.size(), in_rows.size());
  EXPECT_EQ(split_lines(read_file(dir / "out.tsv"))[0], "genre\tfilename\tyear\tid\tscore\tsentence1\tsentence2\tsimilarity");
  std::vector<double> scores, gold;
  for (size_t i = 0; i < in_rows.size(); ++i) {
    for (size_t c = 0; c < in_rows[i].size(); ++c) ASSERT_EQ(out_rows[i][c], in_rows[i][c]) << i;
    scores.push_back(std::stod(out_rows[i].back()));
    gold.push_back(std::stod(in_rows[i][4]));
  }
  json report = json::parse(read_file(dir / "r.json"));
  EXPECT_NEAR(report["spearman"].get<double>(), ranks_pearson(scores, gold), 1e-6);
}

TEST(SimilarityCliModel, TopKOverStsbSentencesEqualsMatrixBruteForce) {
  SBERT_REQUIRE_SHARED(shared);
  auto dir = temp_dir("simcli");
  std::string sentences;
  size_t n = 0;
  for (auto& row : read_table(shared / "data/stsb/stsb-test.csv", sbert::InputFormat::Tsv, false)) {
    sentences += row[5] + "\n" + row[6] + "\n";
    n += 2;
  }
  ASSERT_EQ(n, 2758u);
  write_file(dir / "s.txt", sentences);
  const std::string model = " -m " + q(model_dir(shared, "bert-wordpiece-mean-norm"));
  std::string out, err;
  ASSERT_EQ(sbert_run("similarity " + q(dir / "s.txt") + " --matrix --format npy -o " + q(dir / "m.npy") + model,
                      nullptr, &err), 0) << err;
  ASSERT_EQ(sbert_run("similarity " + q(dir / "s.txt") + " --top-k 5" + model, &out, &err), 0) << err;
  Matrix m = sbert::read_npy((dir / "m.npy").string());
  ASSERT_EQ(m.rows, 2758u);
  auto lines = split_lines(out);
  ASSERT_EQ(lines.size(), 2758u);
  size_t exact_ties = 0;
  for (size_t i = 0; i < m.rows; ++i) {
    std::vector<std::pair<float, size_t>> all;
    for (size_t j = 0; j < m.cols; ++j)
      if (j != i) all.push_back({-m.at(i, j), j});
    std::partial_sort(all.begin(), all.begin() + 5, all.end());
    json row = json::parse(lines[i]);
    ASSERT_EQ(row["matches"].size(), 5u);
    for (size_t r = 0; r < 5; ++r) {
      ASSERT_EQ(row["matches"][r]["index"].get<size_t>(), all[r].second) << i << " " << r;
      ASSERT_EQ(row["matches"][r]["score"].get<float>(), -all[r].first);
      if (r && all[r].first == all[r - 1].first) ++exact_ties;
    }
  }
  // STS-B repeats sentences, so exact ties occur and were resolved by index above.
  EXPECT_GT(exact_ties, 0u);
}

}  // namespace

TEST(SimilarityCliModel, CrossEncoderScoresPairsAsTheGolden) {
  SBERT_REQUIRE_SHARED(shared);
  auto g = sbert::testing::load_json(shared / "fixtures/golden/cross-encoder-bert.json");
  auto dir = temp_dir("simce");
  std::string body;
  for (auto& p : g["pairs"]) body += json{{"a", p[0]}, {"b", p[1]}}.dump() + "\n";
  write_file(dir / "pairs.jsonl", body);
  std::string out, err;
  ASSERT_EQ(sbert_run("similarity -q " + q(dir / "pairs.jsonl") + " --a-field a --b-field b --max-length 128 --cross-encoder " +
                          q(shared / "fixtures/models/cross-encoder-bert"),
                      &out, &err),
            0)
      << err;
  auto lines = split_lines(out);
  ASSERT_EQ(lines.size(), g["scores"].size());
  for (size_t i = 0; i < lines.size(); ++i)
    EXPECT_NEAR(json::parse(lines[i])["similarity"].get<double>(), g["scores"][i].get<double>(), 1e-5) << "pair " << i;
  // Cross-encoders need pairs.
  EXPECT_EQ(sbert_run("similarity " + q(dir / "pairs.jsonl") + " --matrix --cross-encoder " +
                          q(shared / "fixtures/models/cross-encoder-bert"),
                      nullptr, &err),
            2);
  EXPECT_NE(err.find("--a-column"), std::string::npos) << err;
}
