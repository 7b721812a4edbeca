// sbert cluster end to end on precomputed embeddings: planted topics recovered, reproducible
// k-means, the ST community golden, summaries, the HTML plot, and clear errors.
#include <cmath>
#include <limits>
#include <random>
#include <sstream>

#include "sbert/cluster.h"
#include "sbert/embeddings_file.h"
#include "sbert/npy.h"
#include "test_support.h"

namespace fs = std::filesystem;
using sbert::testing::read_file;
using sbert::testing::run_command;
using sbert::testing::write_file;

namespace {

std::string sbert_cmd(const std::string& args) { return std::string(SBERT_BINARY) + " " + args; }

// 18 short texts on three topics with crafted vectors (topic centre + small noise), rows
// interleaved by topic.
struct Topics {
  fs::path dir, texts, npy;
  std::vector<int> truth;
  std::vector<std::string> lines;
};

Topics make_topics() {
  Topics t;
  t.dir = sbert::testing::temp_dir("cluster_cli");
  const char* words[3][6] = {
      {"The cat sleeps on the sofa", "A dog chases the ball", "Horses run in the field",
       "The parrot repeats words", "A cow grazes on grass", "Kittens play with yarn"},
      {"Stocks fell sharply today", "The central bank raised rates", "Bond yields climbed again",
       "Investors fear inflation", "The market rallied at noon", "Quarterly earnings beat forecasts"},
      {"The striker scored twice", "The team won the final", "A marathon runner set a record",
       "The goalkeeper saved a penalty", "Tennis star reaches semifinal", "The coach praised the defence"}};
  std::mt19937 rng(5);
  std::normal_distribution<double> g(0.0, 1.0);
  const size_t dim = 16;
  std::vector<std::vector<double>> centre(3, std::vector<double>(dim));
  for (auto& c : centre)
    for (double& v : c) v = g(rng);
  sbert::Matrix m(18, dim);
  std::string text;
  for (size_t i = 0; i < 18; ++i) {
    const size_t topic = i % 3;
    for (size_t j = 0; j < dim; ++j) m.at(i, j) = static_cast<float>(centre[topic][j] + 0.1 * g(rng));
    t.truth.push_back(static_cast<int>(topic));
    t.lines.push_back(words[topic][i / 3]);
    text += t.lines.back() + "\n";
  }
  t.texts = t.dir / "topics.txt";
  t.npy = t.dir / "topics.npy";
  write_file(t.texts, text);
  sbert::write_npy(t.npy.string(), m);
  return t;
}

// The "cluster" column of CSV output with a header "index,text,cluster" (texts have no commas);
// rows in input order, each with its own index.
std::vector<int> csv_clusters(const std::string& out, std::vector<std::string>* texts = nullptr) {
  std::istringstream in(out);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "index,text,cluster");
  std::vector<int> labels;
  while (std::getline(in, line)) {
    const size_t first = line.find(','), comma = line.rfind(',');
    EXPECT_EQ(line.substr(0, first), std::to_string(labels.size())) << line;
    labels.push_back(std::stoi(line.substr(comma + 1)));
    if (texts) texts->push_back(line.substr(first + 1, comma - first - 1));
  }
  return labels;
}

}  // namespace

TEST(ClusterCli, KMeansRecoversTopicsReproducibly) {
  const Topics t = make_topics();
  std::string out, err;
  const std::string cmd = sbert_cmd("cluster " + t.texts.string() + " --embeddings " + t.npy.string() + " --k 3 --seed 9");
  ASSERT_EQ(run_command(cmd, &out, &err), 0) << err;
  std::vector<std::string> texts;
  const auto labels = csv_clusters(out, &texts);
  EXPECT_EQ(texts, t.lines);
  EXPECT_DOUBLE_EQ(sbert::adjusted_rand_index(labels, t.truth), 1.0);
  std::string again;
  ASSERT_EQ(run_command(cmd, &again, nullptr), 0);
  EXPECT_EQ(again, out);
}

TEST(ClusterCli, AgglomerativeAndJsonl) {
  const Topics t = make_topics();
  for (const std::string linkage : {"average", "complete", "single", "ward"}) {
    std::string out, err;
    ASSERT_EQ(run_command(sbert_cmd("cluster " + t.texts.string() + " --embeddings " + t.npy.string() +
                                    " --method agglomerative --k 3 --linkage " + linkage + " -q"),
                          &out, &err),
              0)
        << err;
    EXPECT_DOUBLE_EQ(sbert::adjusted_rand_index(csv_clusters(out), t.truth), 1.0) << linkage;
  }
  std::string out, err;
  ASSERT_EQ(run_command(sbert_cmd("cluster " + t.texts.string() + " --embeddings " + t.npy.string() +
                                  " --method agglomerative --distance-threshold 0.5 --format jsonl -q"),
                        &out, &err),
            0)
      << err;
  std::istringstream in(out);
  std::string line;
  std::vector<int> labels;
  size_t i = 0;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["text"], t.lines[i++]);
    labels.push_back(j["cluster"].get<int>());
  }
  ASSERT_EQ(labels.size(), 18u);
  EXPECT_DOUBLE_EQ(sbert::adjusted_rand_index(labels, t.truth), 1.0);
}

// Rows and a summary in one run: rows to -o (or stdout), the summary to --summary-file (json by
// extension) or stderr ('-').
TEST(ClusterCli, RowsAndSummaryFileTogether) {
  const Topics t = make_topics();
  const fs::path rows = t.dir / "rows.csv", summary = t.dir / "summary.json";
  std::string out, err;
  ASSERT_EQ(run_command(sbert_cmd("cluster " + t.texts.string() + " --embeddings " + t.npy.string() +
                                  " --k 3 -o " + rows.string() + " --summary-file " + summary.string()),
                        &out, &err),
            0)
      << err;
  EXPECT_DOUBLE_EQ(sbert::adjusted_rand_index(csv_clusters(read_file(rows)), t.truth), 1.0);
  const auto j = nlohmann::json::parse(read_file(summary));
  EXPECT_EQ(j["rows"], 18);
  EXPECT_EQ(j["summary"].size(), 3u);
  ASSERT_EQ(run_command(sbert_cmd("cluster " + t.texts.string() + " --embeddings " + t.npy.string() +
                                  " --k 3 --summary-file -"),
                        &out, &err),
            0)
      << err;
  EXPECT_DOUBLE_EQ(sbert::adjusted_rand_index(csv_clusters(out), t.truth), 1.0);
  EXPECT_NE(err.find("3 clusters over 18 rows"), std::string::npos) << err;
  EXPECT_NE(err.find("medoid: "), std::string::npos) << err;
  // --summary (instead of the rows) and --summary-file (beside them) contradict each other.
  EXPECT_EQ(run_command(sbert_cmd("cluster " + t.texts.string() + " --embeddings " + t.npy.string() +
                                  " --k 3 --summary --summary-file " + summary.string()),
                        &out, &err),
            2);
  EXPECT_NE(err.find("choose one"), std::string::npos) << err;
}

// What `sbert embed` writes, cluster reads: f32 with its shape sidecar, csv, tsv, jsonl, npy.
TEST(ClusterCli, EmbeddingsInEveryFormatEmbedWrites) {
  const Topics t = make_topics();
  const auto m = sbert::read_npy(t.npy.string());
  std::string reference;
  ASSERT_EQ(run_command(sbert_cmd("cluster -q --embeddings " + t.npy.string() + " --k 3 --seed 9"), &reference, nullptr), 0);
  for (const char* format : {"f32", "csv", "tsv", "jsonl"}) {
    const fs::path file = t.dir / (std::string("vecs.") + format);
    sbert::EmbeddingWriterOptions o;
    o.format = sbert::parse_embedding_format(format);
    o.path = file.string();
    sbert::EmbeddingWriter w(o);
    w.write(m, {});
    w.finish(m.cols);
    std::string out, err;
    ASSERT_EQ(run_command(sbert_cmd("cluster -q --embeddings " + file.string() + " --k 3 --seed 9"), &out, &err), 0)
        << format << ": " << err;
    EXPECT_EQ(out, reference) << format;
  }
}

TEST(ClusterCli, SummaryAndPlot) {
  const Topics t = make_topics();
  const fs::path plot = t.dir / "plot.html";
  std::string out, err;
  ASSERT_EQ(run_command(sbert_cmd("cluster " + t.texts.string() + " --embeddings " + t.npy.string() +
                                  " --k 3 --summary --format json --representatives 2 --plot " + plot.string()),
                        &out, &err),
            0)
      << err;
  const auto j = nlohmann::json::parse(out);
  ASSERT_EQ(j["summary"].size(), 3u);
  for (const auto& c : j["summary"]) {
    EXPECT_EQ(c["size"], 6);
    EXPECT_EQ(c["representatives"].size(), 2u);
    // The medoid and the representatives belong to the same topic.
    const size_t medoid = c["medoid"]["index"].get<size_t>();
    EXPECT_EQ(c["medoid"]["text"], t.lines[medoid]);
    for (const auto& r : c["representatives"]) EXPECT_EQ(t.truth[r["index"].get<size_t>()], t.truth[medoid]);
  }
  const std::string html = read_file(plot);
  size_t circles = 0;
  for (size_t p = html.find("<circle "); p != std::string::npos; p = html.find("<circle ", p + 1)) ++circles;
  EXPECT_EQ(circles, 18u);
  EXPECT_NE(html.find("Kittens play with yarn"), std::string::npos);

  // Plain-text summary for the terminal.
  ASSERT_EQ(run_command(sbert_cmd("cluster " + t.texts.string() + " --embeddings " + t.npy.string() +
                                  " --k 3 --summary -q --plot " + plot.string() + " --projection tsne"),
                        &out, &err),
            0)
      << err;
  EXPECT_NE(out.find("cluster 0: 6 rows"), std::string::npos) << out;
  EXPECT_NE(out.find("medoid: "), std::string::npos) << out;
}

TEST(ClusterCli, CommunityGolden) {
  SBERT_REQUIRE_SHARED(shared);
  const auto g = sbert::testing::load_json(shared / "fixtures/golden/bert-wordpiece-mean-norm.json");
  const auto& cd = g["community_detection"];
  const size_t cols = g["st_encode_shape"][1].get<size_t>();
  sbert::Matrix m(150, cols);
  for (size_t i = 0; i < m.data.size(); ++i) m.data[i] = g["st_encode"][i].get<float>();
  const fs::path dir = sbert::testing::temp_dir("cluster_cli_golden");
  sbert::write_npy((dir / "v.npy").string(), m);
  char thr[64];
  std::snprintf(thr, sizeof thr, "%.17g", cd["threshold"].get<double>());
  std::string out, err;
  ASSERT_EQ(run_command(sbert_cmd("cluster --embeddings " + (dir / "v.npy").string() + " --method community --threshold " +
                                  thr + " --min-size " + std::to_string(cd["min_community_size"].get<int>()) +
                                  " --format jsonl -q"),
                        &out, &err),
            0)
      << err;
  std::vector<int> want(150, -1);
  const auto communities = cd["communities"];
  for (size_t c = 0; c < communities.size(); ++c)
    for (const auto& idx : communities[c]) want[idx.get<size_t>()] = static_cast<int>(c);
  std::istringstream in(out);
  std::string line;
  std::vector<int> got;
  while (std::getline(in, line)) got.push_back(nlohmann::json::parse(line)["cluster"].get<int>());
  EXPECT_EQ(got, want);
}

TEST(ClusterCli, ClearErrors) {
  const Topics t = make_topics();
  const std::string emb = " --embeddings " + t.npy.string();
  struct Case {
    std::string args, message;
  };
  sbert::Matrix one(1, 4);
  sbert::write_npy((t.dir / "one.npy").string(), one);
  sbert::Matrix nan(3, 2);
  nan.at(2, 1) = std::numeric_limits<float>::quiet_NaN();
  sbert::write_npy((t.dir / "nan.npy").string(), nan);
  const Case cases[] = {
      {emb + " --k 19", "larger than the number of rows (18)"},
      {emb + " --method agglomerative --k 40", "larger than the number of rows"},
      {emb + " --method community --threshold 1.5", "outside [-1, 1]"},
      {emb + " --method community --threshold -2", "outside [-1, 1]"},
      {emb + " --method agglomerative", "exactly one of --k N or --distance-threshold"},
      {emb, "k-means needs --k"},
      {" --embeddings " + (t.dir / "one.npy").string() + " --k 1", "need at least 2 rows"},
      {" --embeddings " + (t.dir / "nan.npy").string() + " --k 2", "row 2 column 1: value is NaN"},
      {" " + t.texts.string() + emb + " --k 2 --summary --format csv", "--summary writes"},
  };
  for (const auto& c : cases) {
    std::string out, err;
    EXPECT_EQ(run_command(sbert_cmd("cluster" + c.args), &out, &err), 2) << c.args;
    EXPECT_NE(err.find(c.message), std::string::npos) << c.args << "\n" << err;
    EXPECT_EQ(err.find('\n'), err.size() - 1) << "one line: " << err;
  }
}
