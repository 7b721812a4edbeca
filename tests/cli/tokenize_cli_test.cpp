// `sbert tokenize` end to end: runs the built binary.
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli_support.h"
#include "test_support.h"

namespace {

using sbert::testing::run_command;
using sbert::testing::temp_dir;
using sbert::testing::write_file;

using sbert::testing::parse_jsonl;
using sbert::testing::sbert_bin;

TEST(TokenizeCli, LinesFromStdinMatchTheGolden) {
  SBERT_REQUIRE_SHARED(shared);
  const auto g = sbert::testing::load_json(shared / "fixtures/golden/tokenize.json");
  auto dir = temp_dir("tok_cli_lines");
  std::string input;
  for (size_t i = 0; i < 50; ++i) input += g["texts"][i].get<std::string>() + "\n";
  write_file(dir / "in.txt", input);
  std::string out, err;
  const std::string model = (shared / "tokenizers/all-MiniLM-L6-v2").string();
  ASSERT_EQ(run_command(sbert_bin() + " tokenize --model " + model + " < " + (dir / "in.txt").string(), &out, &err), 0) << err;
  auto rows = parse_jsonl(out);
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
  ASSERT_EQ(run_command(sbert_bin() + " tokenize --model " + model + " --input-format tsv --column text --offsets chars " +
                            "--no-special-tokens --max-length 2 " + (dir / "in.tsv").string(), &out, &err), 0) << err;
  auto rows = parse_jsonl(out);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0]["tokens"], nlohmann::json({"hello", ","}));
  EXPECT_EQ(rows[0]["offsets"], nlohmann::json::parse("[[0, 5], [5, 6]]"));
  EXPECT_EQ(rows[1]["tokens"], nlohmann::json({"cafe"}));
  // Offsets count code points, as Hugging Face reports them ("Café" is 4 characters, 5 bytes)...
  EXPECT_EQ(rows[1]["offsets"], nlohmann::json::parse("[[0, 4]]"));
  // ...and bytes on request.
  ASSERT_EQ(run_command(sbert_bin() + " tokenize --model " + model + " --input-format tsv --column text --offsets bytes " +
                            "--no-special-tokens --max-length 2 " + (dir / "in.tsv").string(),
                        &out, &err), 0) << err;
  rows = parse_jsonl(out);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1]["offsets"], nlohmann::json::parse("[[0, 5]]"));
}

TEST(TokenizeCli, PairColumnGivesTypeIds) {
  SBERT_REQUIRE_SHARED(shared);
  auto dir = temp_dir("tok_cli_pair");
  write_file(dir / "in.jsonl", "{\"a\": \"a girl\", \"b\": \"a man\"}\n");
  std::string out, err;
  const std::string model = (shared / "tokenizers/all-MiniLM-L6-v2").string();
  ASSERT_EQ(run_command(sbert_bin() + " tokenize --model " + model + " --input-format jsonl --field a --pair-column b " +
                            (dir / "in.jsonl").string(), &out, &err), 0) << err;
  auto rows = parse_jsonl(out);
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
  ASSERT_EQ(run_command(sbert_bin() + " tokenize --model " + model + " " + (dir / "in.txt").string(), &out, &err), 0) << err;
  auto rows = parse_jsonl(out);
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
  EXPECT_EQ(run_command(sbert_bin() + " tokenize --model " + model + " " + (dir / "empty.txt").string(), &out, &err), 0) << err;
  EXPECT_EQ(out, "");
  // A missing file: exit 2 with a one-line error naming it.
  EXPECT_EQ(run_command(sbert_bin() + " tokenize --model " + model + " " + (dir / "nope.txt").string(), &out, &err), 2);
  EXPECT_NE(err.find("nope.txt"), std::string::npos) << err;
  // A folder without a tokenizer.
  EXPECT_EQ(run_command(sbert_bin() + " tokenize --model " + dir.string() + " " + (dir / "empty.txt").string(), &out, &err), 2);
  EXPECT_NE(err.find("no tokenizer found"), std::string::npos) << err;
}

TEST(TokenizeCli, TenMegabyteLine) {
  SBERT_REQUIRE_SHARED(shared);
  auto dir = temp_dir("tok_cli_big");
  write_file(dir / "big.txt", std::string(10 << 20, 'a') + "\n");
  std::string out, err;
  const std::string model = (shared / "tokenizers/all-MiniLM-L6-v2").string();
  ASSERT_EQ(run_command(sbert_bin() + " tokenize --model " + model + " " + (dir / "big.txt").string(), &out, &err), 0) << err;
  auto rows = parse_jsonl(out);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["ids"], nlohmann::json({101, 100, 102}));
}

}  // namespace

namespace {

// A folder with only sentencepiece.bpe.model: the default converts it (the golden, also on the
// decomposed-jamo text); --tokenizer-backend sentencepiece gives libsentencepiece's ids there.
TEST(TokenizeCli, TokenizerBackendOnXlmrWithoutTokenizerJson) {
  SBERT_REQUIRE_SHARED(shared);
  const auto g = sbert::testing::load_json(shared / "fixtures/golden/xlmr-spm-mean-norm.json");
  const auto model = sbert::testing::copy_folder(shared / "fixtures/models/xlmr-spm-mean-norm", "tok_cli_xlmr",
                                                 {"tokenizer.json"});
  std::string input;
  std::vector<size_t> picked;
  for (size_t i = 0; i < g["texts"].size(); ++i) {
    const std::string t = g["texts"][i];
    if (t.find('\n') == std::string::npos && (i < 10 || t.find("\xE1\x84") != std::string::npos)) {
      input += t + "\n";
      picked.push_back(i);
    }
  }
  ASSERT_GT(picked.size(), 10u);  // at least one jamo text
  auto dir = temp_dir("tok_cli_backend");
  write_file(dir / "in.txt", input);
  auto run = [&](const std::string& extra, std::string& out) {
    std::string err;
    const int rc = run_command(sbert_bin() + " tokenize --model " + model.string() + " --max-length 128 " + extra + " < " +
                                   (dir / "in.txt").string(), &out, &err);
    EXPECT_EQ(rc, 0) << err;
  };
  std::string out_auto, out_spm;
  run("", out_auto);
  run("--tokenizer-backend sentencepiece", out_spm);
  const auto a = parse_jsonl(out_auto), s = parse_jsonl(out_spm);
  ASSERT_EQ(a.size(), picked.size());
  ASSERT_EQ(s.size(), picked.size());
  size_t spm_differs = 0;
  for (size_t k = 0; k < picked.size(); ++k) {
    EXPECT_EQ(a[k]["ids"], g["input_ids"][picked[k]]) << picked[k];
    spm_differs += s[k]["ids"] != g["input_ids"][picked[k]];
  }
  EXPECT_EQ(spm_differs, g["spm_plus_offset_mismatches"].get<size_t>());
  std::string out, err;
  EXPECT_NE(run_command(sbert_bin() + " tokenize --model " + model.string() + " --tokenizer-backend fast < " +
                            (dir / "in.txt").string(), &out, &err), 0);
  EXPECT_NE(err.find("tokenizer-backend"), std::string::npos) << err;
}

}  // namespace
