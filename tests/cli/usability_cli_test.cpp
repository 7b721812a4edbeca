// What a new user meets in the first hour: defaults, error messages, option errors, -q, ids
// carried by search, text beside the results. Runs on a generated model (no ../shared needed).
#include <algorithm>
#include <sstream>

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

// One spelling for offsets everywhere (`--offsets chars|bytes`), and a value that is not a unit
// says so instead of "cannot open bytes".
TEST(Usability, OffsetsAreSpelledTheSameInEveryCommand) {
  for (const char* cmd : {"tokenize", "embed", "words"}) {
    std::string out, err;
    ASSERT_EQ(run_sbert(std::string(cmd) + " --help", &out, &err), 0) << err;
    EXPECT_NE(out.find("--offsets {chars,bytes}"), std::string::npos) << cmd << ":\n" << out;
    EXPECT_EQ(out.find("--offset-unit"), std::string::npos) << cmd;
  }
  auto dir = temp_dir("usability-offsets");
  write_file(dir / "in.txt", "Café au lait\n");
  std::string out, err;
  ASSERT_EQ(run_sbert("tokenize --model " + q(model()) + " --offsets bytes " + q(dir / "in.txt"), &out, &err), 0) << err;
  auto rows = parse_jsonl(out);
  ASSERT_EQ(rows.size(), 1u);
  ASSERT_TRUE(rows[0].contains("offsets")) << out;
  ASSERT_EQ(run_sbert("tokenize --model " + q(model()) + " --offsets chars " + q(dir / "in.txt"), &out, &err), 0) << err;
  auto chars = parse_jsonl(out);
  EXPECT_NE(rows[0]["offsets"], chars[0]["offsets"]);  // "é" is 1 code point, 2 bytes
  EXPECT_EQ(run_sbert("tokenize --model " + q(model()) + " --offsets " + q(dir / "in.txt"), &out, &err), 2);
  EXPECT_EQ(err.find("cannot open"), std::string::npos) << err;
  EXPECT_NE(err.find("--offsets"), std::string::npos) << err;
}

// Help shows N, X or {choices} and "(default 32)", never CLI11's type strings.
TEST(Usability, HelpShowsNoTypeStrings) {
  for (const char* cmd : {"embed", "similarity", "cluster", "nli", "nli-zeroshot", "rerank", "words", "tokenize",
                          "train bi", "train cross", "search build", "search query", "search remove", "serve", "merge"}) {
    std::string out, err;
    ASSERT_EQ(run_sbert(std::string(cmd) + " --help", &out, &err), 0) << cmd << ": " << err;
    for (const char* bad : {"UINT", "FLOAT", "INT:", "TEXT:", "POSITIVE", "NONNEGATIVE", ":{"})
      EXPECT_EQ(out.find(bad), std::string::npos) << cmd << " --help shows '" << bad << "':\n" << out;
  }
  std::string out;
  ASSERT_EQ(run_sbert("embed --help", &out, nullptr), 0);
  EXPECT_NE(out.find("--batch-size N"), std::string::npos) << out;
  EXPECT_NE(out.find("(default 32)"), std::string::npos) << out;
}

// `search remove` takes ids as arguments, and option errors point at the subcommand's own help.
TEST(Usability, SearchRemoveTakesPositionalIds) {
  auto dir = temp_dir("usability-remove");
  write_file(dir / "a.jsonl", "{\"id\": \"d1\", \"text\": \"a cat sat\"}\n{\"id\": \"d2\", \"text\": \"a dog ran\"}\n"
                              "{\"id\": \"d3\", \"text\": \"fish swim\"}\n");
  const std::string idx = q(dir / "idx");
  std::string out, err;
  ASSERT_EQ(run_sbert("search build -q --index " + idx + " --model " + q(model()) + " --id-field id " + q(dir / "a.jsonl"),
                      &out, &err), 0) << err;
  ASSERT_EQ(run_sbert("search remove --index " + idx + " d1", &out, &err), 0) << err;
  EXPECT_NE(err.find("removed 1 row from"), std::string::npos) << err;
  EXPECT_NE(err.find("now 2 rows"), std::string::npos) << err;
  ASSERT_EQ(run_sbert("search query -q --index " + idx + " -k 3 'a cat sat'", &out, &err), 0) << err;
  auto r = parse_jsonl(out);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0]["results"].size(), 2u);
  for (const auto& hit : r[0]["results"]) EXPECT_NE(hit["id"], "d1");
  EXPECT_EQ(run_sbert("search remove --index " + idx + " --no-such-flag", &out, &err), 2);
  EXPECT_NE(err.find("see 'sbert search remove --help'"), std::string::npos) << err;
}

// Two independent indexes with overlapping ids: one hit per id and a warning; the same index
// twice: an error.
TEST(Usability, QueryOverOverlappingIndexesGivesEachIdOnce) {
  auto dir = temp_dir("usability-overlap");
  write_file(dir / "a.jsonl", "{\"id\": \"d1\", \"text\": \"a cat sat\"}\n{\"id\": \"d2\", \"text\": \"a dog ran\"}\n");
  write_file(dir / "b.jsonl", "{\"id\": \"d1\", \"text\": \"a cat sat\"}\n{\"id\": \"d3\", \"text\": \"fish swim\"}\n");
  std::string out, err;
  for (const char* n : {"a", "b"})
    ASSERT_EQ(run_sbert("search build -q --index " + q(dir / n) + " --model " + q(model()) + " --id-field id " +
                        q(dir / (std::string(n) + ".jsonl")), &out, &err), 0) << err;
  ASSERT_EQ(run_sbert("search query --index " + q(dir / "a") + " --index " + q(dir / "b") + " -k 4 'a cat sat'", &out, &err), 0)
      << err;
  auto r = parse_jsonl(out);
  ASSERT_EQ(r.size(), 1u);
  std::vector<std::string> ids;
  for (const auto& hit : r[0]["results"]) ids.push_back(hit["id"]);
  EXPECT_EQ(ids.size(), 3u) << out;
  EXPECT_EQ(std::count(ids.begin(), ids.end(), "d1"), 1) << out;
  EXPECT_NE(err.find("warning: 1 hit had an id already found"), std::string::npos) << err;
  EXPECT_EQ(run_sbert("search query --index " + q(dir / "a") + " --index " + q(dir / "a") + " 'a cat'", &out, &err), 2);
  EXPECT_NE(err.find("the same index"), std::string::npos) << err;
}

// Ragged rows of a headerless table (STS-B has 7 or 9 fields) keep their own fields, the score
// after them.
TEST(Usability, RaggedPairsKeepTheirOwnFields) {
  auto dir = temp_dir("usability-ragged");
  write_file(dir / "pairs.tsv", "g\t0\ta cat\ta dog\n"
                                "g\t1\ta car\ta bus\textra\tmore\n");
  std::string out, err;
  ASSERT_EQ(run_sbert("similarity -q --model " + q(model()) + " --input-format tsv --no-header --a-column 2 --b-column 3 " +
                      q(dir / "pairs.tsv"), &out, &err), 0) << err;
  std::istringstream in(out);
  std::string l1, l2;
  std::getline(in, l1);
  std::getline(in, l2);
  EXPECT_EQ(std::count(l1.begin(), l1.end(), '\t'), 4) << l1;  // 4 fields + the score
  EXPECT_EQ(std::count(l2.begin(), l2.end(), '\t'), 6) << l2;  // 6 fields + the score
  EXPECT_EQ(l1.rfind("g\t0\ta cat\ta dog\t", 0), 0u) << l1;
  EXPECT_EQ(l2.rfind("g\t1\ta car\ta bus\textra\tmore\t", 0), 0u) << l2;
}

// On a terminal, embed's progress shows done/total, a rate and the time left; chunks sized to
// the rate give the same vectors as the default chunking. (`script` gives stderr a terminal.)
TEST(Usability, EmbedProgressOnATerminalShowsTotalAndGivesTheSameVectors) {
  if (run_command("command -v script >/dev/null 2>&1", nullptr, nullptr) != 0) GTEST_SKIP() << "no script(1) here";
  auto dir = temp_dir("usability-progress");
  std::string body;
  for (int i = 0; i < 700; ++i) body += "sentence " + std::to_string(i) + (i % 3 ? " with more words in it" : "") + "\n";
  write_file(dir / "in.txt", body);
  std::string out, err;
  ASSERT_EQ(run_sbert("embed --model " + q(model()) + " -o " + q(dir / "plain.jsonl") + " " + q(dir / "in.txt"), &out, &err), 0)
      << err;
  const std::string cmd = std::string(SBERT_BINARY) + " embed --model " + q(model()) + " -o " + q(dir / "tty.jsonl") + " " +
                          q(dir / "in.txt");
  write_file(dir / "empty", "");
  ASSERT_EQ(run_command("script -q -e -c " + q(cmd) + " " + q(dir / "typescript") + " < " + q(dir / "empty"), &out, &err), 0)
      << err;
  const std::string screen = read_file(dir / "typescript");
  EXPECT_NE(screen.find("/700"), std::string::npos) << screen;
  EXPECT_NE(screen.find("/s"), std::string::npos) << screen;
  EXPECT_NE(screen.find("embedded 700 texts"), std::string::npos) << screen;
  EXPECT_EQ(read_file(dir / "tty.jsonl"), read_file(dir / "plain.jsonl"));
}
