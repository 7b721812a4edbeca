// What a new user meets in the first hour: defaults, error messages, option errors, -q, ids
// carried by search, text beside the results. Runs on a generated model (no ../shared needed).
#include <algorithm>

#include "sbert/random_model.h"
#include "cli_support.h"
#include "test_support.h"

namespace fs = std::filesystem;
using sbert::testing::parse_jsonl;
using sbert::testing::q;
using sbert::testing::run_sbert;
using nlohmann::json;
using sbert::testing::read_file;
using sbert::testing::run_command;
using sbert::testing::temp_dir;
using sbert::testing::write_file;

namespace {

size_t lines_of(const std::string& s) { return static_cast<size_t>(std::count(s.begin(), s.end(), '\n')); }

const fs::path& model() { return sbert::testing::tiny_model("usability-model"); }

}  // namespace

TEST(Usability, MistypedCommandSuggestsTheNearest) {
  std::string out, err;
  EXPECT_EQ(run_sbert("embedd x.txt", &out, &err), 2);
  EXPECT_EQ(lines_of(err), 1u) << err;
  EXPECT_NE(err.find("sbert: error: unknown command 'embedd' (did you mean 'embed'?)"), std::string::npos) << err;
  EXPECT_EQ(run_sbert("serach", &out, &err), 2);
  EXPECT_NE(err.find("did you mean 'search'?"), std::string::npos) << err;
}

TEST(Usability, OptionErrorsAreOneSbertErrorLine) {
  std::string out, err;
  EXPECT_EQ(run_sbert("embed --no-such-option", &out, &err), 2);
  EXPECT_EQ(lines_of(err), 1u) << err;
  EXPECT_EQ(err.rfind("sbert: error: ", 0), 0u) << err;
  EXPECT_NE(err.find("--no-such-option"), std::string::npos) << err;
  EXPECT_NE(err.find("sbert embed --help"), std::string::npos) << err;
  EXPECT_EQ(run_sbert("similarity --top-k notanumber", &out, &err), 2);
  EXPECT_EQ(lines_of(err), 1u) << err;
  EXPECT_EQ(err.rfind("sbert: error: ", 0), 0u) << err;
}

// JSON Lines default to the key "text"; a CSV defaults to the column named "text".
TEST(Usability, CsvDefaultsToTheTextColumn) {
  auto dir = temp_dir("usability-csv");
  write_file(dir / "in.csv", "id,text,extra\na1,hello world,x\na2,second line,y\n");
  std::string out, err;
  ASSERT_EQ(run_sbert("embed -q --model " + q(model()) + " --id-column id --include-text " + q(dir / "in.csv"), &out, &err), 0)
      << err;
  auto rows = parse_jsonl(out);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0]["id"], "a1");
  EXPECT_EQ(rows[0]["text"], "hello world");
  EXPECT_EQ(rows[1]["text"], "second line");
  // Without a "text" column the error lists the columns and says how to choose.
  write_file(dir / "no_text.csv", "id,body\na1,hello\n");
  EXPECT_EQ(run_sbert("embed -q --model " + q(model()) + " " + q(dir / "no_text.csv"), &out, &err), 2);
  EXPECT_NE(err.find("none named 'text'"), std::string::npos) << err;
  EXPECT_NE(err.find("--column"), std::string::npos) << err;
  EXPECT_NE(err.find("columns: id, body"), std::string::npos) << err;
}

TEST(Usability, TabSeparatedFileNamedCsvGetsAHint) {
  auto dir = temp_dir("usability-tsv");
  write_file(dir / "pairs.csv", "a\tb\tscore\nx\ty\t1\n");
  std::string out, err;
  EXPECT_EQ(run_sbert("embed -q --model " + q(model()) + " --column 1 " + q(dir / "pairs.csv"), &out, &err), 2);
  EXPECT_EQ(lines_of(err), 1u) << err;
  EXPECT_NE(err.find("looks tab-separated: use --input-format tsv"), std::string::npos) << err;
}

TEST(Usability, TextBesideTheResults) {
  auto dir = temp_dir("usability-text");
  write_file(dir / "in.txt", "alpha beta\ngamma\n");
  std::string out, err;
  ASSERT_EQ(run_sbert("embed -q --model " + q(model()) + " --include-text --format csv " + q(dir / "in.txt"), &out, &err), 0)
      << err;
  EXPECT_EQ(out.substr(0, out.find('\n')).substr(0, 13), "index,text,e0");
  EXPECT_NE(out.find("\n0,alpha beta,"), std::string::npos) << out;
  ASSERT_EQ(run_sbert("embed -q --model " + q(model()) + " " + q(dir / "in.txt"), &out, &err), 0) << err;
  EXPECT_FALSE(parse_jsonl(out)[0].contains("text"));  // only on request
}

// Token offsets are code points (as Hugging Face reports them) unless bytes are asked for.
TEST(Usability, TokenOffsetsAreCodePoints) {
  auto dir = temp_dir("usability-offsets");
  write_file(dir / "in.txt", "\xC3\xA9t\xC3\xA9 ok\n");  // "été ok": 6 characters, 8 bytes
  std::string out, err;
  ASSERT_EQ(run_sbert("embed -q --model " + q(model()) + " --output-value token " + q(dir / "in.txt"), &out, &err), 0) << err;
  auto rows = parse_jsonl(out);
  ASSERT_EQ(rows.size(), 1u);
  size_t last_end = 0;
  for (auto& o : rows[0]["offsets"]) last_end = std::max(last_end, o[1].get<size_t>());
  EXPECT_EQ(last_end, 6u) << rows[0]["offsets"].dump();
  ASSERT_EQ(run_sbert("embed -q --model " + q(model()) + " --output-value token --offsets bytes " + q(dir / "in.txt"), &out,
                  &err), 0) << err;
  last_end = 0;
  rows = parse_jsonl(out);
  for (auto& o : rows[0]["offsets"]) last_end = std::max(last_end, o[1].get<size_t>());
  EXPECT_EQ(last_end, 8u);
}

// An index built with ids keeps taking ids from the same column; input without it is refused,
// never given invented ids.
TEST(Usability, SearchAddUsesTheRecordedIdColumn) {
  auto dir = temp_dir("usability-search");
  write_file(dir / "a.jsonl", "{\"id\": \"d1\", \"text\": \"a cat sat\"}\n{\"id\": \"d2\", \"text\": \"a dog ran\"}\n");
  write_file(dir / "b.jsonl", "{\"id\": \"d3\", \"text\": \"fish swim\"}\n");
  write_file(dir / "noid.jsonl", "{\"text\": \"birds fly\"}\n");
  const std::string idx = q(dir / "idx");
  std::string out, err;
  ASSERT_EQ(run_sbert("search build -q --index " + idx + " --model " + q(model()) + " --id-field id " + q(dir / "a.jsonl"),
                  &out, &err), 0) << err;
  ASSERT_EQ(run_sbert("search add -q --index " + idx + " " + q(dir / "b.jsonl"), &out, &err), 0) << err;
  ASSERT_EQ(run_sbert("search query -q --index " + idx + " -k 3 'fish swim'", &out, &err), 0) << err;
  auto r = parse_jsonl(out);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0]["results"][0]["id"], "d3");
  EXPECT_EQ(run_sbert("search add -q --index " + idx + " " + q(dir / "noid.jsonl"), &out, &err), 2);
  EXPECT_NE(err.find("no id column 'id'"), std::string::npos) << err;
  // Messages name the options to use.
  EXPECT_EQ(run_sbert("search add -q --index " + idx + " " + q(dir / "b.jsonl"), &out, &err), 2);
  EXPECT_NE(err.find("--upsert"), std::string::npos) << err;
  EXPECT_EQ(run_sbert("search build -q --index " + idx + " --model " + q(model()) + " " + q(dir / "a.jsonl"), &out, &err), 2);
  EXPECT_NE(err.find("--overwrite"), std::string::npos) << err;
}

// An IVF index with nprobe 1 still returns k results when it has k rows, and -q means quiet:
// FAISS's own clustering warnings do not get through.
TEST(Usability, IvfQueryReturnsKResultsQuietly) {
  auto dir = temp_dir("usability-ivf");
  std::string body;
  for (int i = 0; i < 120; ++i) body += "sentence number " + std::to_string(i) + " about topic " + std::to_string(i % 7) + "\n";
  write_file(dir / "c.txt", body);
  std::string out, err;
  ASSERT_EQ(run_sbert("search build -q --index " + q(dir / "idx") + " --model " + q(model()) + " --factory IVF16,Flat " +
                      q(dir / "c.txt"), &out, &err), 0) << err;
  EXPECT_EQ(err, "");
  ASSERT_EQ(run_sbert("search query -q --index " + q(dir / "idx") + " -k 40 'topic 3'", &out, &err), 0) << err;
  EXPECT_EQ(err, "");
  auto r = parse_jsonl(out);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0]["results"].size(), 40u);
}

TEST(Usability, CountsReadAsEnglish) {
  auto dir = temp_dir("usability-cluster");
  write_file(dir / "in.txt", "one\ntwo\nthree\n");
  std::string out, err;
  ASSERT_EQ(run_sbert("cluster --model " + q(model()) + " --method kmeans --k 1 --summary " + q(dir / "in.txt"), &out, &err), 0)
      << err;
  EXPECT_NE(out.find("1 cluster over 3 rows"), std::string::npos) << out;
  EXPECT_EQ(out.find("1 clusters"), std::string::npos) << out;
  EXPECT_EQ(err.find("1 clusters"), std::string::npos) << err;
}
