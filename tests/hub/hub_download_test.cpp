// Downloads from a local stand-in for the hub (tests/hub/fake_hub_server.py on 127.0.0.1): the
// cache layout written, offline reuse, hash verification, resuming, and HTTP errors.
#include <filesystem>
#include <functional>
#include <set>
#include <string>

#include "hub/fake_hub.h"
#include "hub/scoped_env.h"
#include "sbert/error.h"
#include "sbert/hub.h"
#include "test_support.h"

namespace fs = std::filesystem;
using namespace sbert::hub;
using sbert::testing::FakeHub;
using sbert::testing::ScopedEnv;

namespace {

const std::string kCommit = "c0ffee0000000000000000000000000000000001";
const std::string kRepo = "acme/mini-bert";

using sbert::testing::error_of;
using sbert::testing::sha256sum;

std::vector<std::string> files_under(const fs::path& dir) {
  std::vector<std::string> out;
  for (auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) out.push_back(e.path().lexically_relative(dir).generic_string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

class HubDownload : public ::testing::Test {
 protected:
  void SetUp() override {
    auto shared = sbert::testing::shared_dir();
    if (!shared) GTEST_SKIP() << "SBERT_SHARED not found (set SBERT_SHARED=/path/to/shared)";
    models_ = *shared / "fixtures/models";
    model_ = models_ / "bert-wordpiece-mean-norm";
    env_.clear_hub_vars();
    root_ = sbert::testing::temp_dir("hubroot");
    sbert::testing::make_hub_root(root_, model_, kRepo, kCommit);
    cache_ = sbert::testing::temp_dir("hubcache");
    weights_sha_ = sha256sum(model_ / "model.safetensors");
  }

  ResolveOptions options(const FakeHub& hub) const {
    ResolveOptions o;
    o.endpoint = hub.endpoint();
    o.cache_dir = cache_;
    o.progress = false;
    return o;
  }

  fs::path repo_dir() const { return cache_ / "models--acme--mini-bert"; }
  fs::path blob() const { return repo_dir() / "blobs" / weights_sha_; }

  // Every file of the fixture is a symlink into blobs/ with the same bytes.
  void expect_snapshot_matches(const fs::path& snap, const fs::path& model) {
    for (const auto& rel : files_under(model)) {
      fs::path link = snap / rel;
      ASSERT_TRUE(fs::is_symlink(link)) << rel;
      std::string target = fs::read_symlink(link).string();
      std::string up = rel.find('/') == std::string::npos ? "../../blobs/" : "../../../blobs/";
      EXPECT_EQ(target.rfind(up, 0), 0u) << rel << " -> " << target;
      EXPECT_EQ(sbert::testing::read_file(link), sbert::testing::read_file(model / rel)) << rel;
    }
  }

  size_t count_with(const std::vector<nlohmann::json>& reqs, const std::string& method,
                    const std::string& path_part) {
    size_t n = 0;
    for (const auto& r : reqs) {
      if (r["method"] == method && r["path"].get<std::string>().find(path_part) != std::string::npos) ++n;
    }
    return n;
  }

  ScopedEnv env_;
  fs::path models_, model_, root_, cache_;
  std::string weights_sha_;
};

}  // namespace

TEST_F(HubDownload, FirstUseWritesTheHubCacheLayoutThenWorksOffline) {
  FakeHub hub(root_);
  fs::path home = sbert::testing::temp_dir("hfhome");
  env_.set("HF_HOME", home.string());
  env_.set("HF_ENDPOINT", hub.endpoint());
  env_.set("HF_TOKEN", "secret-token-1234");
  ResolveOptions o;
  o.progress = false;

  fs::path snap = resolve_model(kRepo, o);
  fs::path repo = home / "hub" / "models--acme--mini-bert";
  EXPECT_EQ(snap, repo / "snapshots" / kCommit);
  EXPECT_EQ(sbert::testing::read_file(repo / "refs" / "main"), kCommit);
  expect_snapshot_matches(snap, model_);
  EXPECT_EQ(fs::read_symlink(snap / "model.safetensors").string(), "../../blobs/" + weights_sha_);
  EXPECT_EQ(fs::read_symlink(snap / "1_Pooling/config.json").string().substr(0, 15),
            "../../../blobs/");
  for (const auto& f : files_under(repo / "blobs")) {
    EXPECT_EQ(f.find(".incomplete"), std::string::npos) << f;
  }

  // The token goes to the hub and never to the CDN host the LFS redirect points at.
  auto reqs = hub.requests();
  size_t cdn = 0;
  for (const auto& r : reqs) {
    bool is_cdn = r["path"].get<std::string>().rfind("/cdn/", 0) == 0;
    if (is_cdn) ++cdn;
    EXPECT_EQ(r["auth"].get<bool>(), !is_cdn) << r.dump();
  }
  EXPECT_EQ(cdn, 1u) << "model.safetensors is the only LFS file";

  // Server gone: the cached model resolves with and without offline mode.
  hub.stop();
  EXPECT_EQ(resolve_model(kRepo, o), snap);
  env_.set("HF_HUB_OFFLINE", "1");
  EXPECT_EQ(resolve_model(kRepo, o), snap);
  EXPECT_EQ(resolve_model(kRepo + "@" + kCommit, o), snap);
  auto cached = list_cached_models();
  ASSERT_EQ(cached.size(), 1u);
  EXPECT_EQ(cached[0].name, kRepo);
  std::uintmax_t expected = 0;
  for (const auto& rel : files_under(model_)) expected += fs::file_size(model_ / rel);
  EXPECT_EQ(cached[0].size_bytes, expected);
}

TEST_F(HubDownload, ProbesFilesWhenTheServerHasNoListingApi) {
  FakeHub hub(root_, {"--no-api"});
  fs::path snap = resolve_model(kRepo, options(hub));
  expect_snapshot_matches(snap, model_);
  // Optional files that are absent are recorded the way the Python library does.
  EXPECT_TRUE(fs::exists(repo_dir() / ".no_exist" / kCommit / "config_sentence_transformers.json"));
  EXPECT_FALSE(fs::exists(snap / "pytorch_model.bin")) << "safetensors is preferred";
  EXPECT_EQ(count_with(hub.requests(), "HEAD", kCommit + "/pytorch_model.bin"), 0u);
  EXPECT_EQ(count_with(hub.requests(), "HEAD", "2_Normalize"), 0u) << "Normalize has no files";
}

TEST_F(HubDownload, AnExistingBlobIsNotDownloadedAgain) {
  FakeHub hub(root_);
  fs::path snap = download_model(kRepo, options(hub));
  size_t gets = count_with(hub.requests(), "GET", "/cdn/");
  EXPECT_EQ(gets, 1u);
  EXPECT_EQ(download_model(kRepo, options(hub)), snap);
  EXPECT_EQ(count_with(hub.requests(), "GET", "/cdn/"), gets);
}

TEST_F(HubDownload, CorruptedFileIsRejectedAndNothingBrokenStays) {
  {
    FakeHub hub(root_, {"--corrupt", "model.safetensors"});
    std::string msg = error_of([&] { resolve_model(kRepo, options(hub)); });
    EXPECT_NE(msg.find("checksum mismatch for " + hub.endpoint() + "/" + kRepo +
                       "/resolve/" + kCommit + "/model.safetensors"),
              std::string::npos) << msg;
    EXPECT_NE(msg.find("expected sha256 " + weights_sha_), std::string::npos) << msg;
  }
  EXPECT_FALSE(fs::exists(blob()));
  EXPECT_FALSE(fs::exists(blob().string() + ".incomplete"));
  EXPECT_FALSE(fs::exists(repo_dir() / "snapshots" / kCommit / "model.safetensors"));
  EXPECT_FALSE(fs::exists(repo_dir() / "refs" / "main"));
  {
    ResolveOptions o;
    o.cache_dir = cache_;
    o.offline = true;
    EXPECT_NE(error_of([&] { resolve_model(kRepo, o); }).find("not in the hub cache"),
              std::string::npos);
  }
  // A good server afterwards completes the model.
  FakeHub good(root_);
  fs::path snap = resolve_model(kRepo, options(good));
  expect_snapshot_matches(snap, model_);
}

TEST_F(HubDownload, InterruptedTransferResumesWithRange) {
  FakeHub hub(root_, {"--cut", "model.safetensors:1000000:1"});
  fs::path snap = resolve_model(kRepo, options(hub));
  EXPECT_EQ(sha256sum(blob()), weights_sha_);
  std::vector<std::string> ranges;
  for (const auto& r : hub.requests()) {
    if (r["method"] == "GET" && r["path"].get<std::string>().rfind("/cdn/", 0) == 0) {
      ranges.push_back(r["range"].is_null() ? "" : r["range"].get<std::string>());
    }
  }
  EXPECT_EQ(ranges, (std::vector<std::string>{"", "bytes=1000000-"}));
  expect_snapshot_matches(snap, model_);
}

TEST_F(HubDownload, PartialFileFromAnEarlierRunIsResumed) {
  {
    // Every attempt is cut: the run fails but keeps what it has.
    FakeHub hub(root_, {"--cut", "model.safetensors:400000:100"});
    std::string msg = error_of([&] { resolve_model(kRepo, options(hub)); });
    EXPECT_NE(msg.find("broke off"), std::string::npos) << msg;
    EXPECT_NE(msg.find("is kept"), std::string::npos) << msg;
  }
  fs::path partial = blob().string() + ".incomplete";
  ASSERT_TRUE(fs::exists(partial));
  auto have = fs::file_size(partial);
  EXPECT_GE(have, 400000u);
  EXPECT_LT(have, fs::file_size(model_ / "model.safetensors"));

  FakeHub hub(root_);
  fs::path snap = resolve_model(kRepo, options(hub));
  EXPECT_EQ(sha256sum(blob()), weights_sha_);
  EXPECT_FALSE(fs::exists(partial));
  size_t resumed = 0;
  for (const auto& r : hub.requests()) {
    if (r["method"] == "GET" && r["path"].get<std::string>().rfind("/cdn/", 0) == 0) {
      EXPECT_EQ(r["range"], "bytes=" + std::to_string(have) + "-");
      ++resumed;
    }
  }
  EXPECT_EQ(resumed, 1u);
  expect_snapshot_matches(snap, model_);
}

TEST_F(HubDownload, TokenErrorsNameTheUrlButNeverTheToken) {
  FakeHub hub(root_, {"--require-token", "right-token-42"});
  ResolveOptions o = options(hub);
  std::string msg = error_of([&] { resolve_model(kRepo, o); });
  EXPECT_NE(msg.find("HTTP 401 for " + hub.endpoint() + "/"), std::string::npos) << msg;
  EXPECT_NE(msg.find("HF_TOKEN"), std::string::npos) << msg;

  o.token = "wrong-token-99";
  msg = error_of([&] { resolve_model(kRepo, o); });
  EXPECT_NE(msg.find("HTTP 401"), std::string::npos) << msg;
  EXPECT_NE(msg.find("token was rejected"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("wrong-token-99"), std::string::npos) << msg;

  o.token.clear();
  env_.set("HF_TOKEN", "right-token-42");
  expect_snapshot_matches(resolve_model(kRepo, o), model_);
}

TEST_F(HubDownload, NotFoundErrors) {
  FakeHub hub(root_);
  std::string msg = error_of([&] { resolve_model("acme/absent", options(hub)); });
  EXPECT_NE(msg.find("HTTP 404 for " + hub.endpoint() + "/api/models/acme/absent"),
            std::string::npos) << msg;
  EXPECT_NE(msg.find("repository acme/absent not found"), std::string::npos) << msg;

  msg = error_of([&] { resolve_model(kRepo + "@v9", options(hub)); });
  EXPECT_NE(msg.find("revision 'v9' not found"), std::string::npos) << msg;

  msg = error_of([&] { resolve_model("acme/mini-bert@bad..rev", options(hub)); });
  EXPECT_NE(msg.find("malformed model name"), std::string::npos) << msg;
}

TEST_F(HubDownload, MissingRequiredFilesAreClearErrors) {
  // A repo whose only file is a config: no weights. Another without config.json.
  fs::path r1 = root_ / "acme/no-weights/resolve" / kCommit;
  fs::create_directories(r1);
  fs::copy_file(model_ / "config.json", r1 / "config.json");
  fs::path r2 = root_ / "acme/no-config/resolve" / kCommit;
  fs::create_directories(r2);
  fs::copy_file(model_ / "vocab.txt", r2 / "vocab.txt");
  fs::create_directory_symlink(kCommit, root_ / "acme/no-weights/resolve/main");
  fs::create_directory_symlink(kCommit, root_ / "acme/no-config/resolve/main");

  for (bool api : {true, false}) {
    FakeHub hub(root_, api ? std::vector<std::string>{} : std::vector<std::string>{"--no-api"});
    std::string msg = error_of([&] { resolve_model("acme/no-weights", options(hub)); });
    EXPECT_NE(msg.find("no weights in acme/no-weights@main"), std::string::npos) << msg;
    EXPECT_NE(msg.find(hub.endpoint() + "/acme/no-weights/resolve/"), std::string::npos) << msg;

    msg = error_of([&] { resolve_model("acme/no-config", options(hub)); });
    EXPECT_NE(msg.find("config.json"), std::string::npos) << msg;
    EXPECT_NE(msg.find(hub.endpoint() + "/acme/no-config/resolve/"), std::string::npos) << msg;
  }
}

TEST_F(HubDownload, UnreachableServerIsAClearError) {
  ResolveOptions o;
  o.endpoint = "http://127.0.0.1:9";
  o.cache_dir = cache_;
  o.progress = false;
  std::string msg = error_of([&] { resolve_model(kRepo, o); });
  EXPECT_NE(msg.find("cannot reach http://127.0.0.1:9/"), std::string::npos) << msg;
}

TEST_F(HubDownload, SubfolderModulesShardsAndOddTokenizerNames) {
  const std::string c2 = "c0ffee0000000000000000000000000000000002";
  sbert::testing::make_hub_root(root_, models_ / "distilbert-krwordpiece-dense", "acme/dense", c2);
  sbert::testing::make_hub_root(root_, models_ / "bert-kobert-spm", "acme/kobert", c2);
  // A sharded checkpoint: the index names two shards.
  fs::path sharded = root_ / "acme/sharded/resolve" / c2;
  fs::create_directories(sharded);
  fs::copy_file(model_ / "config.json", sharded / "config.json");
  sbert::testing::write_file(sharded / "model.safetensors.index.json",
                             R"({"metadata": {}, "weight_map": {"a": "model-00001-of-00002.safetensors",
                                 "b": "model-00002-of-00002.safetensors", "c": "model-00001-of-00002.safetensors"}})");
  sbert::testing::write_file(sharded / "model-00001-of-00002.safetensors", std::string(3000, 'x'));
  sbert::testing::write_file(sharded / "model-00002-of-00002.safetensors", std::string(5000, 'y'));
  sbert::testing::write_file(sharded / "pytorch_model.bin", "not wanted");
  fs::create_directory_symlink(c2, root_ / "acme/sharded/resolve/main");

  FakeHub hub(root_);
  fs::path dense = resolve_model("acme/dense", options(hub));
  expect_snapshot_matches(dense, models_ / "distilbert-krwordpiece-dense");
  EXPECT_EQ(fs::read_symlink(dense / "0_Transformer/config.json").string().substr(0, 15),
            "../../../blobs/");

  fs::path kobert = resolve_model("acme/kobert", options(hub));
  expect_snapshot_matches(kobert, models_ / "bert-kobert-spm");

  fs::path snap = resolve_model("acme/sharded", options(hub));
  EXPECT_EQ(files_under(snap),
            (std::vector<std::string>{"config.json", "model-00001-of-00002.safetensors",
                                      "model-00002-of-00002.safetensors",
                                      "model.safetensors.index.json"}));
  EXPECT_EQ(sha256sum(snap / "model-00002-of-00002.safetensors"),
            sha256sum(sharded / "model-00002-of-00002.safetensors"));
}

TEST_F(HubDownload, CommitRevisionGoesStraightToSnapshots) {
  FakeHub hub(root_);
  fs::path snap = resolve_model(kRepo + "@" + kCommit, options(hub));
  EXPECT_EQ(snap, repo_dir() / "snapshots" / kCommit);
  EXPECT_FALSE(fs::exists(repo_dir() / "refs" / kCommit));
  EXPECT_FALSE(fs::exists(repo_dir() / "refs" / "main"));
  hub.stop();
  ResolveOptions o;
  o.cache_dir = cache_;
  o.offline = true;
  EXPECT_EQ(resolve_model(kRepo + "@" + kCommit, o), snap);
}
