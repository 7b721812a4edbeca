// `sbert` end to end (tokenizer.json WordPiece + the CPU runtime) on the ModernBERT, NomicBERT,
// GTE "new" and MPNet fixtures against their goldens: every text (stripped as
// sentence-transformers does), the prompts by name and as text, and config errors through the
// binary.
#include <cmath>
#include <fstream>

#include "cli_support.h"
#include "sbert/npy.h"
#include "test_support.h"

namespace fs = std::filesystem;
using nlohmann::json;
using sbert::testing::embed_npy;
using sbert::testing::max_abs_diff;
using sbert::testing::q;
using sbert::testing::run_sbert;
using sbert::testing::temp_dir;
using sbert::testing::write_file;
using sbert::testing::write_jsonl_texts;

namespace {

constexpr double kTol = 1e-5;
const std::string kJsonl = "--input-format jsonl ";

struct Fixture {
  const char* name;
  bool prompts;  // the golden has st_encode_prompt for its first prompt, search_query
};

TEST(EncoderFamilyCli, EmbedEqualsStEncodeWithPrompts) {
  SBERT_REQUIRE_SHARED(shared);
  for (const Fixture f : {Fixture{"modernbert-cls-norm", true}, Fixture{"nomic-bert-mean", true},
                          Fixture{"gte-new-cls", false}, Fixture{"mpnet-mean-norm", false}}) {
    SCOPED_TRACE(f.name);
    const json g = sbert::testing::load_json(shared / "fixtures/golden" / (std::string(f.name) + ".json"));
    const fs::path model = shared / "fixtures/models" / f.name, dir = temp_dir(std::string("family-") + f.name);
    const fs::path in = write_jsonl_texts(dir, g["texts"], "in.jsonl");
    const sbert::Matrix m = embed_npy(model, in, kJsonl + "--batch-size 16");
    ASSERT_EQ(m.rows, g["texts"].size());
    const double d = max_abs_diff(m, g["st_encode"]);
    std::printf("[cli] %s st_encode max abs diff %.3g (%zu texts)\n", f.name, d, m.rows);
    EXPECT_LE(d, kTol);
    if (!f.prompts) continue;
    const sbert::Matrix p = embed_npy(model, in, kJsonl + "--prompt-name search_query");
    const double dp = max_abs_diff(p, g["st_encode_prompt"]);
    std::printf("[cli] %s --prompt-name search_query max abs diff %.3g\n", f.name, dp);
    EXPECT_LE(dp, kTol);
    EXPECT_LE(max_abs_diff(embed_npy(model, in, kJsonl + "--prompt 'search_query: '"), g["st_encode_prompt"]), kTol);
  }
}

// A model folder whose config.json is the fixture's with one key changed (the other files linked,
// the module folders copied: they must lie inside the model folder).
fs::path with_config(const fs::path& model, const fs::path& dir, const std::string& key, const json& value) {
  fs::create_directories(dir);
  for (const auto& e : fs::directory_iterator(model))
    if (e.is_directory()) fs::copy(e.path(), dir / e.path().filename(), fs::copy_options::recursive);
    else if (e.path().filename() != "config.json") fs::create_symlink(e.path(), dir / e.path().filename());
  json c = sbert::testing::load_json(model / "config.json");
  c[key] = value;
  write_file(dir / "config.json", c.dump(2));
  return dir;
}

TEST(EncoderFamilyCli, ConfigErrorsAndMissingHeadsAreOneLine) {
  SBERT_REQUIRE_SHARED(shared);
  const fs::path dir = temp_dir("family-errors");
  write_file(dir / "in.jsonl", "{\"text\": \"hello\"}\n");
  struct Case {
    const char* fixture;
    const char* key;
    json value;
    const char* expect;
  } cases[] = {
      {"nomic-bert-mean", "rotary_emb_fraction", json(1.5), "'rotary_emb_fraction' must be in (0, 1]"},
      {"modernbert-cls-norm", "local_attention", json(1024), "'local_attention' (1024) is larger than max_position_embeddings"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.key);
    const fs::path model = with_config(shared / "fixtures/models" / c.fixture, dir / c.key, c.key, c.value);
    std::string out, err;
    EXPECT_NE(run_sbert("embed -q --model " + q(model) + " --input-format jsonl " + q(dir / "in.jsonl"), &out, &err), 0);
    EXPECT_NE(err.find((model / "config.json").string()), std::string::npos) << err;
    EXPECT_NE(err.find(c.expect), std::string::npos) << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  }
  // No sequence-classification head is described: nli says so in one line.
  write_file(dir / "nli.csv", "premise,hypothesis\na,b\n");
  std::string out, err;
  const fs::path mpnet = shared / "fixtures/models/mpnet-mean-norm";
  EXPECT_NE(run_sbert("nli -q -m " + q(mpnet) + " --premise-column premise --hypothesis-column hypothesis " +
                          q(dir / "nli.csv"),
                      &out, &err),
            0);
  EXPECT_NE(err.find("mpnet"), std::string::npos) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
}

}  // namespace
