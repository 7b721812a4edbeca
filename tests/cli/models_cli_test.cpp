// `sbert models list|download|info` against a local stand-in for the hub (127.0.0.1 only), and
// `--model org/name` resolution through the cache by another subcommand.
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "hub/fake_hub.h"
#include "test_support.h"

namespace fs = std::filesystem;
using sbert::testing::FakeHub;
using sbert::testing::run_command;

namespace {

const std::string kCommit = "c0ffee0000000000000000000000000000000003";

class ModelsCli : public ::testing::Test {
 protected:
  void SetUp() override {
    auto shared = sbert::testing::shared_dir();
    if (!shared) GTEST_SKIP() << "SBERT_SHARED not found (set SBERT_SHARED=/path/to/shared)";
    model_ = *shared / "fixtures/models/bert-wordpiece-mean-norm";
    root_ = sbert::testing::temp_dir("cli-hubroot");
    sbert::testing::make_hub_root(root_, model_, "acme/mini-bert", kCommit);
    home_ = sbert::testing::temp_dir("cli-hfhome");
  }

  // Runs sbert with a clean hub environment: HF_HOME in a temp dir, HF_ENDPOINT as given.
  int sbert(const std::string& args, const std::string& endpoint, std::string* out,
            std::string* err, const std::string& extra_env = "", const std::string& input = "") {
    std::string cmd = "env -u HF_HUB_CACHE -u HUGGINGFACE_HUB_CACHE -u HF_HUB_OFFLINE -u HF_TOKEN "
                      "-u TRANSFORMERS_OFFLINE -u SBERT_MODEL HF_HOME=" + home_.string() +
                      " HF_ENDPOINT=" + endpoint + " " + extra_env + " " + SBERT_BINARY + " " + args;
    if (input.empty()) return run_command("true | " + cmd, out, err);
    return run_command("printf '%s\\n' '" + input + "' | " + cmd, out, err);
  }

  fs::path model_, root_, home_;
};

}  // namespace

TEST_F(ModelsCli, DownloadListInfoThenOffline) {
  std::string out, err;
  fs::path snap = home_ / "hub/models--acme--mini-bert/snapshots" / kCommit;
  {
    FakeHub hub(root_);
    ASSERT_EQ(sbert("models download acme/mini-bert", hub.endpoint(), &out, &err), 0) << err;
    EXPECT_EQ(out, snap.string() + "\n");
    EXPECT_EQ(err.find('\r'), std::string::npos) << "no progress bar when stderr is not a terminal";
    EXPECT_TRUE(fs::is_symlink(snap / "model.safetensors"));
  }
  // The server is gone from here on.
  const std::string dead = "http://127.0.0.1:9";
  ASSERT_EQ(sbert("models list", dead, &out, &err), 0) << err;
  EXPECT_NE(out.find("acme/mini-bert"), std::string::npos) << out;
  EXPECT_NE(out.find("main@c0ffee000000"), std::string::npos) << out;

  ASSERT_EQ(sbert("models list --json", dead, &out, &err), 0) << err;
  auto list = nlohmann::json::parse(out);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["name"], "acme/mini-bert");
  std::uintmax_t expected = 0;
  for (auto& e : fs::recursive_directory_iterator(model_)) {
    if (e.is_regular_file()) expected += e.file_size();
  }
  EXPECT_EQ(list[0]["size_bytes"].get<std::uintmax_t>(), expected);
  EXPECT_EQ(list[0]["revisions"][0]["commit"], kCommit);

  ASSERT_EQ(sbert("models info --json acme/mini-bert", dead, &out, &err, "HF_HUB_OFFLINE=1"), 0) << err;
  auto info = nlohmann::json::parse(out);
  EXPECT_EQ(info["path"], snap.string());
  EXPECT_EQ(info["architecture"], "BertModel");
  EXPECT_EQ(info["dimension"], 32);
  EXPECT_EQ(info["pooling"], "mean");
  EXPECT_EQ(info["max_length"], 128);
  EXPECT_EQ(info["parameters"], 1011360);  // from the safetensors header, counted with Python

  ASSERT_EQ(sbert("models info " + model_.string(), dead, &out, &err), 0) << err;
  EXPECT_NE(out.find("architecture: BertModel (bert)"), std::string::npos) << out;
  EXPECT_NE(out.find("parameters:   1,011,360"), std::string::npos) << out;
  EXPECT_NE(out.find("tokenizer:    WordPiece (tokenizer.json)"), std::string::npos) << out;

  // Another subcommand resolves --model org/name from the cache without the network.
  ASSERT_EQ(sbert("tokenize -q --model acme/mini-bert", dead, &out, &err, "HF_HUB_OFFLINE=1",
                  "hello"), 0) << err;
  EXPECT_NE(out.find("7592"), std::string::npos) << out;  // "hello" in the MiniLM vocab
}

TEST_F(ModelsCli, ErrorsAreOneLineAndNeverShowTheToken) {
  std::string out, err;
  const std::string dead = "http://127.0.0.1:9";
  EXPECT_EQ(sbert("models info ./no/such/dir", dead, &out, &err), 2);
  EXPECT_EQ(err, "sbert: error: model folder not found: ./no/such/dir\n");

  EXPECT_EQ(sbert("models download justaname", dead, &out, &err), 2);
  EXPECT_NE(err.find("sbert: error: malformed model name 'justaname'"), std::string::npos) << err;

  EXPECT_EQ(sbert("models info acme/absent", dead, &out, &err, "HF_HUB_OFFLINE=1"), 2);
  EXPECT_NE(err.find("not in the hub cache (offline mode): looked in " +
                     (home_ / "hub/models--acme--absent/refs/main").string()),
            std::string::npos) << err;

  EXPECT_EQ(sbert("models download acme/mini-bert", dead, &out, &err, "HF_HUB_OFFLINE=1"), 2);
  EXPECT_NE(err.find("offline mode"), std::string::npos) << err;

  FakeHub hub(root_, {"--require-token", "good-token-7"});
  EXPECT_EQ(sbert("models download acme/mini-bert --token bad-token-8", hub.endpoint(), &out, &err), 2);
  EXPECT_NE(err.find("HTTP 401 for " + hub.endpoint()), std::string::npos) << err;
  EXPECT_EQ(err.find("bad-token-8"), std::string::npos) << err;
  EXPECT_EQ(sbert("models download acme/mini-bert", hub.endpoint(), &out, &err,
                  "HF_TOKEN=good-token-7"), 0) << err;
}

// Issue acceptance: the first `sbert embed --model org/name` downloads into the hub cache and
// matches the fixture golden; with the server gone and HF_HUB_OFFLINE=1 the same command works.
TEST_F(ModelsCli, EmbedByNameDownloadsThenWorksOffline) {
  auto golden = sbert::testing::load_json(model_.parent_path().parent_path() / "golden/bert-wordpiece-mean-norm.json");
  const size_t n = 5;
  std::string body;
  for (size_t i = 0; i < n; ++i) body += nlohmann::json{{"text", golden["texts"][i]}}.dump() + "\n";
  fs::path input = sbert::testing::temp_dir("embed-by-name") / "in.jsonl";
  sbert::testing::write_file(input, body);
  auto check = [&](const std::string& out) {
    std::istringstream lines(out);
    std::string line;
    size_t row = 0;
    while (std::getline(lines, line)) {
      auto j = nlohmann::json::parse(line);
      ASSERT_EQ(j["embedding"].size(), 32u);
      for (size_t d = 0; d < 32; ++d)
        EXPECT_NEAR(j["embedding"][d].get<double>(), golden["st_encode"][row * 32 + d].get<double>(), 1e-5);
      ++row;
    }
    EXPECT_EQ(row, n);
  };
  std::string out, err;
  {
    FakeHub hub(root_);
    ASSERT_EQ(sbert("embed -q --model acme/mini-bert " + input.string(), hub.endpoint(), &out, &err), 0) << err;
    check(out);
  }
  EXPECT_TRUE(fs::is_symlink(home_ / "hub/models--acme--mini-bert/snapshots" / kCommit / "model.safetensors"));
  ASSERT_EQ(sbert("embed -q --model acme/mini-bert " + input.string(), "http://127.0.0.1:9", &out, &err,
                  "HF_HUB_OFFLINE=1"),
            0)
      << err;
  check(out);
}
