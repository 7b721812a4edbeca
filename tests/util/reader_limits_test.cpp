// Record reader edge cases from the bad-input review: nesting depth, directories, BOMs.
#include "sbert/error.h"
#include "sbert/json_parse.h"
#include "sbert/text_input.h"
#include "test_support.h"

using namespace sbert;
namespace fs = std::filesystem;
using sbert::testing::error_of;
using sbert::testing::temp_dir;
using sbert::testing::write_file;

namespace {
std::vector<Record> read_all(const std::vector<std::string>& files, ReaderOptions o = {}) {
  RecordReader r(files, o);
  std::vector<Record> out;
  Record rec;
  while (r.next(rec)) out.push_back(rec);
  return out;
}
}  // namespace

TEST(ReaderLimits, DeeplyNestedJsonlLineIsAnError) {
  auto dir = temp_dir("deep_jsonl");
  const size_t depth = 100000;
  write_file(dir / "in.jsonl", "{\"text\": \"ok\"}\n{\"text\": " + std::string(depth, '[') +
                                   std::string(depth, ']') + "}\n");
  std::string e = error_of([&] { read_all({(dir / "in.jsonl").string()}); });
  EXPECT_NE(e.find("in.jsonl:2"), std::string::npos) << e;
  EXPECT_NE(e.find("nested deeper than 1000"), std::string::npos) << e;
}

TEST(ReaderLimits, JsonDepthLimitIsExact) {
  std::string ok = std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']');
  EXPECT_TRUE(parse_json(ok).is_array());
  std::string deep = "[" + ok + "]";
  EXPECT_NE(error_of([&] { parse_json(deep, "x.json"); }).find("x.json: JSON nested deeper"), std::string::npos);
  EXPECT_THROW(parse_json(std::string("{\"a\": ")), nlohmann::json::parse_error);
}

TEST(ReaderLimits, DirectoryAsInputIsAnError) {
  auto dir = temp_dir("dir_input");
  fs::create_directories(dir / "sub");
  write_file(dir / "a.txt", "one\n");
  std::string e = error_of([&] { read_all({(dir / "sub").string()}); });
  EXPECT_NE(e.find("sub"), std::string::npos) << e;
  EXPECT_NE(e.find("directory"), std::string::npos) << e;
  // Also among other files: not skipped silently.
  e = error_of([&] { read_all({(dir / "a.txt").string(), (dir / "sub").string()}); });
  EXPECT_NE(e.find("directory"), std::string::npos) << e;
}

TEST(ReaderLimits, Utf8BomIsNotPartOfTheFirstColumn) {
  auto dir = temp_dir("bom");
  const std::string bom = "\xEF\xBB\xBF";
  write_file(dir / "in.csv", bom + "text,label\nhello,1\n");
  write_file(dir / "in.tsv", bom + "text\tlabel\nhello\t1\n");
  for (const char* name : {"in.csv", "in.tsv"}) {
    RecordReader r({(dir / name).string()}, {});
    Record rec;
    ASSERT_TRUE(r.next(rec)) << name;
    ASSERT_FALSE(r.columns().empty());
    EXPECT_EQ(r.columns()[0], "text") << name;
    EXPECT_EQ(rec.fields[0], "hello") << name;
  }
  write_file(dir / "in.txt", bom + "first line\nsecond\n");
  auto lines = read_all({(dir / "in.txt").string()});
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].fields[0], "first line");
}

// Found by search_manifest_fuzz: a number beyond a double's range made nlohmann throw
// out_of_range, which no reader caught as bad input.
TEST(ReaderLimits, HugeNumberIsAOneLineError) {
  const std::string msg = sbert::testing::error_of([] { sbert::parse_json(std::string_view("{\"rows\": 1e999999}"), "manifest.json"); });
  EXPECT_NE(msg.find("manifest.json: invalid JSON"), std::string::npos) << msg;
  const std::string line = sbert::testing::error_of([] { sbert::parse_json(std::string_view("[44000000000000E00008101811]")); });
  EXPECT_NE(line.find("invalid JSON"), std::string::npos) << line;
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

// nlohmann's get<size_t>() on 1.2e27 is an undefined float-to-integer cast (UBSan aborted the
// search-manifest fuzzer on it) and on -3 a silent wrap: json_integer refuses both.
TEST(ReaderLimits, JsonIntegerRefusesFloatsOutOfRangeAndNegatives) {
  using sbert::json_integer;
  auto j = [](const char* text) { return sbert::parse_json(std::string_view(text)); };
  EXPECT_EQ(json_integer<size_t>(j("512"), "x"), 512u);
  EXPECT_EQ(json_integer<size_t>(j("512.0"), "x"), 512u);
  EXPECT_EQ(json_integer<int64_t>(j("-7"), "x"), -7);
  EXPECT_EQ(json_integer<uint64_t>(j("18446744073709551615"), "x"), 18446744073709551615ull);
  for (const char* bad : {"1.2e27", "1.5", "-3", "18446744073709551616.0", "\"12\"", "null", "true"}) {
    const std::string msg = sbert::testing::error_of([&] { json_integer<size_t>(j(bad), "manifest.json: field \"rows\""); });
    EXPECT_NE(msg.find("manifest.json: field \"rows\" must be an integer in [0, "), std::string::npos) << bad << ": " << msg;
  }
  EXPECT_THROW(json_integer<int32_t>(j("2147483648"), "x"), sbert::Error);
  EXPECT_THROW(json_integer<int64_t>(j("9223372036854775808"), "x"), sbert::Error);
  EXPECT_THROW(json_integer<int64_t>(j("-9.3e18"), "x"), sbert::Error);
  EXPECT_EQ(json_integer<int32_t>(j("-2147483648"), "x"), INT32_MIN);
}
