// Names, environment variables and reading the hub cache layout (no network involved).
#include <filesystem>
#include <string>

#include "hub/scoped_env.h"
#include "sbert/error.h"
#include "sbert/hub.h"
#include "hub/fake_hub.h"
#include "test_support.h"

namespace fs = std::filesystem;
using namespace sbert::hub;
using sbert::testing::ScopedEnv;

namespace {

using sbert::testing::error_of;
using sbert::testing::sha256sum;

// A cache as the Python huggingface_hub library writes it, built by hand: blobs named by hash,
// refs/main holding the commit, snapshot files as relative symlinks into blobs/.
struct HandBuiltCache {
  fs::path cache, repo, snapshot;
  std::string commit = "0123456789abcdef0123456789abcdef01234567";
  std::uintmax_t blob_bytes = 0;

  explicit HandBuiltCache(const fs::path& model) {
    cache = sbert::testing::temp_dir("hubcache");
    repo = cache / "models--acme--tiny-model";
    snapshot = repo / "snapshots" / commit;
    fs::create_directories(repo / "blobs");
    fs::create_directories(repo / "refs");
    sbert::testing::write_file(repo / "refs" / "main", commit);  // no newline, like the library
    for (auto& e : fs::recursive_directory_iterator(model)) {
      if (!e.is_regular_file()) continue;
      std::string rel = fs::relative(e.path(), model).generic_string();
      std::string sha = sha256sum(e.path());
      fs::path blob = repo / "blobs" / sha;
      if (!fs::exists(blob)) {
        fs::copy_file(e.path(), blob);
        blob_bytes += fs::file_size(blob);
      }
      fs::path link = snapshot / rel;
      fs::create_directories(link.parent_path());
      std::string up = rel.find('/') == std::string::npos ? "../../" : "../../../";
      fs::create_symlink(up + "blobs/" + sha, link);
    }
  }
};

size_t count_entries(const fs::path& dir) {
  size_t n = 0;
  for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator(); ++it) ++n;
  return n;
}

}  // namespace

TEST(HubNames, ParsesOrgNameAndRevision) {
  auto a = parse_model_name("sentence-transformers/all-MiniLM-L6-v2");
  EXPECT_EQ(a.repo_id, "sentence-transformers/all-MiniLM-L6-v2");
  EXPECT_EQ(a.revision, "main");
  auto b = parse_model_name("org/name@v1.0");
  EXPECT_EQ(b.repo_id, "org/name");
  EXPECT_EQ(b.revision, "v1.0");
  EXPECT_EQ(parse_model_name("org/name@refs/pr/1").revision, "refs/pr/1");
  EXPECT_EQ(parse_model_name("o_rg/na.me@0123456789abcdef0123456789abcdef01234567").revision,
            "0123456789abcdef0123456789abcdef01234567");
}

TEST(HubNames, RejectsMalformedNames) {
  for (const char* bad : {"justaname", "org/", "a/b/c", "org/na me", "org/name@", "org/-x",
                          "org/a--b", "org/name@../x", "org/name@a b", "/name", "org/x.."}) {
    std::string msg = error_of([&] { parse_model_name(bad); });
    EXPECT_NE(msg.find("malformed model name '" + std::string(bad) + "'"), std::string::npos)
        << bad << " -> " << msg;
  }
}

TEST(HubNames, PathLookingArguments) {
  EXPECT_TRUE(looks_like_path("/abs/path"));
  EXPECT_TRUE(looks_like_path("./rel"));
  EXPECT_TRUE(looks_like_path("../rel"));
  EXPECT_TRUE(looks_like_path("~/models/x"));
  EXPECT_FALSE(looks_like_path("org/name"));
  EXPECT_FALSE(looks_like_path("org/name@main"));
}

TEST(HubNames, ResolveFolderOrPathError) {
  ScopedEnv env;
  env.clear_hub_vars();
  auto dir = sbert::testing::temp_dir("folder");
  EXPECT_EQ(resolve_model(dir.string()), dir);
  std::string missing = (dir / "nope").string();
  EXPECT_EQ(error_of([&] { resolve_model(missing); }), "model folder not found: " + missing);
  EXPECT_EQ(error_of([&] { resolve_model("./no/such/folder"); }),
            "model folder not found: ./no/such/folder");
  EXPECT_NE(error_of([&] { resolve_model("not a name"); }).find("malformed model name"),
            std::string::npos);
}

TEST(HubEnv, CacheDirFollowsTheHubLibraryPrecedence) {
  ScopedEnv env;
  env.clear_hub_vars();
  env.set("HOME", "/home/someone");
  EXPECT_EQ(cache_dir(), fs::path("/home/someone/.cache/huggingface/hub"));
  env.set("XDG_CACHE_HOME", "/xdg");
  EXPECT_EQ(cache_dir(), fs::path("/xdg/huggingface/hub"));
  env.set("HF_HOME", "/hfhome");
  EXPECT_EQ(cache_dir(), fs::path("/hfhome/hub"));
  env.set("HF_HUB_CACHE", "/hubcache");
  EXPECT_EQ(cache_dir(), fs::path("/hubcache"));
  ResolveOptions o;
  o.cache_dir = "/explicit";
  EXPECT_EQ(cache_dir(o), fs::path("/explicit"));
  EXPECT_EQ(repo_cache_dir("org/name"), fs::path("/hubcache/models--org--name"));
}

TEST(HubEnv, OfflineAndDefaultModel) {
  ScopedEnv env;
  env.clear_hub_vars();
  EXPECT_FALSE(offline_from_env());
  for (const char* v : {"1", "true", "ON", "yes"}) {
    env.set("HF_HUB_OFFLINE", v);
    EXPECT_TRUE(offline_from_env()) << v;
  }
  env.set("HF_HUB_OFFLINE", "0");
  EXPECT_FALSE(offline_from_env());
  env.unset("HF_HUB_OFFLINE");
  env.set("TRANSFORMERS_OFFLINE", "1");
  EXPECT_TRUE(offline_from_env());

  EXPECT_EQ(default_model_name(), "sentence-transformers/all-MiniLM-L6-v2");
  env.set("SBERT_MODEL", "acme/other");
  EXPECT_EQ(default_model_name(), "acme/other");
}

TEST(HubCache, ReadsThePythonLibraryLayoutWithoutCopying) {
  SBERT_REQUIRE_SHARED(shared);
  ScopedEnv env;
  env.clear_hub_vars();
  HandBuiltCache c(shared / "fixtures/models/bert-wordpiece-mean-norm");
  env.set("HF_HUB_CACHE", c.cache.string());
  // An endpoint nothing listens on: any network use would fail the resolve.
  env.set("HF_ENDPOINT", "http://127.0.0.1:9");
  size_t before = count_entries(c.cache);

  fs::path got = resolve_model("acme/tiny-model");
  EXPECT_EQ(got, c.snapshot);
  EXPECT_EQ(resolve_model("acme/tiny-model@" + c.commit), c.snapshot);
  EXPECT_EQ(resolve_model("acme/tiny-model@main", ResolveOptions{true}), c.snapshot);
  EXPECT_TRUE(fs::is_symlink(got / "model.safetensors"));
  EXPECT_EQ(sbert::testing::read_file(got / "1_Pooling/config.json"),
            sbert::testing::read_file(shared / "fixtures/models/bert-wordpiece-mean-norm/1_Pooling/config.json"));
  EXPECT_EQ(count_entries(c.cache), before) << "resolving must not write to the cache";

  auto models = list_cached_models();
  ASSERT_EQ(models.size(), 1u);
  EXPECT_EQ(models[0].name, "acme/tiny-model");
  EXPECT_EQ(models[0].size_bytes, c.blob_bytes);
  ASSERT_EQ(models[0].revisions.size(), 1u);
  EXPECT_EQ(models[0].revisions[0].commit, c.commit);
  EXPECT_EQ(models[0].revisions[0].refs, std::vector<std::string>{"main"});
}

TEST(HubCache, OfflineErrorsNameThePathLookedIn) {
  SBERT_REQUIRE_SHARED(shared);
  ScopedEnv env;
  env.clear_hub_vars();
  HandBuiltCache c(shared / "fixtures/models/bert-wordpiece-mean-norm");
  env.set("HF_HUB_CACHE", c.cache.string());
  env.set("HF_HUB_OFFLINE", "1");

  std::string msg = error_of([&] { resolve_model("acme/other"); });
  EXPECT_NE(msg.find("not in the hub cache (offline mode)"), std::string::npos) << msg;
  EXPECT_NE(msg.find((c.cache / "models--acme--other" / "refs" / "main").string()),
            std::string::npos) << msg;

  msg = error_of([&] { resolve_model("acme/tiny-model@v2"); });
  EXPECT_NE(msg.find((c.repo / "refs" / "v2").string()), std::string::npos) << msg;

  msg = error_of([&] { download_model("acme/tiny-model"); });
  EXPECT_NE(msg.find("offline"), std::string::npos) << msg;

  // A snapshot without its weights is not a usable model.
  fs::remove(c.snapshot / "model.safetensors");
  msg = error_of([&] { resolve_model("acme/tiny-model"); });
  EXPECT_NE(msg.find("only partly in the hub cache"), std::string::npos) << msg;
}

TEST(HubCache, EmptyOrMissingCacheListsNothing) {
  ScopedEnv env;
  env.clear_hub_vars();
  env.set("HF_HUB_CACHE", (sbert::testing::temp_dir("empty") / "absent").string());
  EXPECT_TRUE(list_cached_models().empty());
}
