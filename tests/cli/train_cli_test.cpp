// `sbert train` end to end: the PyTorch reference runs of ../shared/fixtures/training reproduced
// through the command line (losses from the JSONL log, parameters from the written folder), the
// folder read back by `sbert embed`, and the input errors (exit 2, one line, nothing written).
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <thread>
#include <chrono>

#include "nn/weight_store.h"
#include "cli_support.h"
#include "test_support.h"

namespace fs = std::filesystem;
using sbert::testing::parse_jsonl;
using sbert::testing::q;
using sbert::testing::run_command;
using sbert::testing::temp_dir;
using sbert::testing::write_file;

namespace {

const char* kReferenceArgs =
    " --input-format tsv --no-header --a-column 5 --b-column 6 --label-column 4 --score-scale 5"
    " --dropout 0 --no-shuffle --lr 1e-3 --max-steps 3 --batch-size 8 --max-length 64"
    " --warmup-ratio 0 --scheduler constant -q";

// split: train 2 steps, then --resume for the third.
void reference_run(const std::string& name, bool split = false) {
  SBERT_REQUIRE_SHARED(shared);
  const fs::path dir = shared / "fixtures" / "training" / name;
  auto spec = sbert::testing::load_json(dir / "spec.json");
  fs::path tmp = temp_dir("train_cli_" + name);
  const fs::path out = tmp / "out", logf = tmp / "log.jsonl";
  std::string err;
  std::string cmd = std::string(SBERT_BINARY) + " train " + spec["objective"].get<std::string>() + " --model " +
                    q(shared / spec["model"].get<std::string>()) + " --loss " + spec["loss"].get<std::string>() +
                    " --train " + q(shared / spec["data"]["file"].get<std::string>()) + kReferenceArgs +
                    " -o " + q(out) + " --log " + q(logf);
  if (split) {
    std::string first = cmd;
    first.replace(first.find("--max-steps 3"), 13, "--max-steps 2");
    ASSERT_EQ(run_command(first, nullptr, &err), 0) << first << "\n" << err;
    ASSERT_TRUE(fs::exists(out / ".trainer_state" / "state.json"));
    cmd += " --resume";
  }
  ASSERT_EQ(run_command(cmd, nullptr, &err), 0) << cmd << "\n" << err;
  auto log = parse_jsonl(sbert::testing::read_file(logf));
  std::vector<double> losses;
  for (const auto& r : log)
    if (r.contains("loss") && !r.contains("eval")) losses.push_back(r["loss"].get<double>());
  ASSERT_EQ(losses.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_NEAR(losses[i], spec["losses"][i].get<double>(), 1e-5) << "step " << i;

  auto got = sbert::nn::open_safetensors(out / "model.safetensors");
  auto want = sbert::nn::open_safetensors(dir / "after.safetensors");
  // As in tests/nn/train_reference_test.cpp: key biases (true gradient exactly zero) within
  // 2e-3, everything else within 1e-4 and all but a few elements within 1e-5.
  size_t off = 0;
  double worst = 0, worst_key_bias = 0;
  for (const std::string& n : want->names()) {
    ASSERT_TRUE(got->contains(n)) << n;
    at::Tensor d = (got->get(n).to(at::kFloat) - want->get(n).to(at::kFloat)).abs();
    if (n.find("attention.self.key.bias") != std::string::npos) {
      worst_key_bias = std::max(worst_key_bias, d.max().item<double>());
      continue;
    }
    off += static_cast<size_t>((d > 1e-5).sum().item<int64_t>());
    worst = std::max(worst, d.max().item<double>());
  }
  EXPECT_EQ(got->names().size(), want->names().size());
  EXPECT_LE(off, 8u);
  EXPECT_LE(worst, 1e-4);
  EXPECT_LE(worst_key_bias, 2.5e-3);
  EXPECT_TRUE(fs::exists(out / "README.md"));
  if (spec["objective"] == "bi") {
    for (const char* f : {"modules.json", "config.json", "1_Pooling/config.json", "sentence_bert_config.json",
                          "config_sentence_transformers.json", "tokenizer.json"})
      EXPECT_TRUE(fs::exists(out / f)) << f;
    // The trained folder loads in `sbert embed`.
    write_file(tmp / "texts.txt", "A plane is taking off.\nA man is playing a flute.\n");
    std::string o2, e2;
    EXPECT_EQ(run_command(std::string(SBERT_BINARY) + " embed --model " + q(out) + " " + q(tmp / "texts.txt") +
                              " --format jsonl -q", &o2, &e2), 0) << e2;
    EXPECT_EQ(parse_jsonl(o2).size(), 2u);
  }
}

void expect_error(const std::string& args, const std::string& want, const fs::path& must_not_exist) {
  std::string out, err;
  int rc = run_command(std::string(SBERT_BINARY) + " train " + args, &out, &err);
  EXPECT_EQ(rc, 2) << args << "\n" << err;
  EXPECT_NE(err.find("sbert: error: "), std::string::npos) << err;
  EXPECT_NE(err.find(want), std::string::npos) << "want '" << want << "' in: " << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  if (!must_not_exist.empty()) EXPECT_FALSE(fs::exists(must_not_exist)) << must_not_exist;
}

}  // namespace

TEST(TrainCli, ReproducesBiEncoderReference) { reference_run("bi-cosine"); }
TEST(TrainCli, ReproducesCrossEncoderReference) { reference_run("cross-bce"); }

TEST(TrainCli, ResumeContinuesTheReferenceRun) { reference_run("cross-bce", true); }

TEST(TrainCli, BadInput) {
  SBERT_REQUIRE_SHARED(shared);
  const fs::path model = shared / "fixtures" / "models" / "bert-wordpiece-mean-norm";
  fs::path tmp = temp_dir("train_cli_errors");
  write_file(tmp / "ok.csv", "sentence1,sentence2,score\na man,a woman,3\nthe dog,a cat,1\n");
  write_file(tmp / "scale.csv", "sentence1,sentence2,score\na man,a woman,3\nthe dog,a cat,7\n");
  write_file(tmp / "empty.csv", "sentence1,sentence2,score\n");
  write_file(tmp / "one.csv", "sentence1,sentence2,score\na man,a woman,3\n");
  write_file(tmp / "nli.csv", "premise,hypothesis,label\na man,a woman,neutral\nthe dog,a cat,maybe\n");
  const fs::path out = tmp / "out";
  const std::string base = "bi --model " + q(model) + " --loss cosine --score-scale 5 -o " + q(out);
  expect_error(base + " --train " + q(tmp / "scale.csv"), "scale.csv:3", out);
  expect_error(base + " --train " + q(tmp / "empty.csv"), "no training rows", out);
  expect_error(base + " --train " + q(tmp / "ok.csv") + " --dev " + q(tmp / "one.csv"), "at least 2 rows", out);
  expect_error(base + " --train " + q(tmp / "ok.csv") + " --lr 0", "--lr", out);
  expect_error("bi --model " + q(model) + " --loss softmax --label-names entailment,neutral,contradiction -o " +
                   q(out) + " --train " + q(tmp / "nli.csv"),
               "unknown label 'maybe'", out);
  fs::path noweights = tmp / "noweights";
  fs::create_directories(noweights);
  fs::copy_file(model / "config.json", noweights / "config.json");
  fs::copy_file(model / "vocab.txt", noweights / "vocab.txt");
  expect_error("bi --model " + q(noweights) + " --loss cosine --score-scale 5 -o " + q(out) + " --train " +
                   q(tmp / "ok.csv"),
               "no model weights", out);
  fs::create_directories(tmp / "exists");
  expect_error("bi --model " + q(model) + " --loss cosine --score-scale 5 -o " + q(tmp / "exists") + " --train " +
                   q(tmp / "ok.csv"),
               "--overwrite", fs::path());
  EXPECT_TRUE(fs::is_empty(tmp / "exists"));
}

namespace {

// A long run checkpointed every 2 steps, interrupted with SIGINT: exit 130, the folder is a whole
// model (sbert embed loads it) with the state of the last step, and --resume continues from it.
TEST(TrainCli, CtrlCSavesAConsistentCheckpointThatResumes) {
  SBERT_REQUIRE_SHARED(shared);
  const fs::path model = shared / "fixtures" / "models" / "bert-wordpiece-mean-norm";
  fs::path tmp = temp_dir("train_cli_sigint");
  std::string rows = "sentence1,sentence2,score\n";
  for (int i = 0; i < 64; ++i) rows += "a man number " + std::to_string(i) + ",a woman " + std::to_string(i % 7) + "," + std::to_string(i % 6) + "\n";
  write_file(tmp / "train.csv", rows);
  const fs::path out = tmp / "out", logf = tmp / "log.jsonl";
  const std::string args = " train bi --model " + q(model) + " --loss cosine --score-scale 5 --batch-size 2 --max-steps 100000" +
                           " --save-steps 2 --train " + q(tmp / "train.csv") + " -o " + q(out) + " --log " + q(logf) + " -q";
  // Run in the background, interrupt once a few steps are logged (bounded: 120 s).
  const fs::path pidf = tmp / "pid", rcf = tmp / "rc";
  const std::string script = std::string(SBERT_BINARY) + args + " 2> " + q(tmp / "err") + " & echo $! > " + q(pidf) +
                             "; wait $!; echo $? > " + q(rcf);
  write_file(tmp / "run.sh", script + "\n");
  ASSERT_EQ(run_command("sh " + q(tmp / "run.sh") + " > /dev/null 2>&1 &"), 0);
  size_t logged = 0;
  for (int i = 0; i < 1200 && logged < 5; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::error_code ec;
    if (fs::exists(logf, ec)) logged = parse_jsonl(sbert::testing::read_file(logf)).size();
  }
  ASSERT_GE(logged, 5u) << "training did not start";
  ASSERT_EQ(run_command("kill -INT $(cat " + q(pidf) + ")"), 0);
  for (int i = 0; i < 1200 && !(fs::exists(rcf) && fs::file_size(rcf) > 0); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_TRUE(fs::exists(rcf)) << "sbert train did not stop on SIGINT";
  EXPECT_EQ(std::stoi(sbert::testing::read_file(rcf)), 130) << sbert::testing::read_file(tmp / "err");
  auto state = sbert::testing::load_json(out / ".trainer_state" / "state.json");
  const auto log = parse_jsonl(sbert::testing::read_file(logf));
  size_t last_step = 0;
  for (const auto& r : log)
    if (r.contains("step") && !r.contains("eval")) last_step = std::max(last_step, r["step"].get<size_t>());
  EXPECT_EQ(state["step"].get<size_t>(), last_step) << "the saved state is not the last step's";
  std::string out_text, err;
  ASSERT_EQ(run_command("echo 'a man' | " + std::string(SBERT_BINARY) + " embed -q --model " + q(out), &out_text, &err), 0) << err;
  EXPECT_NE(out_text.find("embedding"), std::string::npos);
  // --resume continues after the saved step.
  std::string resume = std::string(SBERT_BINARY) + args;
  resume.replace(resume.find("--max-steps 100000"), 18, "--max-steps " + std::to_string(last_step + 2));
  ASSERT_EQ(run_command(resume + " --resume", nullptr, &err), 0) << err;
  size_t resumed_to = 0;
  for (const auto& r : parse_jsonl(sbert::testing::read_file(logf)))
    if (r.contains("step") && !r.contains("eval")) resumed_to = std::max(resumed_to, r["step"].get<size_t>());
  EXPECT_EQ(resumed_to, last_step + 2);
}

}  // namespace

namespace {
// The last "step N: dev accuracy X" / "dev spearman S, pearson P" line of a training run.
std::string last_eval(const std::string& err) {
  const size_t at = err.rfind(": dev ");
  return at == std::string::npos ? std::string() : err.substr(at + 6, err.find('\n', at) - at - 6);
}
}  // namespace

// The evaluation a training run reports is what the saved model gives in `sbert nli` /
// `sbert similarity` on the same file: same truncation (the length training used goes with the
// model), same labels, same counts. Pairs here are longer than the base model's 128 tokens.
TEST(TrainCli, DevEvaluationEqualsTheSavedModelsNliAndSimilarity) {
  SBERT_REQUIRE_SHARED(shared);
  fs::path tmp = temp_dir("train_cli_eval");
  const std::string all = sbert::testing::read_file(shared / "data/kornli/xnli-test-ko.tsv");
  // Header + the first 240 pairs for training, the next 300 for the dev set.
  std::istringstream in(all);
  std::string line, header, train = "", dev = "";
  std::getline(in, header);
  for (int i = 0; std::getline(in, line) && i < 540; ++i) (i < 240 ? train : dev) += line + "\n";
  write_file(tmp / "train.tsv", header + "\n" + train);
  write_file(tmp / "dev.tsv", header + "\n" + dev);
  const std::string base = q(shared / "fixtures/models/bert-wordpiece-mean-norm");
  std::string out, err;
  ASSERT_EQ(run_command(std::string(SBERT_BINARY) + " train cross --model " + base +
                            " --loss ce --num-labels 3 --lr 3e-3 --max-steps 30 --batch-size 8 --seed 3"
                            " --train " + q(tmp / "train.tsv") + " --dev " + q(tmp / "dev.tsv") +
                            " --a-column sentence1 --b-column sentence2 --label-column gold_label"
                            " --label-names entailment,neutral,contradiction -o " + q(tmp / "nli"),
                        &out, &err),
            0)
      << err;
  const std::string trained = last_eval(err);
  ASSERT_EQ(trained.rfind("accuracy ", 0), 0u) << err;
  const double accuracy = std::stod(trained.substr(9));
  ASSERT_EQ(run_command(std::string(SBERT_BINARY) + " nli --model " + q(tmp / "nli") +
                            " --premise-column sentence1 --hypothesis-column sentence2 --gold-column gold_label -o " +
                            q(tmp / "nli.jsonl") + " " + q(tmp / "dev.tsv"),
                        &out, &err),
            0)
      << err;
  const size_t at = err.find("accuracy ");
  ASSERT_NE(at, std::string::npos) << err;
  const size_t open = err.find('(', at), slash = err.find('/', open);
  const long correct = std::stol(err.substr(open + 1, slash - open - 1));
  EXPECT_EQ(std::stol(err.substr(slash + 1)), 300);
  EXPECT_EQ(correct, std::lround(accuracy * 300)) << "training said " << trained << "; sbert nli: " << err.substr(at, 40);

  // A bi-encoder: the Spearman/Pearson of training and of `sbert similarity` on its folder.
  ASSERT_EQ(run_command(std::string(SBERT_BINARY) + " train bi --model " + base +
                            " --loss cosine --lr 1e-3 --max-steps 20 --batch-size 8 --seed 3"
                            " --input-format tsv --no-header --a-column 5 --b-column 6 --label-column 4 --score-scale 5"
                            " --train " + q(shared / "data/stsb/stsb-train.csv") + " --dev " +
                            q(shared / "data/stsb/stsb-dev.csv") + " -o " + q(tmp / "bi"),
                        &out, &err),
            0)
      << err;
  const std::string bi = last_eval(err);
  ASSERT_EQ(bi.rfind("spearman ", 0), 0u) << err;
  const double spearman = std::stod(bi.substr(9)), pearson = std::stod(bi.substr(bi.find("pearson ") + 8));
  ASSERT_EQ(run_command(std::string(SBERT_BINARY) + " similarity --model " + q(tmp / "bi") +
                            " --input-format tsv --no-header --a-column 5 --b-column 6 --gold-column 4 -o " +
                            q(tmp / "scored.tsv") + " " + q(shared / "data/stsb/stsb-dev.csv"),
                        &out, &err),
            0)
      << err;
  const size_t p = err.find("Pearson "), s = err.find("Spearman ");
  ASSERT_NE(p, std::string::npos) << err;
  EXPECT_NEAR(std::stod(err.substr(p + 8)), pearson, 5e-5) << err;
  EXPECT_NEAR(std::stod(err.substr(s + 9)), spearman, 5e-5) << err;
}

namespace {

// The names in `dir` (not recursive), sorted.
std::vector<std::string> entries(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// Issue 32 #13: -o ., a dangling -o link and an output folder holding an input give one line and
// leave nothing behind; the temporaries of earlier killed runs are cleaned by the next run.
TEST(TrainCli, OutputFolderChecksAndStaleTemporaries) {
  SBERT_REQUIRE_SHARED(shared);
  const fs::path model = shared / "fixtures" / "models" / "bert-wordpiece-mean-norm";
  fs::path tmp = temp_dir("train_cli_output");
  write_file(tmp / "ok.csv", "sentence1,sentence2,score\na man,a woman,3\nthe dog,a cat,1\n");
  const std::string base = "bi --model " + q(model) + " --loss cosine --score-scale 5 --max-steps 1 -q --train " +
                           q(tmp / "ok.csv");
  const std::vector<std::string> before = entries(tmp);

  // -o . (with --overwrite: it would have renamed the current directory away).
  std::string out, err;
  int rc = run_command("cd " + q(tmp) + " && " + std::string(SBERT_BINARY) + " train " + base + " -o . --overwrite",
                       &out, &err);
  EXPECT_EQ(rc, 2) << err;
  EXPECT_NE(err.find("sbert: error: -o .: the output folder is the current directory"), std::string::npos) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  EXPECT_EQ(entries(tmp), before);

  // A dangling symbolic link.
  fs::create_symlink(tmp / "nowhere" / "model", tmp / "link");
  expect_error(base + " -o " + q(tmp / "link"), "is a dangling symbolic link", fs::path());
  std::vector<std::string> with_link = before;
  with_link.push_back("link");
  std::sort(with_link.begin(), with_link.end());
  EXPECT_EQ(entries(tmp), with_link) << "temporaries left behind";
  fs::remove(tmp / "link");

  // An output folder that holds the training data: --overwrite would have deleted it.
  fs::create_directories(tmp / "data");
  write_file(tmp / "data" / "train.csv", "sentence1,sentence2,score\na man,a woman,3\nthe dog,a cat,1\n");
  expect_error("bi --model " + q(model) + " --loss cosine --score-scale 5 --max-steps 1 --train " +
                   q(tmp / "data" / "train.csv") + " -o " + q(tmp / "data") + " --overwrite",
               "contains the input --train", fs::path());
  EXPECT_TRUE(fs::exists(tmp / "data" / "train.csv"));
  expect_error(base + " --log " + q(tmp / "data" / "log.jsonl") + " -o " + q(tmp / "data") + " --overwrite",
               "contains the input --log", fs::path());

  // Stale temporaries of killed runs (a PID above any pid_max) are removed by the next run;
  // those of a running process (this test's own PID) are left alone.
  ASSERT_EQ(run_command(std::string(SBERT_BINARY) + " train " + base + " -o " + q(tmp / "m"), nullptr, &err), 0) << err;
  fs::create_directories(tmp / ".m.tmp-999999999" / "x");  // killed while writing a save
  fs::create_directories(tmp / ".m.old-999999998");        // killed before removing the previous folder
  const std::string live = ".m.tmp-" + std::to_string(::getpid());
  fs::create_directories(tmp / live);
  ASSERT_EQ(run_command(std::string(SBERT_BINARY) + " train " + base + " -o " + q(tmp / "m") + " --overwrite", nullptr,
                        &err),
            0)
      << err;
  EXPECT_TRUE(fs::exists(tmp / "m" / "model.safetensors"));
  EXPECT_FALSE(fs::exists(tmp / ".m.tmp-999999999"));
  EXPECT_FALSE(fs::exists(tmp / ".m.old-999999998"));
  EXPECT_TRUE(fs::exists(tmp / live));
  fs::remove_all(tmp / live);
  // -o m/ (a trailing separator) saves into m, not into a folder without a name.
  ASSERT_EQ(run_command(std::string(SBERT_BINARY) + " train " + base + " -o " + q(tmp / "m") + "/ --overwrite", nullptr,
                        &err),
            0)
      << err;
  std::vector<std::string> want = before;
  for (const char* n : {"data", "m"}) want.push_back(n);
  std::sort(want.begin(), want.end());
  EXPECT_EQ(entries(tmp), want);
}

}  // namespace

// The rotary decoders (Qwen3-Embedding, EmbeddingGemma with its Dense modules): three steps of
// `sbert train bi` against an independent reference (scripts/train_reference_decoders.py: the
// ../shared/reference ports under torch autograd + AdamW), the losses and gradient norms.
TEST(TrainCli, ReproducesTheDecoderReferences) {
  SBERT_REQUIRE_SHARED(shared);
  const auto ref = sbert::testing::load_json(fs::path(SBERT_SOURCE_DIR) / "tests/cli/data/train_reference_decoders.json");
  for (const auto& c : ref["cases"]) {
    SCOPED_TRACE(c["model"].get<std::string>());
    fs::path tmp = temp_dir("train_cli_decoder");
    const fs::path out = tmp / "out", logf = tmp / "log.jsonl";
    std::string err;
    const std::string cmd = std::string(SBERT_BINARY) + " train bi --model " + q(shared / c["model"].get<std::string>()) +
                            " --loss cosine --train " + q(shared / "data/stsb/stsb-train.csv") + kReferenceArgs +
                            " -o " + q(out) + " --log " + q(logf);
    ASSERT_EQ(run_command(cmd, nullptr, &err), 0) << cmd << "\n" << err;
    std::vector<double> losses, norms;
    for (const auto& r : parse_jsonl(sbert::testing::read_file(logf)))
      if (r.contains("loss") && !r.contains("eval")) {
        losses.push_back(r["loss"].get<double>());
        norms.push_back(r["grad_norm"].get<double>());
      }
    ASSERT_EQ(losses.size(), 3u);
    for (size_t i = 0; i < 3; ++i) {
      EXPECT_NEAR(losses[i], c["losses"][i].get<double>(), 2e-6) << "step " << i;
      EXPECT_NEAR(norms[i], c["grad_norms"][i].get<double>(), 2e-5 * c["grad_norms"][i].get<double>()) << "step " << i;
    }
    // The trained folder embeds.
    write_file(tmp / "texts.txt", "A plane is taking off.\n");
    std::string o2, e2;
    EXPECT_EQ(run_command(std::string(SBERT_BINARY) + " embed -q --model " + q(out) + " " + q(tmp / "texts.txt"), &o2, &e2), 0)
        << e2;
  }
}
