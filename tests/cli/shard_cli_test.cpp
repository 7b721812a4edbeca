// `embed --shard I/N` + `sbert merge`: the merged output is byte for byte the output of one whole
// run, for jsonl, csv and npy, with ids, empty texts and a multi-line quoted CSV record; merge
// refuses a missing shard (naming it) and shards made with other options. Generated model.
#include <algorithm>

#include "sbert/random_model.h"
#include "cli_support.h"
#include "test_support.h"

namespace fs = std::filesystem;
using sbert::testing::q;
using sbert::testing::run_sbert;
using nlohmann::json;
using sbert::testing::read_file;
using sbert::testing::run_command;
using sbert::testing::temp_dir;
using sbert::testing::write_file;

namespace {

const fs::path& model() { return sbert::testing::tiny_model("shard-cli-model"); }

// 9 records: ids, an empty text, a quoted text over three lines, texts of different lengths.
const char* kCsv =
    "id,text\n"
    "a,the cat sat on the mat\n"
    "b,\n"
    "c,\"a record\nover three\nlines, with a comma\"\n"
    "d,dogs bark\n"
    "e,a much longer sentence with many more words than the others have in it\n"
    "f,x\n"
    "g,\"quoted \"\"inner\"\" text\"\n"
    "h,fish swim in the sea\n"
    "i,birds fly\n";
const size_t kCsvRecords = 9;

// Runs `embed ARGS --shard i/n -o DIR/part-i.EXT` for every shard, merges them, and returns the
// merged bytes.
std::string sharded(const fs::path& dir, const std::string& args, const std::string& ext, size_t n) {
  std::vector<std::string> parts;
  for (size_t i = 0; i < n; ++i) {
    fs::path part = dir / ("part-" + std::to_string(n) + "-" + std::to_string(i) + "." + ext);
    std::string err;
    EXPECT_EQ(run_sbert(args + " --shard " + std::to_string(i) + "/" + std::to_string(n) + " -o " + q(part), nullptr,
                        &err),
              0)
        << err;
    EXPECT_TRUE(fs::exists(part.string() + ".shard.json")) << part;
    parts.push_back(q(part));
  }
  std::reverse(parts.begin(), parts.end());  // any order
  fs::path merged = dir / ("merged-" + std::to_string(n) + "." + ext);
  std::string cmd = "merge -q -o " + q(merged);
  for (auto& p : parts) cmd += " " + p;
  std::string err;
  EXPECT_EQ(run_sbert(cmd, nullptr, &err), 0) << err;
  return fs::exists(merged) ? read_file(merged) : "<no merged output>";
}


// Byte identity needs each text's vector to be independent of the batch it falls in: with
// length-sorted batches a shard's batches differ from the whole run's, and padded batches may
// round differently in the last bit, so these runs use --batch-size 1 (see DefaultBatches below).
fs::path expect_merged_equal_one_run(const std::string& format) {
  fs::path dir = temp_dir("shard-cli-equal-" + format);
  write_file(dir / "in.csv", kCsv);
  std::string args = "embed -q --model " + q(model()) + " --batch-size 1 --id-column id --format " + format + " " +
                     q(dir / "in.csv");
  if (format != "npy" && format != "f32") args += " --include-text";
  fs::path whole = dir / ("whole." + format);
  std::string err;
  EXPECT_EQ(run_sbert(args + " -o " + q(whole), nullptr, &err), 0) << err;
  const std::string expected = fs::exists(whole) ? read_file(whole) : "";
  EXPECT_FALSE(expected.empty());
  for (size_t n : {size_t(1), size_t(2), size_t(7), kCsvRecords + 3})
    EXPECT_EQ(sharded(dir, args, format, n), expected) << format << " with " << n << " shards";
  return dir;
}

std::vector<json> jsonl_rows(const std::string& text) {
  std::vector<json> rows;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    rows.push_back(json::parse(text.substr(pos, nl - pos)));
    pos = nl + 1;
  }
  return rows;
}

}  // namespace

TEST(ShardCli, MergedJsonlEqualsOneRun) {
  const fs::path dir = expect_merged_equal_one_run("jsonl");
  // every record once, global indices 0..8, ids in input order.
  std::vector<std::string> ids;
  size_t index = 0;
  for (const json& row : jsonl_rows(read_file(dir / "merged-7.jsonl"))) {
    EXPECT_EQ(row["index"], index++);
    ids.push_back(row["id"]);
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"a", "b", "c", "d", "e", "f", "g", "h", "i"}));
}
TEST(ShardCli, MergedCsvEqualsOneRun) { expect_merged_equal_one_run("csv"); }
TEST(ShardCli, MergedNpyEqualsOneRun) { expect_merged_equal_one_run("npy"); }
// Raw float32: the merged bytes and the shape sidecar (vecs.f32.json) both equal one run's.
TEST(ShardCli, MergedF32AndItsShapeEqualOneRun) {
  const fs::path dir = expect_merged_equal_one_run("f32");
  EXPECT_EQ(read_file(dir / "merged-7.f32.json"), read_file(dir / "whole.f32.json"));
  EXPECT_NE(read_file(dir / "whole.f32.json").find("\"rows\": 9"), std::string::npos) << read_file(dir / "whole.f32.json");
}

// With the default batch size the rows, indices, ids and texts are the same; vectors agree to
// float rounding.
TEST(ShardCli, DefaultBatchesAgreeToRounding) {
  fs::path dir = temp_dir("shard-cli-default-batches");
  write_file(dir / "in.csv", kCsv);
  std::string args = "embed -q --model " + q(model()) + " --id-column id --include-text " + q(dir / "in.csv");
  std::string err;
  ASSERT_EQ(run_sbert(args + " -o " + q(dir / "whole.jsonl"), nullptr, &err), 0) << err;
  std::vector<json> whole = jsonl_rows(read_file(dir / "whole.jsonl"));
  std::vector<json> merged = jsonl_rows(sharded(dir, args, "jsonl", 4));
  ASSERT_EQ(merged.size(), whole.size());
  for (size_t r = 0; r < whole.size(); ++r) {
    EXPECT_EQ(merged[r]["index"], whole[r]["index"]);
    EXPECT_EQ(merged[r]["id"], whole[r]["id"]);
    EXPECT_EQ(merged[r]["text"], whole[r]["text"]);
    ASSERT_EQ(merged[r]["embedding"].size(), whole[r]["embedding"].size());
    for (size_t j = 0; j < whole[r]["embedding"].size(); ++j)
      EXPECT_NEAR(merged[r]["embedding"][j].get<double>(), whole[r]["embedding"][j].get<double>(), 1e-5);
  }
}

TEST(ShardCli, WordsShardsMergeToOneRun) {
  fs::path dir = temp_dir("shard-cli-words");
  write_file(dir / "in.txt", "the bank of the river\n\nmoney in the bank\nriver bank erosion\n");
  std::string args = "words -q --model " + q(model()) + " --batch-size 1 " + q(dir / "in.txt");
  std::string err;
  ASSERT_EQ(run_sbert(args + " -o " + q(dir / "whole.jsonl"), nullptr, &err), 0) << err;
  EXPECT_EQ(sharded(dir, args, "jsonl", 3), read_file(dir / "whole.jsonl"));
}

TEST(ShardCli, SkippedEmptyLinesKeepTheWholeRunsIndices) {
  fs::path dir = temp_dir("shard-cli-lines");
  write_file(dir / "in.txt", "one\n\ntwo words\n\n\nthree little words\nfour\n\nfive five five five five\n");
  for (std::string extra : {"", " --skip-empty"}) {
    std::string args = "embed -q --model " + q(model()) + " --batch-size 1" + extra + " " + q(dir / "in.txt");
    fs::path whole = dir / "whole.jsonl";
    std::string err;
    ASSERT_EQ(run_sbert(args + " -o " + q(whole), nullptr, &err), 0) << err;
    const std::string expected = read_file(whole);
    for (size_t n : {size_t(2), size_t(3), size_t(7)})
      EXPECT_EQ(sharded(dir, args, "jsonl", n), expected) << extra << " with " << n << " shards";
  }
}

TEST(ShardCli, ManifestRecordsTheShard) {
  fs::path dir = temp_dir("shard-cli-manifest");
  write_file(dir / "in.csv", kCsv);
  std::string err;
  ASSERT_EQ(run_sbert("embed -q --model " + q(model()) + " --id-column id " + q(dir / "in.csv") + " --shard 1/2 -o " +
                          q(dir / "p.jsonl"),
                      nullptr, &err),
            0)
      << err;
  json m = json::parse(read_file(dir / "p.jsonl.shard.json"));
  EXPECT_EQ(m["shard"], 1);
  EXPECT_EQ(m["count"], 2);
  EXPECT_EQ(m["records"], kCsvRecords);
  EXPECT_EQ(m["record_begin"], 4);
  EXPECT_EQ(m["record_end"], kCsvRecords);
  EXPECT_EQ(m["first_index"], 4);
  EXPECT_EQ(m["rows"], 5);
  EXPECT_EQ(m["format"], "jsonl");
  EXPECT_EQ(m["key"]["input"][0]["name"], "in.csv");
  EXPECT_EQ(m["key"]["model"], model().string());
  // standard output cannot carry a manifest; stdin cannot be read twice.
  EXPECT_EQ(run_sbert("embed -q --model " + q(model()) + " " + q(dir / "in.csv") + " --shard 0/2", nullptr, &err), 2);
  EXPECT_NE(err.find("-o FILE"), std::string::npos) << err;
  EXPECT_EQ(run_sbert("embed -q --model " + q(model()) + " --shard 0/2 -o " + q(dir / "x.jsonl"), nullptr, &err), 2);
  EXPECT_NE(err.find("standard input"), std::string::npos) << err;
  EXPECT_EQ(run_sbert("embed -q --model " + q(model()) + " " + q(dir / "in.csv") + " --shard 2/2 -o " +
                          q(dir / "x.jsonl"),
                      nullptr, &err),
            2);
  EXPECT_NE(err.find("out of range"), std::string::npos) << err;
}

TEST(ShardCli, ProjectorFoldersMergeToOneRun) {
  fs::path dir = temp_dir("shard-cli-projector");
  write_file(dir / "in.csv", kCsv);
  for (const std::string meta : {"", " --include-text --id-column id"}) {  // one metadata column, and several
    const std::string args = "embed -q --model " + q(model()) + " --batch-size 1 --format projector" + meta + " " +
                             q(dir / "in.csv");
    const fs::path whole = dir / ("whole" + std::to_string(meta.size()));
    std::string err;
    ASSERT_EQ(run_sbert(args + " -o " + q(whole), nullptr, &err), 0) << err;
    for (size_t n : {size_t{2}, kCsvRecords + 2}) {
      std::string parts;
      for (size_t i = 0; i < n; ++i) {
        fs::path part = dir / ("p" + std::to_string(meta.size()) + "-" + std::to_string(n) + "-" + std::to_string(i));
        ASSERT_EQ(run_sbert(args + " --shard " + std::to_string(i) + "/" + std::to_string(n) + " -o " + q(part), nullptr, &err), 0)
            << err;
        parts += " " + q(part);
      }
      fs::path merged = dir / ("m" + std::to_string(meta.size()) + "-" + std::to_string(n));
      ASSERT_EQ(run_sbert("merge -q -o " + q(merged) + parts, nullptr, &err), 0) << err;
      for (const char* f : {"vecs.tsv", "meta.tsv"})
        EXPECT_EQ(read_file(merged / f), read_file(whole / f)) << f << meta << " with " << n << " shards";
    }
  }
}

TEST(ShardCli, MergeRefusesMissingAndMismatchedShards) {
  fs::path dir = temp_dir("shard-cli-refuse");
  write_file(dir / "in.csv", kCsv);
  write_file(dir / "other.csv", std::string(kCsv) + "j,one more\n");
  const std::string base = "embed -q --model " + q(model()) + " ";
  auto part = [&](const std::string& name, const std::string& args) {
    std::string err;
    EXPECT_EQ(run_sbert(base + args + " -o " + q(dir / name), nullptr, &err), 0) << err;
    return " " + q(dir / name);
  };
  std::string p0 = part("0.jsonl", q(dir / "in.csv") + " --shard 0/3");
  std::string p1 = part("1.jsonl", q(dir / "in.csv") + " --shard 1/3");
  std::string p2 = part("2.jsonl", q(dir / "in.csv") + " --shard 2/3");
  std::string p1_opts = part("1-norm.jsonl", q(dir / "in.csv") + " --shard 1/3 --normalize");
  std::string p1_input = part("1-input.jsonl", q(dir / "other.csv") + " --shard 1/3");
  const std::string out = " -o " + q(dir / "out.jsonl");
  std::string err;

  EXPECT_EQ(run_sbert("merge" + out + p0 + p2, nullptr, &err), 2);
  EXPECT_NE(err.find("sbert: error: merge: shard 1/3 is missing"), std::string::npos) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;

  EXPECT_EQ(run_sbert("merge" + out + p0 + p1_opts + p2, nullptr, &err), 2);
  EXPECT_NE(err.find("1-norm.jsonl"), std::string::npos) << err;
  EXPECT_NE(err.find("--normalize"), std::string::npos) << err;

  EXPECT_EQ(run_sbert("merge" + out + p0 + p1_input + p2, nullptr, &err), 2);
  EXPECT_NE(err.find("1-input.jsonl"), std::string::npos) << err;

  EXPECT_EQ(run_sbert("merge" + out + p0 + p1 + p1 + p2, nullptr, &err), 2);
  EXPECT_NE(err.find("given twice"), std::string::npos) << err;

  write_file(dir / "plain.jsonl", "{}\n");
  EXPECT_EQ(run_sbert("merge" + out + p0 + p1 + p2 + " " + q(dir / "plain.jsonl"), nullptr, &err), 2);
  EXPECT_NE(err.find("plain.jsonl"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(dir / "out.jsonl"));

  EXPECT_EQ(run_sbert("merge" + out + p2 + p0 + p1, nullptr, &err), 0) << err;
  EXPECT_TRUE(fs::exists(dir / "out.jsonl"));
}

namespace {

// Pairs with a gold score: 8 records, one of them a quoted multi-line CSV field, one empty text.
const char* kPairs =
    "g,a,b\n"
    "4.5,the cat sat on the mat,a cat is on the mat\n"
    "1.0,dogs bark,\n"
    "3.2,\"a record\nover lines\",a record over lines\n"
    "0.5,fish swim,birds fly\n"
    "2.8,a much longer sentence with many more words,a long sentence with words\n"
    "5.0,x,x\n"
    "1.7,\"quoted \"\"inner\"\" text\",quoted text\n"
    "3.9,the sea,the ocean\n";
const size_t kPairRecords = 8;

TEST(ShardCli, SimilarityPairsShardsMergeToOneRunAndRecomputeTheFigures) {
  fs::path dir = temp_dir("shard-cli-similarity");
  write_file(dir / "pairs.csv", kPairs);
  const std::string args = "similarity -q --model " + q(model()) + " --batch-size 1 --a-column a --b-column b " +
                           "--gold-column g " + q(dir / "pairs.csv");
  std::string whole_err;
  ASSERT_EQ(run_sbert(args + " -o " + q(dir / "whole.csv"), nullptr, &whole_err), 0) << whole_err;
  const std::string expected = read_file(dir / "whole.csv");
  ASSERT_NE(whole_err.find("Pearson"), std::string::npos) << whole_err;
  const std::string figures = whole_err.substr(whole_err.find("sbert: ") + 7);
  for (size_t n : {size_t{1}, size_t{2}, size_t{7}, kPairRecords + 3}) {
    std::vector<std::string> parts;
    for (size_t i = 0; i < n; ++i) {
      fs::path part = dir / ("p-" + std::to_string(n) + "-" + std::to_string(i) + ".csv");
      std::string err;
      ASSERT_EQ(run_sbert(args + " --shard " + std::to_string(i) + "/" + std::to_string(n) + " -o " + q(part), nullptr, &err), 0)
          << err;
      EXPECT_EQ(err.find("Pearson"), std::string::npos) << "a shard printed its own figures: " << err;
      parts.push_back(q(part));
    }
    fs::path merged = dir / ("merged-" + std::to_string(n) + ".csv");
    std::string cmd = "merge -q -o " + q(merged), err;
    for (auto it = parts.rbegin(); it != parts.rend(); ++it) cmd += " " + *it;
    ASSERT_EQ(run_sbert(cmd, nullptr, &err), 0) << err;
    EXPECT_EQ(read_file(merged), expected) << n << " shards";
    // The merge prints the whole input's Pearson/Spearman, as the whole run did.
    EXPECT_NE(err.find(figures), std::string::npos) << "merge: " << err << "\nwhole: " << whole_err;
  }
  std::string err;
  EXPECT_EQ(run_sbert("similarity -q --model " + q(model()) + " " + q(dir / "pairs.csv") + " --shard 0/2 -o " +
                          q(dir / "x.csv"),
                      nullptr, &err),
            2);
  EXPECT_NE(err.find("pairs mode"), std::string::npos) << err;
}

TEST(ShardCli, SearchBuildShardsMergeAndFanOutAsOneIndex) {
  fs::path dir = temp_dir("shard-cli-search");
  write_file(dir / "corpus.csv", kCsv);
  write_file(dir / "q.txt", "a cat\nsome dogs\nlong words\n");
  std::string corpus_lines;
  for (int i = 0; i < 12; ++i) corpus_lines += (i % 3 ? "same text\n" : "text number " + std::to_string(i) + "\n");
  write_file(dir / "corpus.txt", corpus_lines);  // ties: the same text in several shards
  for (const std::string input : {"corpus.csv", "corpus.txt"}) {
    const std::string ids = input == "corpus.csv" ? " --id-column id" : "";
    const std::string build = "search build -q --model " + q(model()) + " --batch-size 1" + ids + " " + q(dir / input);
    const fs::path whole = dir / (input + "-whole");
    std::string err, expected, got;
    ASSERT_EQ(run_sbert(build + " --index " + q(whole), nullptr, &err), 0) << err;
    const std::string query = " -k 20 -i " + q(dir / "q.txt");
    ASSERT_EQ(run_sbert("search query -q --index " + q(whole) + query, &expected, &err), 0) << err;
    const std::vector<size_t> counts = input == "corpus.csv" ? std::vector<size_t>{1, 2, 7, 15} : std::vector<size_t>{7};
    for (size_t n : counts) {
      std::string shards, fan;
      for (size_t i = 0; i < n; ++i) {
        fs::path part = dir / (input + "-s" + std::to_string(n) + "-" + std::to_string(i));
        ASSERT_EQ(run_sbert(build + " --shard " + std::to_string(i) + "/" + std::to_string(n) + " --index " + q(part),
                            nullptr, &err),
                  0)
            << err;
        shards = " " + q(part) + shards;  // any order
        fan = " --index " + q(part) + fan;
      }
      const fs::path merged = dir / (input + "-merged" + std::to_string(n));
      ASSERT_EQ(run_sbert("search merge -q -o " + q(merged) + shards, nullptr, &err), 0) << err;
      ASSERT_EQ(run_sbert("search query -q --index " + q(merged) + query, &got, &err), 0) << err;
      EXPECT_EQ(got, expected) << input << ": merged " << n << " shards";
      ASSERT_EQ(run_sbert("search query -q" + fan + query, &got, &err), 0) << err;
      EXPECT_EQ(got, expected) << input << ": fan-out over " << n << " shards";
    }
  }
  // Merging before every shard exists names the missing one.
  std::string err;
  EXPECT_EQ(run_sbert("search merge -q -o " + q(dir / "partial") + " " + q(dir / "corpus.csv-s7-0") + " " +
                          q(dir / "corpus.csv-s7-2"),
                      nullptr, &err),
            2);
  EXPECT_NE(err.find("shard 1/7 is missing"), std::string::npos) << err;
}

}  // namespace

namespace {

TEST(ShardCli, NliShardsMergeToOneRunWithTheWholeAccuracy) {
  SBERT_REQUIRE_SHARED(shared);
  fs::path dir = temp_dir("shard-cli-nli");
  write_file(dir / "pairs.csv",
             "p,h,gold\nA man eats.,Someone eats.,entailment\nA dog runs.,A cat sleeps.,neutral\n"
             "\"two\nlines\",one line,contradiction\nNobody is here.,Someone is here.,contradiction\n"
             "A boy plays.,A child plays.,entailment\nx,y,not-a-label\n");
  const std::string args = "nli --model " + q(shared / "fixtures/models/nli-bert") +
                           " --batch-size 1 --premise-column p --hypothesis-column h --gold-column gold " +
                           q(dir / "pairs.csv");
  std::string whole_err, err;
  ASSERT_EQ(run_sbert(args + " -o " + q(dir / "whole.jsonl"), nullptr, &whole_err), 0) << whole_err;
  const size_t at = whole_err.find("accuracy");
  ASSERT_NE(at, std::string::npos) << whole_err;
  const std::string report = whole_err.substr(at, whole_err.find("row(s) skipped") - at);
  for (size_t n : {size_t{2}, size_t{9}}) {
    std::string parts;
    for (size_t i = 0; i < n; ++i) {
      fs::path part = dir / ("n" + std::to_string(n) + "-" + std::to_string(i) + ".jsonl");
      ASSERT_EQ(run_sbert(args + " -q --shard " + std::to_string(i) + "/" + std::to_string(n) + " -o " + q(part), nullptr, &err), 0)
          << err;
      EXPECT_EQ(err.find("accuracy"), std::string::npos) << "a shard printed its own accuracy";
      parts += " " + q(part) + " " + q(part.string() + ".shard.json");  // as a glob names them
    }
    fs::path merged = dir / ("merged" + std::to_string(n) + ".jsonl");
    ASSERT_EQ(run_sbert("merge -q -o " + q(merged) + parts, nullptr, &err), 0) << err;
    EXPECT_EQ(read_file(merged), read_file(dir / "whole.jsonl")) << n;
    EXPECT_NE(err.find(report), std::string::npos) << "merge:\n" << err << "\nwhole:\n" << whole_err;
    EXPECT_NE(err.find("'not-a-label' x1"), std::string::npos) << err;
  }
}

}  // namespace

namespace {

TEST(ShardCli, RerankShardsAreReRankedByTheMerge) {
  SBERT_REQUIRE_SHARED(shared);
  fs::path dir = temp_dir("shard-cli-rerank");
  // Two queries interleaved; duplicate texts tie on score across shards (ties: the earlier record).
  std::string csv = "q,t\n";
  const char* texts[] = {"a man plays a guitar", "a dog runs", "a man plays a guitar", "\"two\nlines\"", "music", "",
                         "a man plays a guitar", "a cat", "birds sing", "a man plays a guitar", "rain falls"};
  for (size_t i = 0; i < 11; ++i) csv += std::string(i % 3 ? "dogs" : "music") + "," + texts[i] + "\n";
  write_file(dir / "qt.csv", csv);
  const std::string ce = q(shared / "fixtures/models/cross-encoder-bert");
  for (const std::string mode : {"--query-column q --text-column t --top-k 2 --format csv",
                                 "--query 'a man with a guitar' --text-column t --top-k 3"}) {
    const std::string args = "rerank -q --model " + ce + " --batch-size 1 " + mode + " " + q(dir / "qt.csv");
    std::string expected, err;
    ASSERT_EQ(run_sbert(args, &expected, &err), 0) << err;
    const std::vector<size_t> counts = mode.rfind("--query-column", 0) == 0 ? std::vector<size_t>{1, 2, 7, 14} : std::vector<size_t>{3};
    for (size_t n : counts) {
      std::string parts;
      for (size_t i = 0; i < n; ++i) {
        fs::path part = dir / ("r" + std::to_string(n) + "-" + std::to_string(i) + ".out");
        ASSERT_EQ(run_sbert(args + " --shard " + std::to_string(i) + "/" + std::to_string(n) + " -o " + q(part), nullptr, &err), 0)
            << err;
        parts = " " + q(part) + parts;
      }
      fs::path merged = dir / ("merged" + std::to_string(n) + ".out");
      ASSERT_EQ(run_sbert("merge -q -o " + q(merged) + parts, nullptr, &err), 0) << err;
      EXPECT_EQ(read_file(merged), expected) << mode << " with " << n << " shards";
    }
  }
}

}  // namespace

namespace {

// Issue 32 #9: a part truncated, extended or replaced after its shard ran (or a link to a file
// elsewhere) is refused by name; nothing is written.
TEST(ShardCli, MergeChecksEachPartAgainstItsManifest) {
  fs::path dir = temp_dir("shard-cli-lying-parts");
  write_file(dir / "in.txt", "one\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\nten\n");
  const std::string base = "embed -q --model " + q(model()) + " --batch-size 1 " + q(dir / "in.txt");
  std::string parts, err;
  for (int i = 0; i < 3; ++i) {
    const fs::path part = dir / ("p" + std::to_string(i) + ".jsonl");
    ASSERT_EQ(run_sbert(base + " --shard " + std::to_string(i) + "/3 -o " + q(part), nullptr, &err), 0) << err;
    parts += " " + q(part);
  }
  const std::string merge = "merge -o " + q(dir / "out.jsonl") + parts;
  const fs::path p1 = dir / "p1.jsonl";
  const std::string original = read_file(p1);  // 3 rows (records 3..5)
  ASSERT_EQ(std::count(original.begin(), original.end(), '\n'), 3);

  write_file(p1, original.substr(0, original.find('\n') + 1));  // truncated to 1 row
  EXPECT_EQ(run_sbert(merge, nullptr, &err), 2);
  EXPECT_NE(err.find("sbert: error: shard 1/3 (" + p1.string() + "): " + p1.string() + " holds 1 row in"),
            std::string::npos) << err;
  EXPECT_NE(err.find("its manifest recorded 3 rows"), std::string::npos) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;

  write_file(p1, original + original.substr(0, original.find('\n') + 1));  // one row more
  EXPECT_EQ(run_sbert(merge, nullptr, &err), 2);
  EXPECT_NE(err.find("holds 4 rows"), std::string::npos) << err;

  fs::remove(p1);
  fs::create_symlink("/etc/passwd", p1);
  EXPECT_EQ(run_sbert(merge, nullptr, &err), 2);
  EXPECT_NE(err.find("is a symbolic link to /etc/passwd, outside"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(dir / "out.jsonl"));

  fs::remove(p1);
  write_file(p1, original);
  EXPECT_EQ(run_sbert(merge, nullptr, &err), 0) << err;
  EXPECT_EQ(read_file(dir / "out.jsonl").size(), read_file(dir / "p0.jsonl").size() + original.size() +
                                                     read_file(dir / "p2.jsonl").size());
}

// Issue 31 #1: `similarity --no-header` shards merge byte-identical to one run (the merge used to
// take the first data row of each shard for a header row).
TEST(ShardCli, HeaderlessSimilarityShardsMergeToOneRun) {
  fs::path dir = temp_dir("shard-cli-no-header");
  // STS-B's layout: genre, file, year, id, score, sentence1, sentence2; tab separated, no header.
  write_file(dir / "sts.tsv",
             "main\tf\t2012\t1\t4.5\tthe cat sat\ta cat sat\n"
             "main\tf\t2012\t2\t1.0\tdogs bark\tbirds fly\n"
             "main\tf\t2012\t3\t3.2\tthe sea\tthe ocean\n"
             "main\tf\t2012\t4\t0.5\tfish swim\ta car\n"
             "main\tf\t2012\t5\t2.8\tlong words here\tlong words\n");
  const std::string args = "similarity -q --model " + q(model()) +
                           " --batch-size 1 --input-format tsv --no-header --a-column 5 --b-column 6 --gold-column 4 " +
                           q(dir / "sts.tsv");
  std::string err;
  ASSERT_EQ(run_sbert(args + " -o " + q(dir / "whole.tsv"), nullptr, &err), 0) << err;
  const std::string whole = read_file(dir / "whole.tsv");
  ASSERT_EQ(whole.rfind("main\t", 0), 0u) << "a headerless input gives a headerless output: " << whole;
  for (size_t n : {size_t{2}, size_t{3}, size_t{7}}) {
    std::string parts;
    for (size_t i = 0; i < n; ++i) {
      const fs::path part = dir / ("s" + std::to_string(n) + "-" + std::to_string(i) + ".tsv");
      ASSERT_EQ(run_sbert(args + " --shard " + std::to_string(i) + "/" + std::to_string(n) + " -o " + q(part), nullptr, &err), 0)
          << err;
      parts = " " + q(part) + parts;
    }
    const fs::path merged = dir / ("merged" + std::to_string(n) + ".tsv");
    ASSERT_EQ(run_sbert("merge -o " + q(merged) + parts, nullptr, &err), 0) << err;
    EXPECT_EQ(read_file(merged), whole) << n << " shards";
    EXPECT_NE(err.find("5 pairs"), std::string::npos) << "the merge recomputes the figures over every row: " << err;
  }
}

}  // namespace
