// End-to-end tests of `sbert embed` against the sentence-transformers goldens.
#include <cmath>
#include <fstream>
#include <regex>

#include "sbert/npy.h"
#include "cli_support.h"
#include "test_support.h"

namespace fs = std::filesystem;
using sbert::testing::sbert_bin;
using sbert::testing::read_file;
using sbert::testing::run_command;
using sbert::testing::temp_dir;
using sbert::testing::embed_npy;
using sbert::testing::write_file;

namespace {

double max_abs_diff(const sbert::Matrix& m, const std::vector<float>& flat) {
  EXPECT_EQ(m.data.size(), flat.size());
  double worst = 0;
  for (size_t i = 0; i < std::min(m.data.size(), flat.size()); ++i)
    worst = std::max(worst, std::abs(double(m.data[i]) - flat[i]));
  return worst;
}

class EmbedGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(EmbedGolden, StEncodeReproduced) {
  SBERT_REQUIRE_SHARED(shared);
  std::string model = GetParam();
  std::string golden_name = model == "bert-wordpiece-mean-norm-bin" ? "bert-wordpiece-mean-norm" : model;
  auto g = sbert::testing::load_json(shared / "fixtures/golden" / (golden_name + ".json"));
  auto dir = temp_dir("embed-" + model);
  auto input = sbert::testing::write_jsonl_texts(dir, g["texts"]);
  auto m = embed_npy(shared / "fixtures/models" / model, input, "--input-format jsonl --batch-size 16");
  ASSERT_EQ(m.rows, g["st_encode_shape"][0].get<size_t>());
  ASSERT_EQ(m.cols, g["st_encode_shape"][1].get<size_t>());
  double diff = max_abs_diff(m, g["st_encode"].get<std::vector<float>>());
  EXPECT_LE(diff, 1e-4) << model;
  RecordProperty("max_abs_diff", std::to_string(diff));
}

INSTANTIATE_TEST_SUITE_P(Fixtures, EmbedGolden,
                         ::testing::Values("bert-wordpiece-mean-norm", "bert-wordpiece-mean-norm-bin",
                                           "bert-wordpiece-mean-norm-fp16", "xlmr-spm-mean-norm",
                                           "distilbert-krwordpiece-dense"));

TEST(EmbedCli, PoolingModesReproducedWithoutNormalisation) {
  SBERT_REQUIRE_SHARED(shared);
  for (std::string model : {"bert-wordpiece-mean-norm", "bert-kobert-spm"}) {
    auto g = sbert::testing::load_json(shared / "fixtures/golden" / (model + ".json"));
    auto dir = temp_dir("pool");
    auto input = sbert::testing::write_jsonl_texts(dir, g["texts"]);
    for (auto& [mode, values] : g["pooling"].items()) {
      auto m = embed_npy(shared / "fixtures/models" / model, input, "--input-format jsonl --no-normalize --pooling " + mode);
      std::vector<float> flat;
      for (auto& row : values)
        for (auto& v : row) flat.push_back(v.get<float>());
      EXPECT_LE(max_abs_diff(m, flat), 1e-4) << model << " pooling " << mode;
    }
  }
}

TEST(EmbedCli, JsonlKeepsOrderAndIds) {
  SBERT_REQUIRE_SHARED(shared);
  auto dir = temp_dir("jsonl");
  write_file(dir / "in.csv", "id,text\nx1,hello world\nx2,\"second, with comma\"\nx3,\n");
  std::string out, err;
  int rc = run_command(sbert_bin() + " embed --model " + (shared / "fixtures/models/bert-wordpiece-mean-norm").string() +
                           " --column text --id-column id " + (dir / "in.csv").string(),
                       &out, &err);
  ASSERT_EQ(rc, 0) << err;
  std::istringstream lines(out);
  std::string line;
  std::vector<nlohmann::json> rows;
  while (std::getline(lines, line)) rows.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(rows.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(rows[i]["index"], i);
    EXPECT_EQ(rows[i]["id"], "x" + std::to_string(i + 1));
    ASSERT_EQ(rows[i]["embedding"].size(), 32u);
    double norm = 0;
    for (auto& v : rows[i]["embedding"]) norm += v.get<double>() * v.get<double>();
    EXPECT_NEAR(norm, 1.0, 1e-5) << "the model normalises";
  }
}

TEST(EmbedCli, BadInputsFailCleanlyWithoutOutput) {
  SBERT_REQUIRE_SHARED(shared);
  auto dir = temp_dir("bad");
  write_file(dir / "in.txt", "hello\n");
  auto out = dir / "out.npy";
  std::string err;
  // Missing model folder.
  int rc = run_command(sbert_bin() + " embed --model " + (dir / "nope").string() + " -o " + out.string() + " " +
                           (dir / "in.txt").string(),
                       nullptr, &err);
  EXPECT_EQ(rc, 2);
  EXPECT_NE(err.find("nope"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(out));
  // Truncated safetensors.
  auto model = dir / "model";
  fs::copy(shared / "fixtures/models/bert-wordpiece-mean-norm", model, fs::copy_options::recursive);
  fs::permissions(model / "model.safetensors", fs::perms::owner_write, fs::perm_options::add);
  std::string bytes = read_file(model / "model.safetensors");
  write_file(model / "model.safetensors", bytes.substr(0, bytes.size() / 2));
  rc = run_command(sbert_bin() + " embed --model " + model.string() + " -o " + out.string() + " " +
                       (dir / "in.txt").string(),
                   nullptr, &err);
  EXPECT_EQ(rc, 2);
  EXPECT_NE(err.find("model.safetensors"), std::string::npos) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << "one-line error: " << err;
  EXPECT_FALSE(fs::exists(out));
  // Unknown pooling mode.
  rc = run_command(sbert_bin() + " embed --model " + (shared / "fixtures/models/bert-wordpiece-mean-norm").string() +
                       " --pooling nonsense -o " + out.string() + " " + (dir / "in.txt").string(),
                   nullptr, &err);
  EXPECT_EQ(rc, 2);
  EXPECT_NE(err.find("nonsense"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(out));
}

TEST(EmbedCli, ClosedPipeExitsQuietly) {
  SBERT_REQUIRE_SHARED(shared);
  auto dir = temp_dir("pipe");
  std::string body;
  for (int i = 0; i < 3000; ++i) body += "sentence number " + std::to_string(i) + " is here\n";
  write_file(dir / "big.txt", body);
  std::string out, err;
  int rc = run_command("bash -c 'set -o pipefail; " + sbert_bin() + " embed -q --model " +
                           (shared / "fixtures/models/bert-wordpiece-mean-norm").string() + " " +
                           (dir / "big.txt").string() + " | head -1'",
                       &out, &err);
  EXPECT_EQ(rc, 0) << err;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1);
  EXPECT_EQ(err, "");
}

TEST(EmbedCli, ProjectorFilesCarryMetadataColumns) {
  SBERT_REQUIRE_SHARED(shared);
  auto dir = temp_dir("projector");
  write_file(dir / "clustered.csv", "text,cluster\nfirst text,0\n\"second, text\",1\nthird\ttabbed,0\n");
  std::string err;
  auto model = (shared / "fixtures/models/bert-wordpiece-mean-norm").string();
  int rc = run_command(sbert_bin() + " embed -q --model " + model + " --format projector -o " +
                           (dir / "proj").string() + " --column text --meta-column cluster " +
                           (dir / "clustered.csv").string(),
                       nullptr, &err);
  ASSERT_EQ(rc, 0) << err;
  EXPECT_EQ(read_file(dir / "proj/meta.tsv"), "text\tcluster\nfirst text\t0\nsecond, text\t1\nthird tabbed\t0\n");
  std::istringstream vecs(read_file(dir / "proj/vecs.tsv"));
  std::string line;
  size_t rows = 0;
  while (std::getline(vecs, line)) {
    ++rows;
    EXPECT_EQ(std::count(line.begin(), line.end(), '\t'), 31) << "32 values per row";
  }
  EXPECT_EQ(rows, 3u);
  // The projector writes two files: a folder is required.
  rc = run_command(sbert_bin() + " embed --model " + model + " --format projector " + (dir / "clustered.csv").string() +
                       " --column text",
                   nullptr, &err);
  EXPECT_EQ(rc, 2);
  EXPECT_NE(err.find("-o DIR"), std::string::npos) << err;
}

}  // namespace

namespace {

// The CPU path splits GEMM rows, attention heads and LayerNorm rows across --threads threads;
// no row's arithmetic depends on the split, so the bytes do not either (float32 and int8).
TEST(EmbedCli, ThreadCountDoesNotChangeTheBytes) {
  SBERT_REQUIRE_SHARED(shared);
  auto g = sbert::testing::load_json(shared / "fixtures/golden/bert-wordpiece-mean-norm.json");
  auto dir = temp_dir("embed-threads");
  nlohmann::json texts = g["texts"];
  for (int i = 0; i < 40; ++i) texts.push_back("sentence number " + std::to_string(i) + " of a longer batch");
  auto input = sbert::testing::write_jsonl_texts(dir, texts);
  const fs::path model = shared / "fixtures/models/bert-wordpiece-mean-norm";
  for (const std::string q : {"none", "int8"}) {
    std::string first;
    for (int threads : {1, 2, 3}) {
      auto out = dir / ("t" + std::to_string(threads) + q + ".npy");
      std::string err;
      ASSERT_EQ(run_command(sbert_bin() + " embed -q --input-format jsonl --batch-size 16 --format npy --quantize " + q +
                                " --threads " + std::to_string(threads) + " --model " + model.string() + " -o " +
                                out.string() + " " + input.string(),
                            nullptr, &err),
                0)
          << err;
      const std::string bytes = read_file(out);
      if (first.empty()) first = bytes;
      EXPECT_TRUE(bytes == first) << q << " with " << threads << " threads: output differs from 1 thread";
    }
  }
}

}  // namespace

// The closing line says how long the model took to load, so that throughput can be read without
// start-up (scripts/bench_peer.sh subtracts it): "... in S s (L s loading the model)", L <= S.
TEST(EmbedCli, ClosingLineSeparatesTheModelLoad) {
  auto dir = temp_dir("closing-line");
  write_file(dir / "in.txt", "one sentence\nanother one\n");
  std::string err;
  int rc = run_command(sbert_bin() + " embed --model " + sbert::testing::tiny_model().string() + " --format npy -o " +
                           (dir / "out.npy").string() + " " + (dir / "in.txt").string(),
                       nullptr, &err);
  ASSERT_EQ(rc, 0) << err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(err, m, std::regex(R"(embedded 2 texts \(\d+ tokens\) in ([0-9.]+) s \(([0-9.]+) s loading the model\))")))
      << err;
  EXPECT_LE(std::stod(m[2].str()), std::stod(m[1].str()));
}
