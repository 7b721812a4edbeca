// The fan-out of one query over several indexes: merged by score with the tie rule of one
// index, one hit per id; and the check that the indexes of one query belong together.
#include <gtest/gtest.h>

#include "sbert/error.h"
#include "sbert/search_index.h"
#include "sbert/shard.h"
#include "test_support.h"

namespace sbert {
namespace {

SearchHit hit(const std::string& id, float score) {
  SearchHit h;
  h.id = id;
  h.score = score;
  return h;
}

std::vector<std::string> ids(const std::vector<SearchHit>& hits) {
  std::vector<std::string> out;
  for (const auto& h : hits) out.push_back(h.id);
  return out;
}

TEST(MergeHits, ByScoreEarlierIndexFirstOnTiesOneHitPerId) {
  std::vector<SearchHit> hits{hit("a", 0.9f), hit("b", 0.5f), hit("c", 0.5f)};
  size_t dropped = merge_hits(hits, {hit("d", 0.5f), hit("a", 0.8f), hit("e", 0.95f)}, 4);
  EXPECT_EQ(dropped, 1u);  // "a" again, with a lower score
  EXPECT_EQ(ids(hits), (std::vector<std::string>{"e", "a", "b", "c"}));
  for (size_t r = 0; r < hits.size(); ++r) EXPECT_EQ(hits[r].rank, r + 1);
  EXPECT_FLOAT_EQ(hits[1].score, 0.9f);  // the best hit of the id is kept
}

TEST(MergeHits, DisjointListsLoseNothingButTheTail) {
  std::vector<SearchHit> hits{hit("a", 0.3f), hit("b", 0.1f)};
  EXPECT_EQ(merge_hits(hits, {hit("c", 0.2f), hit("d", 0.0f)}, 3), 0u);
  EXPECT_EQ(ids(hits), (std::vector<std::string>{"a", "c", "b"}));
}

TEST(QueryIndexes, TheSameFolderTwiceIsRefused) {
  auto dir = testing::temp_dir("query-indexes");
  std::filesystem::create_directories(dir / "idx");
  const std::string a = (dir / "idx").string(), b = (dir / "." / "idx" / "").string();
  try {
    check_query_indexes({a, b});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("the same index"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(check_query_indexes({a}));
}

TEST(QueryIndexes, ShardsOfAnotherRunOrAShardTwiceAreRefused) {
  auto dir = testing::temp_dir("query-shards");
  auto shard = [&](const std::string& name, size_t i, size_t n, const std::string& input) {
    std::filesystem::create_directories(dir / name);
    ShardManifest m;
    m.shard = i, m.count = n, m.records = 10, m.range = {0, 10}, m.rows = 10, m.format = "index";
    m.key = {{"input", input}};
    write_shard_manifest((dir / name).string(), m);
    return (dir / name).string();
  };
  const auto s0 = shard("s0", 0, 2, "a.txt"), s1 = shard("s1", 1, 2, "a.txt");
  EXPECT_NO_THROW(check_query_indexes({s0, s1}));
  const auto other = shard("o1", 1, 2, "b.txt"), again = shard("again0", 0, 2, "a.txt");
  const auto three = shard("t1", 1, 3, "a.txt");
  auto message = [](const std::vector<std::string>& f) {
    try {
      check_query_indexes(f);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(message({s0, other}).find("another run"), std::string::npos) << message({s0, other});
  EXPECT_NE(message({s0, three}).find("shard count 3 vs 2"), std::string::npos) << message({s0, three});
  EXPECT_NE(message({s0, again}).find("given twice"), std::string::npos) << message({s0, again});
  std::filesystem::create_directories(dir / "plain");
  EXPECT_NE(message({s0, (dir / "plain").string()}).find("not a shard"), std::string::npos);
}

}  // namespace
}  // namespace sbert
