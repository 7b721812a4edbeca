// End-to-end tests of `sbert nli`, `sbert nli-zeroshot` and `sbert rerank` against the
// transformers / sentence-transformers goldens, and their input errors.
#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>

#include "cli_support.h"
#include "test_support.h"

namespace fs = std::filesystem;
using sbert::testing::expect_error;
using sbert::testing::parse_jsonl;
using sbert::testing::q;
using sbert::testing::run_ok;
using sbert::testing::sbert_bin;
using sbert::testing::run_command;
using sbert::testing::temp_dir;
using sbert::testing::write_file;

namespace {

void check_nli_pairs(const std::string& name) {
  SBERT_REQUIRE_SHARED(shared);
  auto g = sbert::testing::load_json(shared / "fixtures/golden" / (name + ".json"));
  auto dir = temp_dir("nli-" + name);
  std::string body;
  for (size_t i = 0; i < g["pairs"].size(); ++i)
    body += nlohmann::json{{"p", g["pairs"][i][0]}, {"h", g["pairs"][i][1]}, {"key", "k" + std::to_string(i)}}
                .dump() + "\n";
  write_file(dir / "pairs.jsonl", body);
  std::vector<std::string> labels(g["id2label"].size());
  for (auto& [k, v] : g["id2label"].items()) labels.at(std::stoul(k)) = v.get<std::string>();

  auto rows = parse_jsonl(run_ok("nli -q -m " + q(shared / "fixtures/models" / name) +
                                 " --max-length 128 --batch-size 8 --premise-column p --hypothesis-column h"
                                 " --id-field key " + q(dir / "pairs.jsonl")));
  ASSERT_EQ(rows.size(), g["pairs_logits"].size());
  double worst = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& want = g["pairs_logits"][i];
    EXPECT_EQ(rows[i]["index"].get<size_t>(), i);
    EXPECT_EQ(rows[i]["id"].get<std::string>(), "k" + std::to_string(i));
    size_t best = 0;
    double z = 0;
    for (size_t j = 0; j < want.size(); ++j) {
      worst = std::max(worst, std::fabs(rows[i]["logits"][j].get<double>() - want[j].get<double>()));
      if (want[j].get<double>() > want[best].get<double>()) best = j;
      z += std::exp(want[j].get<double>());
    }
    EXPECT_EQ(rows[i]["label"].get<std::string>(), labels[best]);
    for (size_t j = 0; j < want.size(); ++j)
      EXPECT_NEAR(rows[i]["probabilities"][labels[j]].get<double>(), std::exp(want[j].get<double>()) / z, 1e-5);
  }
  EXPECT_LE(worst, 1e-5) << name;
}

TEST(NliCli, NliBertPairsLogits) { check_nli_pairs("nli-bert"); }
TEST(NliCli, NliXlmrPairsLogits) { check_nli_pairs("nli-xlmr"); }

void check_zeroshot(const std::string& name) {
  SBERT_REQUIRE_SHARED(shared);
  auto g = sbert::testing::load_json(shared / "fixtures/golden" / (name + ".json"));
  auto dir = temp_dir("zs-" + name);
  std::string texts, labels;
  for (auto& t : g["texts"]) texts += t.get<std::string>() + "\n";
  for (auto& l : g["labels"]) labels += (labels.empty() ? "" : ",") + l.get<std::string>();
  write_file(dir / "texts.txt", texts);
  const std::string base = "nli-zeroshot -q -m " + q(shared / "fixtures/models" / name) +
                           " --max-length 128 --batch-size 16 --labels '" + labels + "' --template '" +
                           g["hypothesis_template"].get<std::string>() + "' ";
  for (bool multi : {false, true}) {
    auto rows = parse_jsonl(run_ok(base + (multi ? "--multi-label " : "") + q(dir / "texts.txt")));
    const auto& want = g[multi ? "multi_label_scores" : "single_label_scores"];
    ASSERT_EQ(rows.size(), want.size());
    for (size_t t = 0; t < rows.size(); ++t) {
      // Rows read like the transformers pipeline's output: sequence, labels, scores.
      EXPECT_EQ(rows[t]["sequence"], g["texts"][t]);
      ASSERT_EQ(rows[t]["labels"].size(), g["labels"].size());
      double prev = 2;
      for (size_t k = 0; k < rows[t]["labels"].size(); ++k) {
        const std::string label = rows[t]["labels"][k].get<std::string>();
        size_t j = 0;
        while (j < g["labels"].size() && g["labels"][j].get<std::string>() != label) ++j;
        ASSERT_LT(j, g["labels"].size()) << label;
        const double s = rows[t]["scores"][k].get<double>();
        EXPECT_NEAR(s, want[t][j].get<double>(), 1e-5) << name << " text " << t << " " << label;
        EXPECT_LE(s, prev);  // sorted, highest first
        prev = s;
      }
      // The pipeline's maps for the first texts: same labels, same order.
      const auto& hf = g[multi ? "hf_pipeline_multi" : "hf_pipeline_single"];
      if (t < hf.size()) {
        std::vector<std::pair<double, std::string>> hs;
        for (auto& [k, v] : hf[t].items()) hs.push_back({v.get<double>(), k});
        std::sort(hs.rbegin(), hs.rend());
        for (size_t k = 0; k < hs.size(); ++k) {
          EXPECT_EQ(rows[t]["labels"][k].get<std::string>(), hs[k].second);
          EXPECT_NEAR(rows[t]["scores"][k].get<double>(), hs[k].first, 1e-5);
        }
      }
    }
  }
  // --top 1 and CSV with one column per label.
  auto top = parse_jsonl(run_ok(base + "--top 1 " + q(dir / "texts.txt")));
  ASSERT_EQ(top.size(), g["texts"].size());
  EXPECT_EQ(top[0]["labels"].size(), 1u);
  std::string csv = run_ok(base + "--multi-label --format csv " + q(dir / "texts.txt"));
  std::string header = csv.substr(0, csv.find('\n'));
  EXPECT_EQ(header, "index,sequence,label," + labels);
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), static_cast<long>(g["texts"].size() + 1));
  csv = run_ok(base + "--multi-label --no-text --format csv " + q(dir / "texts.txt"));
  EXPECT_EQ(csv.substr(0, csv.find('\n')), "index,label," + labels);
  // --threshold keeps only labels scoring at least T.
  auto thr = parse_jsonl(run_ok(base + "--multi-label --threshold 0.5 " + q(dir / "texts.txt")));
  for (size_t t = 0; t < thr.size(); ++t) {
    size_t above = 0;
    for (auto& s : g["multi_label_scores"][t]) above += s.get<double>() >= 0.5;
    EXPECT_EQ(thr[t]["labels"].size(), above) << t;
  }
}

TEST(NliCli, ZeroShotNliBert) { check_zeroshot("nli-bert"); }
TEST(NliCli, ZeroShotNliXlmr) { check_zeroshot("nli-xlmr"); }

TEST(NliCli, RerankCrossEncoder) {
  SBERT_REQUIRE_SHARED(shared);
  auto g = sbert::testing::load_json(shared / "fixtures/golden/cross-encoder-bert.json");
  auto dir = temp_dir("rerank");
  std::string docs;
  for (auto& d : g["rank_docs"]) docs += nlohmann::json{{"text", d}}.dump() + "\n";
  write_file(dir / "docs.jsonl", docs);
  const std::string model = q(shared / "fixtures/models/cross-encoder-bert");
  auto rows = parse_jsonl(run_ok("rerank -q -m " + model + " --max-length 128 --query '" +
                                 g["rank_query"].get<std::string>() + "' " + q(dir / "docs.jsonl")));
  ASSERT_EQ(rows.size(), g["rank"].size());
  for (size_t r = 0; r < rows.size(); ++r) {
    EXPECT_EQ(rows[r]["rank"].get<size_t>(), r + 1);
    EXPECT_EQ(rows[r]["index"].get<size_t>(), g["rank"][r]["corpus_id"].get<size_t>()) << "rank " << r;
    EXPECT_NEAR(rows[r]["score"].get<double>(), g["rank"][r]["score"].get<double>(), 1e-5);
    EXPECT_EQ(rows[r]["text"], g["rank_docs"][g["rank"][r]["corpus_id"].get<size_t>()]);
  }
  auto top = parse_jsonl(run_ok("rerank -q -m " + model + " --top-k 5 --query '" +
                                g["rank_query"].get<std::string>() + "' " + q(dir / "docs.jsonl")));
  ASSERT_EQ(top.size(), 5u);
  EXPECT_EQ(top[4]["index"].get<size_t>(), g["rank"][4]["corpus_id"].get<size_t>());

  // Many queries in one file: the golden pairs, grouped by their first sentence; scores are the
  // golden sigmoid scores.
  std::string pairs;
  for (size_t i = 0; i < 20; ++i)
    pairs += nlohmann::json{{"q", i < 10 ? "Q one" : "Q two"}, {"t", g["pairs"][i][1]}}.dump() + "\n";
  write_file(dir / "pairs.jsonl", pairs);
  auto multi = parse_jsonl(run_ok("rerank -q -m " + model + " --query-column q --text-column t --top-k 3 " +
                                  q(dir / "pairs.jsonl")));
  ASSERT_EQ(multi.size(), 6u);
  EXPECT_EQ(multi[0]["query"], "Q one");
  EXPECT_EQ(multi[3]["query"], "Q two");
  EXPECT_LT(multi[3]["index"].get<size_t>(), 20u);
  EXPECT_GE(multi[3]["index"].get<size_t>(), 10u);
}

TEST(NliCli, GoldColumnAccuracyAndConfusion) {
  SBERT_REQUIRE_SHARED(shared);
  auto dir = temp_dir("nli-gold");
  std::string all = sbert::testing::read_file(shared / "data/kornli/xnli-test-ko.tsv");
  // Header + 40 rows.
  size_t pos = 0;
  for (int i = 0; i < 41; ++i) pos = all.find('\n', pos) + 1;
  write_file(dir / "xnli.tsv", all.substr(0, pos));
  std::string err;
  std::string out = run_ok("nli -m " + q(shared / "fixtures/models/nli-xlmr") +
                               " --premise-column sentence1 --hypothesis-column sentence2 --gold-column gold_label"
                               " --format csv " + q(dir / "xnli.tsv"),
                           &err);
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 41);
  EXPECT_EQ(out.substr(0, out.find('\n')),
            "index,label,ENTAILMENT,neutral,Contradiction,logit_ENTAILMENT,logit_neutral,logit_Contradiction");
  EXPECT_NE(err.find("sbert: accuracy "), std::string::npos) << err;  // a log line like the others
  EXPECT_NE(err.find("/40)"), std::string::npos) << err;
  EXPECT_NE(err.find("confusion matrix"), std::string::npos) << err;
}

TEST(NliCli, BadInputIsAClearError) {
  SBERT_REQUIRE_SHARED(shared);
  const std::string nli = q(shared / "fixtures/models/nli-bert");
  const std::string zs = "nli-zeroshot -m " + nli + " ";
  expect_error(zs, "no candidate labels");
  expect_error(zs + "--labels ' , '", "candidate label 1 is empty");
  expect_error(zs + "--labels 'a,b,a'", "'a' is given more than once");
  expect_error(zs + "--labels 'a,b' --template 'This is about sports.'", "no {} placeholder");
  expect_error(zs + "--labels 'a,b' --entailment-label ENTAILS", "'ENTAILS' is not one of the model's labels");
  expect_error("nli-zeroshot --labels 'a,b' -m " + q(shared / "fixtures/models/cross-encoder-bert"),
               "no entailment label");
  expect_error("nli-zeroshot --labels 'a,b' -m " + q(shared / "fixtures/models/bert-wordpiece-mean-norm"),
               "no sequence-classification head");
  expect_error("nli-zeroshot --labels 'a,b'", "--model is required");
  expect_error("rerank --query x -m " + nli, "needs a model with one output");
  expect_error("rerank -m " + q(shared / "fixtures/models/cross-encoder-bert"), "no query");
  auto dir = temp_dir("nli-bad");
  write_file(dir / "p.csv", "premise,hyp\nA man.,A person.\n");
  expect_error("nli -m " + nli + " --premise-column premise --hypothesis-column hypothesis " + q(dir / "p.csv"),
               "no hypothesis column 'hypothesis'");
}

}  // namespace

// --quantize int8 (dynamic int8 Linear layers) on nli, nli-zeroshot and rerank: the float32
// goldens within a quantization tolerance. The fixtures are 32-wide toy models, where 8-bit
// activations cost relatively more than on real shapes (bench_embed: MiniLM shape, STS-B,
// lowest cosine to float32 0.99997), hence the loose bounds.
TEST(NliCli, QuantizeInt8StaysCloseToTheGoldens) {
  SBERT_REQUIRE_SHARED(shared);
  auto g = sbert::testing::load_json(shared / "fixtures/golden/nli-bert.json");
  auto dir = temp_dir("nli-int8");
  std::string body;
  for (size_t i = 0; i < g["pairs"].size(); ++i)
    body += nlohmann::json{{"p", g["pairs"][i][0]}, {"h", g["pairs"][i][1]}}.dump() + "\n";
  write_file(dir / "pairs.jsonl", body);
  auto rows = parse_jsonl(run_ok("nli -q --quantize int8 -m " + q(shared / "fixtures/models/nli-bert") +
                                 " --max-length 128 --premise-column p --hypothesis-column h " + q(dir / "pairs.jsonl")));
  ASSERT_EQ(rows.size(), g["pairs_logits"].size());
  double worst = 0, spread = 0;
  for (size_t i = 0; i < rows.size(); ++i)
    for (size_t j = 0; j < g["pairs_logits"][i].size(); ++j) {
      const double want = g["pairs_logits"][i][j].get<double>();
      worst = std::max(worst, std::fabs(rows[i]["logits"][j].get<double>() - want));
      spread = std::max(spread, std::fabs(want));
    }
  std::printf("[int8] nli logits: max diff %.3g (largest logit %.3g)\n", worst, spread);
  EXPECT_GT(worst, 0.0) << "int8 should not be bit-identical to float32";
  // Measured on this random-weight fixture: 0.18 with 8-bit activations (VNNI CPUs), 0.245 with
  // the 7-bit ones of CPUs without VNNI (AVX2), of logits up to 2.41.
  EXPECT_LE(worst, 0.13 * spread);
  // Every pair whose float32 winner leads clearly keeps its label.
  for (size_t i = 0; i < rows.size(); ++i) {
    std::vector<double> want, got;
    for (size_t j = 0; j < g["pairs_logits"][i].size(); ++j) {
      want.push_back(g["pairs_logits"][i][j].get<double>());
      got.push_back(rows[i]["logits"][j].get<double>());
    }
    std::vector<double> sorted = want;
    std::sort(sorted.rbegin(), sorted.rend());
    if (sorted.size() < 2 || sorted[0] - sorted[1] < 2 * worst) continue;
    EXPECT_EQ(std::max_element(got.begin(), got.end()) - got.begin(),
              std::max_element(want.begin(), want.end()) - want.begin()) << "pair " << i;
  }

  auto c = sbert::testing::load_json(shared / "fixtures/golden/cross-encoder-bert.json");
  std::string docs;
  for (auto& d : c["rank_docs"]) docs += nlohmann::json{{"text", d}}.dump() + "\n";
  write_file(dir / "docs.jsonl", docs);
  auto ranked = parse_jsonl(run_ok("rerank -q --quantize int8 -m " + q(shared / "fixtures/models/cross-encoder-bert") +
                                   " --max-length 128 --query '" + c["rank_query"].get<std::string>() + "' " +
                                   q(dir / "docs.jsonl")));
  ASSERT_EQ(ranked.size(), c["rank"].size());
  std::map<size_t, double> want;
  for (auto& r : c["rank"]) want[r["corpus_id"].get<size_t>()] = r["score"].get<double>();
  for (auto& r : ranked) EXPECT_NEAR(r["score"].get<double>(), want[r["index"].get<size_t>()], 0.03);

  auto z = run_ok("nli-zeroshot -q --quantize int8 -m " + q(shared / "fixtures/models/nli-bert") +
                  " --labels 'sports,politics' " + q(dir / "docs.jsonl"));
  EXPECT_EQ(parse_jsonl(z).size(), c["rank_docs"].size());
  expect_error("nli --quantize int8 --dtype bfloat16 -m " + q(shared / "fixtures/models/nli-bert") +
                   " --premise-column p --hypothesis-column h " + q(dir / "pairs.jsonl"),
               "--quantize int8 runs on the CPU in float32");
}
