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

namespace {

std::string manifest_of(const std::string& part) { return read_file(part + ".shard.json"); }

}  // namespace

// Issue 32 #9: each part is checked against the size, rows and checksum its manifest recorded.
TEST(Merge, ManifestRecordsTheOutputsSizeRowsAndChecksum) {
  fs::path dir = temp_dir("shard-merge-digest");
  std::string p = make_part(dir, "0.csv", 0, 1, 2, 0, 2, "csv", "id,text\na,\"two\nlines\"\nb,x\n");
  nlohmann::json m = nlohmann::json::parse(manifest_of(p));
  EXPECT_EQ(m["output"]["bytes"], 26);
  EXPECT_EQ(m["output"]["rows"], 2);  // a quoted newline is inside its record; the header is not a row
  EXPECT_EQ(m["output"]["fnv1a64"].get<std::string>().size(), 16u);
  EXPECT_EQ(m["header"], true);
  sbert::ShardManifest back = sbert::read_shard_manifest(p);
  ASSERT_EQ(back.output.count(""), 1u);
  EXPECT_EQ(back.output.at("").bytes, 26u);
  EXPECT_EQ(*back.output.at("").rows, 2u);
  // The same bytes give the same digest; one changed byte another.
  EXPECT_EQ(sbert::digest_bytes("id,text\na,\"two\nlines\"\nb,x\n", "csv", true, "x").fnv1a64, back.output.at("").fnv1a64);
  EXPECT_NE(sbert::digest_bytes("id,text\na,\"two\nlines\"\nb,y\n", "csv", true, "x").fnv1a64, back.output.at("").fnv1a64);
  EXPECT_EQ(*sbert::digest_bytes("a\nb", "jsonl", true, "x").rows, 2u);  // a last line without newline
  EXPECT_EQ(*sbert::digest_bytes("h\na\n", "tsv", false, "x").rows, 2u);  // headerless
  EXPECT_EQ(*sbert::digest_bytes(sbert::npy_header(3, 2) + std::string(24, '\0'), "npy", true, "x").rows, 3u);
  EXPECT_FALSE(sbert::digest_bytes("abcd", "f32", true, "x").rows.has_value());
}

TEST(Merge, RefusesPartsThatChangedAfterTheirManifest) {
  fs::path dir = temp_dir("shard-merge-changed");
  std::string a = make_part(dir, "0.jsonl", 0, 3, 9, 0, 3, "jsonl", "{\"i\":0}\n{\"i\":1}\n{\"i\":2}\n");
  std::string b = make_part(dir, "1.jsonl", 1, 3, 9, 3, 3, "jsonl", "{\"i\":3}\n{\"i\":4}\n{\"i\":5}\n");
  std::string c = make_part(dir, "2.jsonl", 2, 3, 9, 6, 3, "jsonl", "{\"i\":6}\n{\"i\":7}\n{\"i\":8}\n");
  const std::string out = (dir / "out.jsonl").string();
  // Truncated to 2 of its rows.
  write_file(b, "{\"i\":3}\n{\"i\":4}\n");
  std::string e = error_of([&] { sbert::merge_shards({a, b, c}, out); });
  EXPECT_NE(e.find("shard 1/3"), std::string::npos) << e;
  EXPECT_NE(e.find("1.jsonl holds 2 rows in 16 bytes, its manifest recorded 3 rows in 24 bytes"), std::string::npos) << e;
  EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  // One row more.
  write_file(b, "{\"i\":3}\n{\"i\":4}\n{\"i\":5}\n{\"i\":9}\n");
  e = error_of([&] { sbert::merge_shards({a, b, c}, out); });
  EXPECT_NE(e.find("holds 4 rows"), std::string::npos) << e;
  // The same size and rows, other bytes.
  write_file(b, "{\"i\":3}\n{\"i\":4}\n{\"i\":6}\n");
  e = error_of([&] { sbert::merge_shards({a, b, c}, out); });
  EXPECT_NE(e.find("1.jsonl has other content than its manifest recorded"), std::string::npos) << e;
  EXPECT_FALSE(fs::exists(out));
  // Restored: merges.
  write_file(b, "{\"i\":3}\n{\"i\":4}\n{\"i\":5}\n");
  EXPECT_EQ(sbert::merge_shards({a, b, c}, out).rows, 9u);

  // A manifest without a checksum (older sbert, or edited) is refused, not trusted.
  nlohmann::json m = nlohmann::json::parse(manifest_of(b));
  m.erase("output");
  write_file(b + ".shard.json", m.dump());
  e = error_of([&] { sbert::merge_shards({a, b, c}, out + "2"); });
  EXPECT_NE(e.find("no checksum"), std::string::npos) << e;
  // A malformed checksum is a manifest error naming the file.
  m["output"] = {{"bytes", 24}, {"fnv1a64", "xyz"}};
  write_file(b + ".shard.json", m.dump());
  e = error_of([&] { sbert::read_shard_manifest(b); });
  EXPECT_NE(e.find("1.jsonl.shard.json"), std::string::npos) << e;
  EXPECT_NE(e.find("fnv1a64"), std::string::npos) << e;
}

TEST(Merge, RefusesATruncatedNpyPart) {
  fs::path dir = temp_dir("shard-merge-npy-cut");
  std::string rows2 = sbert::npy_header(2, 2) + std::string(16, '\0');
  std::string a = make_part(dir, "0.npy", 0, 1, 2, 0, 2, "npy", rows2);
  EXPECT_EQ(*sbert::read_shard_manifest(a).output.at("").rows, 2u);
  write_file(a, rows2.substr(0, rows2.size() - 4));  // the data no longer matches the shape
  std::string e = error_of([&] { sbert::merge_shards({a}, (dir / "all.npy").string()); });
  EXPECT_NE(e.find("0.npy holds " + std::to_string(rows2.size() - 4) + " bytes, its manifest recorded 2 rows in " +
                   std::to_string(rows2.size()) + " bytes"),
            std::string::npos)
      << e;
}

TEST(Merge, SymlinkedPartsOnlyInsideTheirFolder) {
  fs::path dir = temp_dir("shard-merge-links");
  fs::path outside = temp_dir("shard-merge-links-outside");
  std::string a = make_part(dir, "0.jsonl", 0, 2, 4, 0, 2, "jsonl", "a\nb\n");
  // Part 1 written elsewhere, then linked (part and manifest) from dir.
  std::string far = make_part(outside, "1.jsonl", 1, 2, 4, 2, 2, "jsonl", "c\nd\n");
  fs::create_symlink(far, dir / "1.jsonl");
  fs::create_symlink(far + ".shard.json", dir / "1.jsonl.shard.json");
  const std::string out = (dir / "out.jsonl").string();
  std::string e = error_of([&] { sbert::merge_shards({a, (dir / "1.jsonl").string()}, out); });
  EXPECT_NE(e.find("is a symbolic link to"), std::string::npos) << e;
  EXPECT_NE(e.find("outside"), std::string::npos) << e;
  EXPECT_FALSE(fs::exists(out));
  // A link inside the parts' folder is followed.
  fs::create_directories(dir / "real");
  std::string inside = make_part(dir / "real", "1.jsonl", 1, 2, 4, 2, 2, "jsonl", "c\nd\n");
  fs::create_directories(dir / "links");
  std::string a2 = make_part(dir / "links", "0.jsonl", 0, 2, 4, 0, 2, "jsonl", "a\nb\n");
  fs::create_symlink("../real/1.jsonl", dir / "links" / "1.jsonl");  // resolves outside links/
  fs::create_symlink("../real/1.jsonl.shard.json", dir / "links" / "1.jsonl.shard.json");
  EXPECT_THROW(sbert::merge_shards({a2, (dir / "links" / "1.jsonl").string()}, out), sbert::Error);
  fs::create_symlink("real/1.jsonl", dir / "1b.jsonl");  // resolves inside dir/
  fs::create_symlink("real/1.jsonl.shard.json", dir / "1b.jsonl.shard.json");
  EXPECT_EQ(sbert::merge_shards({a, (dir / "1b.jsonl").string()}, out).rows, 4u);
  EXPECT_EQ(read_file(out), "a\nb\nc\nd\n");
  (void)inside;
  // Not a regular file: refused before reading (a FIFO or a device would block or never end).
  std::string d = make_part(dir, "d0.jsonl", 0, 1, 1, 0, 1, "jsonl", "a\n");
  fs::remove(d);
  fs::create_directories(d);
  e = error_of([&] { sbert::merge_shards({d}, out + "2"); });
  EXPECT_NE(e.find("not a regular file"), std::string::npos) << e;
}

// Issue 31 #1: shards of headerless input merge as they are (no data row taken for a header).
TEST(Merge, HeaderlessCsvShardsConcatenate) {
  fs::path dir = temp_dir("shard-merge-headerless");
  auto part = [&](const std::string& name, size_t i, size_t first, size_t rows, const std::string& content) {
    std::string path = (dir / name).string();
    write_file(path, content);
    sbert::ShardManifest m;
    m.shard = i;
    m.count = 2;
    m.records = 4;
    m.range = sbert::shard_range(4, i, 2);
    m.first_index = first;
    m.rows = rows;
    m.format = "tsv";
    m.header = false;
    m.key = {{"model", "m"}, {"options", {{"--pooling", {"mean"}}}}};
    sbert::write_shard_manifest(path, m);
    return path;
  };
  std::string a = part("0.tsv", 0, 0, 2, "x\ty\t0.5\nz\tw\t0.25\n");
  std::string b = part("1.tsv", 1, 2, 2, "p\tq\t1\nr\ts\t0\n");
  EXPECT_EQ(nlohmann::json::parse(manifest_of(a))["output"]["rows"], 2);
  sbert::merge_shards({b, a}, (dir / "all.tsv").string());
  EXPECT_EQ(read_file(dir / "all.tsv"), "x\ty\t0.5\nz\tw\t0.25\np\tq\t1\nr\ts\t0\n");
  // A headerless shard does not join shards with a header row.
  std::string c = make_part(dir, "1h.tsv", 1, 2, 4, 2, 2, "tsv", "a\tb\ts\np\tq\t1\nr\ts\t0\n");
  std::string e = error_of([&] { sbert::merge_shards({a, c}, (dir / "x.tsv").string()); });
  EXPECT_NE(e.find("header row"), std::string::npos) << e;
}
