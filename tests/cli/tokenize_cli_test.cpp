// `sbert tokenize` end to end: runs the built binary.
#include <nlohmann/json.hpp>
#include <sstream>

#include "test_support.h"

namespace {

using sbert::testing::run_command;
using sbert::testing::temp_dir;
using sbert::testing::write_file;

std::string bin() { return SBERT_BINARY; }

std::vector<nlohmann::json> parse_lines(const std::string& out) {
  std::vector<nlohmann::json> v;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) v.push_back(nlohmann::json::parse(line));
  return v;
}

TEST(TokenizeCli, LinesFromStdinMatchTheGolden) {
  SBERT_REQUIRE_SHARED(shared);
  const auto g = sbert::testing::load_json(shared / "fixtures/golden/tokenize.json");
  auto dir = temp_dir("tok_cli_lines");
  std::string input;
  for (size_t i = 0; i < 50; ++i) input += g["texts"][i].get<std::string>() + "\n";
  write_file(dir / "in.txt", input);
  std::string out, err;
  const std::string model = (shared / "tokenizers/all-MiniLM-L6-v2").string();
  ASSERT_EQ(run_command(bin() + " tokenize --model " + model + " < " + (dir / "in.txt").string(), &out, &err), 0) << err;
  auto rows = parse_lines(out);
  ASSERT_EQ(rows.size(), 50u);
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i]["index"], i);
    EXPECT_EQ(rows[i]["ids"], g["tokenizers"]["all-MiniLM-L6-v2"]["ids"][i]);
    EXPECT_EQ(rows[i]["tokens"].size(), rows[i]["ids"].size());
  }
}

TEST(TokenizeCli, TsvColumnMaxLengthOffsetsAndNoSpecialTokens) {
  SBERT_REQUIRE_SHARED(shared);
  auto dir = temp_dir("tok_cli_tsv");
  write_file(dir / "in.tsv", "id\ttext\nx1\tHello, world!\nx2\tCafé\n");
  std::string out, err;
  const std::string model = (shared / "tokenizers/all-MiniLM-L6-v2").string();
  ASSERT_EQ(run_command(bin() + " tokenize --model " + model + " --input-format tsv --column text --offsets " +
                            "--no-special-tokens --max-length 2 " + (dir / "in.tsv").string(), &out, &err), 0) << err;
  auto rows = parse_lines(out);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0]["tokens"], nlohmann::json({"hello", ","}));
  EXPECT_EQ(rows[0]["offsets"], nlohmann::json::parse("[[0, 5], [5, 6]]"));
  EXPECT_EQ(rows[1]["tokens"], nlohmann::json({"cafe"}));
  // Offsets count code points, as Hugging Face reports them ("Café" is 4 characters, 5 bytes)...
  EXPECT_EQ(rows[1]["offsets"], nlohmann::json::parse("[[0, 4]]"));
  // ...and bytes on request.
  ASSERT_EQ(run_command(bin() + " tokenize --model " + model + " --input-format tsv --column text --offsets " +
                            "--offset-unit bytes --no-special-tokens --max-length 2 " + (dir / "in.tsv").string(),
                        &out, &err), 0) << err;
  rows = parse_lines(out);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1]["offsets"], nlohmann::json::parse("[[0, 5]]"));
}

TEST(TokenizeCli, PairColumnGivesTypeIds) {
  SBERT_REQUIRE_SHARED(shared);
  auto dir = temp_dir("tok_cli_pair");
  write_file(dir / "in.jsonl", "{\"a\": \"a girl\", \"b\": \"a man\"}\n");
  std::string out, err;
  const std::string model = (shared / "tokenizers/all-MiniLM-L6-v2").string();
  ASSERT_EQ(run_command(bin() + " tokenize --model " + model + " --input-format jsonl --field a --pair-column b " +
                            (dir / "in.jsonl").string(), &out, &err), 0) << err;
  auto rows = parse_lines(out);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["ids"], nlohmann::json({101, 1037, 2611, 102, 1037, 2158, 102}));
  EXPECT_EQ(rows[0]["type_ids"], nlohmann::json({0, 0, 0, 0, 1, 1, 1}));
}

TEST(TokenizeCli, InvalidUtf8IsReplacedAndCounted) {
  SBERT_REQUIRE_SHARED(shared);
  auto dir = temp_dir("tok_cli_utf8");
  write_file(dir / "in.txt", "hello\xFF world\n");
  std::string out, err;
  const std::string model = (shared / "tokenizers/all-MiniLM-L6-v2").string();
  ASSERT_EQ(run_command(bin() + " tokenize --model " + model + " " + (dir / "in.txt").string(), &out, &err), 0) << err;
  auto rows = parse_lines(out);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["tokens"], nlohmann::json({"[CLS]", "hello", "world", "[SEP]"}));
  EXPECT_NE(err.find("invalid UTF-8"), std::string::npos) << err;
}

TEST(TokenizeCli, EmptyAndMissingInputsAndBadModel) {
  SBERT_REQUIRE_SHARED(shared);
  auto dir = temp_dir("tok_cli_bad");
  write_file(dir / "empty.txt", "");
  const std::string model = (shared / "tokenizers/all-MiniLM-L6-v2").string();
  std::string out, err;
  // An empty file: no output, success.
  EXPECT_EQ(run_command(bin() + " tokenize --model " + model + " " + (dir / "empty.txt").string(), &out, &err), 0) << err;
  EXPECT_EQ(out, "");
  // A missing file: exit 2 with a one-line error naming it.
  EXPECT_EQ(run_command(bin() + " tokenize --model " + model + " " + (dir / "nope.txt").string(), &out, &err), 2);
  EXPECT_NE(err.find("nope.txt"), std::string::npos) << err;
  // A folder without a tokenizer.
  EXPECT_EQ(run_command(bin() + " tokenize --model " + dir.string() + " " + (dir / "empty.txt").string(), &out, &err), 2);
  EXPECT_NE(err.find("no tokenizer found"), std::string::npos) << err;
}

TEST(TokenizeCli, TenMegabyteLine) {
  SBERT_REQUIRE_SHARED(shared);
  auto dir = temp_dir("tok_cli_big");
  write_file(dir / "big.txt", std::string(10 << 20, 'a') + "\n");
  std::string out, err;
  const std::string model = (shared / "tokenizers/all-MiniLM-L6-v2").string();
  ASSERT_EQ(run_command(bin() + " tokenize --model " + model + " " + (dir / "big.txt").string(), &out, &err), 0) << err;
  auto rows = parse_lines(out);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["ids"], nlohmann::json({101, 100, 102}));
}

}  // namespace
