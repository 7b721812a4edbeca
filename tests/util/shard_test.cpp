// Shard ranges, --shard parsing, manifests and merging shard outputs (sbert/shard.h).
#include "sbert/shard.h"

#include <gtest/gtest.h>

#include <map>

#include "sbert/error.h"
#include "sbert/npy.h"
#include "test_support.h"

namespace fs = std::filesystem;
using sbert::testing::error_of;
using sbert::testing::read_file;
using sbert::testing::temp_dir;
using sbert::testing::write_file;

namespace {

sbert::EnvLookup env_of(std::map<std::string, std::string> vars) {
  auto shared = std::make_shared<std::map<std::string, std::string>>(std::move(vars));
  return [shared](const char* name) -> const char* {
    auto it = shared->find(name);
    return it == shared->end() ? nullptr : it->second.c_str();
  };
}

}  // namespace

TEST(ShardRange, CoversEveryRecordOnceInOrder) {
  for (size_t records : {0u, 1u, 5u, 7u, 100u, 101u}) {
    for (size_t count : {1u, 2u, 3u, 7u, 12u, 200u}) {
      size_t next = 0;
      for (size_t i = 0; i < count; ++i) {
        sbert::RecordRange r = sbert::shard_range(records, i, count);
        EXPECT_EQ(r.begin, next) << records << " " << i << "/" << count;
        EXPECT_LE(r.begin, r.end);
        // sizes differ by at most one
        EXPECT_LE(r.size(), records / count + 1);
        EXPECT_GE(r.size(), records / count);
        next = r.end;
      }
      EXPECT_EQ(next, records);
    }
  }
}

TEST(ShardRange, FloorFormula) {
  // [floor(I*R/N), floor((I+1)*R/N)) for R = 10, N = 3: [0,3) [3,6) [6,10)
  EXPECT_EQ(sbert::shard_range(10, 0, 3).end, 3u);
  EXPECT_EQ(sbert::shard_range(10, 1, 3).begin, 3u);
  EXPECT_EQ(sbert::shard_range(10, 1, 3).end, 6u);
  EXPECT_EQ(sbert::shard_range(10, 2, 3).begin, 6u);
  EXPECT_EQ(sbert::shard_range(10, 2, 3).end, 10u);
  // No overflow for a huge record count.
  const size_t big = size_t(1) << 62;
  EXPECT_EQ(sbert::shard_range(big, 3, 4).begin, big / 4 * 3);
  EXPECT_THROW(sbert::shard_range(10, 3, 3), sbert::Error);
}

TEST(ParseShard, IOverN) {
  EXPECT_FALSE(sbert::parse_shard("").enabled);
  auto s = sbert::parse_shard("2/7");
  EXPECT_TRUE(s.enabled);
  EXPECT_EQ(s.index, 2u);
  EXPECT_EQ(s.count, 7u);
  EXPECT_TRUE(sbert::parse_shard("0/1").enabled);
  for (const char* bad : {"7/7", "1/0", "a/3", "1/", "/3", "3", "-1/3", "1/3/4", "1 /3"})
    EXPECT_THROW(sbert::parse_shard(bad), sbert::Error) << bad;
  EXPECT_NE(error_of([] { sbert::parse_shard("7/7"); }).find("out of range"), std::string::npos);
  EXPECT_THROW(sbert::parse_shard("1/3", 4), sbert::Error);
}

TEST(ParseShard, AutoFromSlurmOrIndexedJobs) {
  auto s = sbert::parse_shard("auto", 0, env_of({{"SLURM_ARRAY_TASK_ID", "3"}, {"SLURM_ARRAY_TASK_COUNT", "5"}}));
  EXPECT_EQ(s.index, 3u);
  EXPECT_EQ(s.count, 5u);
  s = sbert::parse_shard("auto", 0,
                         env_of({{"SLURM_ARRAY_TASK_ID", "4"}, {"SLURM_ARRAY_TASK_MIN", "1"}, {"SLURM_ARRAY_TASK_COUNT", "4"}}));
  EXPECT_EQ(s.index, 3u);
  EXPECT_EQ(s.count, 4u);
  // A re-run of index 2 alone (sbatch --array=2) with --shard-count 3 is still shard 2 of 3.
  s = sbert::parse_shard("auto", 3,
                         env_of({{"SLURM_ARRAY_TASK_ID", "2"}, {"SLURM_ARRAY_TASK_MIN", "2"}, {"SLURM_ARRAY_TASK_COUNT", "1"}}));
  EXPECT_EQ(s.index, 2u);
  EXPECT_EQ(s.count, 3u);
  s = sbert::parse_shard("auto", 6, env_of({{"JOB_COMPLETION_INDEX", "5"}}));
  EXPECT_EQ(s.index, 5u);
  EXPECT_EQ(s.count, 6u);
  s = sbert::parse_shard("auto", 0, env_of({{"JOB_COMPLETION_INDEX", "0"}, {"SBERT_SHARD_COUNT", "2"}}));
  EXPECT_EQ(s.count, 2u);
  EXPECT_THROW(sbert::parse_shard("auto", 0, env_of({})), sbert::Error);
  EXPECT_THROW(sbert::parse_shard("auto", 0, env_of({{"JOB_COMPLETION_INDEX", "1"}})), sbert::Error);
  EXPECT_THROW(sbert::parse_shard("auto", 0, env_of({{"JOB_COMPLETION_INDEX", "x"}, {"SBERT_SHARD_COUNT", "2"}})),
               sbert::Error);
  EXPECT_THROW(sbert::parse_shard("auto", 2, env_of({{"JOB_COMPLETION_INDEX", "2"}})), sbert::Error);
}

namespace {

// Writes shard `i` of `n` of a run over `records` records, `rows` of them in the shard.
std::string make_part(const fs::path& dir, const std::string& name, size_t i, size_t n, size_t records,
                      size_t first_index, size_t rows, const std::string& format, const std::string& content,
                      const std::string& model = "m") {
  std::string path = (dir / name).string();
  write_file(path, content);
  sbert::ShardManifest m;
  m.shard = i;
  m.count = n;
  m.records = records;
  m.range = sbert::shard_range(records, i, n);
  m.first_index = first_index;
  m.rows = rows;
  m.format = format;
  m.key = {{"model", model}, {"options", {{"--pooling", {"mean"}}}}};
  sbert::write_shard_manifest(path, m);
  return path;
}

}  // namespace

TEST(Manifest, RoundTrips) {
  fs::path dir = temp_dir("shard-manifest");
  std::string p = make_part(dir, "a.jsonl", 1, 3, 10, 3, 3, "jsonl", "x");
  EXPECT_TRUE(fs::exists(p + ".shard.json"));
  auto m = sbert::read_shard_manifest(p);
  EXPECT_EQ(m.shard, 1u);
  EXPECT_EQ(m.count, 3u);
  EXPECT_EQ(m.range.begin, 3u);
  EXPECT_EQ(m.range.end, 6u);
  EXPECT_EQ(m.format, "jsonl");
  EXPECT_EQ(m.key["model"], "m");
  write_file(dir / "bad.jsonl.shard.json", "{\"sbert_shard\": 1}");
  EXPECT_THROW(sbert::read_shard_manifest((dir / "bad.jsonl").string()), sbert::Error);
  EXPECT_NE(error_of([&] { sbert::read_shard_manifest((dir / "none.jsonl").string()); }).find("none.jsonl"),
            std::string::npos);
}

TEST(Merge, JsonlAndCsvInRecordOrder) {
  fs::path dir = temp_dir("shard-merge-text");
  // 5 records in 3 shards: [0,1) [1,3) [3,5); given out of order.
  std::vector<std::string> parts = {
      make_part(dir, "2.jsonl", 2, 3, 5, 3, 2, "jsonl", "{\"index\":3}\n{\"index\":4}\n"),
      make_part(dir, "0.jsonl", 0, 3, 5, 0, 1, "jsonl", "{\"index\":0}\n"),
      make_part(dir, "1.jsonl", 1, 3, 5, 1, 2, "jsonl", "{\"index\":1}\n{\"index\":2}\n")};
  auto r = sbert::merge_shards(parts, (dir / "all.jsonl").string());
  EXPECT_EQ(r.rows, 5u);
  // A glob that also names the manifests (part-*): each output counts once.
  std::vector<std::string> globbed = parts;
  for (const auto& p : parts) globbed.push_back(p + ".shard.json");
  EXPECT_EQ(sbert::check_shard_set(globbed).size(), 3u);
  EXPECT_EQ(sbert::merge_shards(globbed, (dir / "all2.jsonl").string()).rows, 5u);
  EXPECT_EQ(read_file(dir / "all.jsonl"), "{\"index\":0}\n{\"index\":1}\n{\"index\":2}\n{\"index\":3}\n{\"index\":4}\n");

  // csv: one header; an empty shard (no header at all) is fine.
  std::vector<std::string> csv = {
      make_part(dir, "0.csv", 0, 3, 2, 0, 0, "csv", ""),
      make_part(dir, "1.csv", 1, 3, 2, 0, 1, "csv", "index,e0\n0,1\n"),
      make_part(dir, "2.csv", 2, 3, 2, 1, 1, "csv", "index,e0\n1,\"2\n3\"\n")};
  sbert::merge_shards(csv, (dir / "all.csv").string());
  EXPECT_EQ(read_file(dir / "all.csv"), "index,e0\n0,1\n1,\"2\n3\"\n");
}

TEST(Merge, NpyRowsConcatenatedHeaderRewritten) {
  fs::path dir = temp_dir("shard-merge-npy");
  auto npy = [](size_t rows, size_t cols, float start) {
    std::string s = sbert::npy_header(rows, cols);
    for (size_t i = 0; i < rows * cols; ++i) {
      float v = start + static_cast<float>(i);
      s.append(reinterpret_cast<const char*>(&v), sizeof v);
    }
    return s;
  };
  std::vector<std::string> parts = {make_part(dir, "0.npy", 0, 3, 3, 0, 2, "npy", npy(2, 2, 0)),
                                    make_part(dir, "1.npy", 1, 3, 3, 2, 0, "npy", npy(0, 2, 0)),
                                    make_part(dir, "2.npy", 2, 3, 3, 2, 1, "npy", npy(1, 2, 4))};
  sbert::merge_shards(parts, (dir / "all.npy").string());
  EXPECT_EQ(read_file(dir / "all.npy"), npy(3, 2, 0));
  sbert::Matrix m = sbert::read_npy((dir / "all.npy").string());
  EXPECT_EQ(m.rows, 3u);
  EXPECT_EQ(m.row(2)[1], 5.0f);
}

TEST(Merge, RefusesMissingDuplicatedOrMismatchedShards) {
  fs::path dir = temp_dir("shard-merge-refuse");
  std::string a = make_part(dir, "0.jsonl", 0, 3, 6, 0, 2, "jsonl", "a\nb\n");
  std::string b = make_part(dir, "1.jsonl", 1, 3, 6, 2, 2, "jsonl", "c\nd\n");
  std::string c = make_part(dir, "2.jsonl", 2, 3, 6, 4, 2, "jsonl", "e\nf\n");
  std::string out = (dir / "out.jsonl").string();

  std::string e = error_of([&] { sbert::merge_shards({a, c}, out); });
  EXPECT_NE(e.find("shard 1/3 is missing"), std::string::npos) << e;
  e = error_of([&] { sbert::merge_shards({a, b}, out); });
  EXPECT_NE(e.find("shard 2/3 is missing"), std::string::npos) << e;
  e = error_of([&] { sbert::merge_shards({a, b, c, b}, out); });
  EXPECT_NE(e.find("given twice"), std::string::npos) << e;
  std::string other = make_part(dir, "1-other.jsonl", 1, 3, 6, 2, 2, "jsonl", "c\nd\n", "another-model");
  e = error_of([&] { sbert::merge_shards({a, other, c}, out); });
  EXPECT_NE(e.find("1-other.jsonl"), std::string::npos) << e;
  EXPECT_NE(e.find("model"), std::string::npos) << e;
  std::string fewer = make_part(dir, "1-fewer.jsonl", 1, 3, 5, 1, 2, "jsonl", "c\nd\n");
  e = error_of([&] { sbert::merge_shards({a, fewer, c}, out); });
  EXPECT_NE(e.find("1-fewer.jsonl"), std::string::npos) << e;
  std::string of4 = make_part(dir, "1of4.jsonl", 1, 4, 6, 1, 2, "jsonl", "c\nd\n");
  EXPECT_THROW(sbert::merge_shards({a, of4, c}, out), sbert::Error);
  std::string csv = make_part(dir, "1.csv", 1, 3, 6, 2, 2, "csv", "h\nc\nd\n");
  EXPECT_THROW(sbert::merge_shards({a, csv, c}, out), sbert::Error);
  EXPECT_THROW(sbert::merge_shards({}, out), sbert::Error);
  EXPECT_FALSE(fs::exists(out));  // nothing written on error
  sbert::merge_shards({c, a, b}, out);
  EXPECT_EQ(read_file(out), "a\nb\nc\nd\ne\nf\n");
}
