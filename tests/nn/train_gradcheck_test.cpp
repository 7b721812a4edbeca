// Finite-difference checks of every training loss on a tiny generated model: the analytic
// gradient of a few parameter elements (the largest of several tensors) against the central
// difference (L(p + h) - L(p - h)) / 2h of the loss. Dropout is off so the loss is a function.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "sbert/classifier.h"
#include "sbert/encoder.h"
#include "sbert/random_model.h"
#include "sbert/train.h"
#include "test_support.h"

namespace fs = std::filesystem;
using namespace sbert;

namespace {

// model_type: bert, distilbert or electra (embedding_size != hidden: ELECTRA's projection).
fs::path tiny_model(const std::string& model_type = "bert", size_t embedding_size = 0) {
  static std::map<std::string, fs::path> dirs;
  const std::string key = model_type + std::to_string(embedding_size);
  fs::path& dir = dirs[key];
  if (dir.empty()) {
    dir = sbert::testing::temp_dir("train_gradcheck") / key;
    RandomModelSpec s;
    s.model_type = model_type;
    s.embedding_size = embedding_size;
    s.hidden = 16;
    s.layers = 1;
    s.heads = 2;
    s.intermediate = 32;
    s.max_position = 64;
    s.init_std = 0.3;  // large enough weights for gradients well above float32 rounding
    s.seed = 7;
    write_random_model(dir, s);
  }
  return dir;
}

// A tiny rotary decoder (qwen3 with last-token pooling, or gemma3_text with mean pooling):
// grouped key/value heads, q/k norms, a gated MLP.
fs::path tiny_decoder(const std::string& model_type) {
  static std::map<std::string, fs::path> dirs;
  fs::path& dir = dirs[model_type];
  if (dir.empty()) {
    dir = sbert::testing::temp_dir("train_gradcheck") / model_type;
    RandomModelSpec s;
    s.model_type = model_type;
    s.hidden = 16;
    s.layers = 2;
    s.heads = 2;
    s.kv_heads = 1;
    s.head_dim = 8;
    s.intermediate = 24;
    s.max_position = 64;
    s.pooling = model_type == "qwen3" ? "lasttoken" : "mean";
    s.init_std = 0.3;
    s.seed = 11;
    write_random_model(dir, s);
  }
  return dir;
}

std::vector<TrainExample> rows() {
  const char* a[] = {"a man is playing guitar", "the dog is running on the beach", "a woman eats food",
                     "the cat is in the water", "a boy plays soccer", "the girl is playing piano"};
  const char* b[] = {"a man plays the guitar", "a dog runs on a beach", "the car is on the street",
                     "a cat in water", "money in the bank", "a girl playing a piano"};
  const char* n[] = {"the river bank", "a woman is eating", "the boy is running", "a man with hair",
                     "a dog eats food", "the car on the beach"};
  const float score[] = {0.9f, 0.8f, 0.1f, 0.7f, 0.0f, 0.95f};
  const int64_t label[] = {0, 0, 2, 1, 2, 0};
  std::vector<TrainExample> out;
  for (size_t i = 0; i < 6; ++i) {
    TrainExample e;
    e.a = a[i];
    e.b = b[i];
    e.negative = n[i];
    e.score = score[i];
    e.label = label[i];
    out.push_back(e);
  }
  return out;
}

void gradcheck(TrainObjective obj, TrainLoss loss, size_t num_labels, const fs::path& model = tiny_model()) {
  TrainOptions o;
  o.objective = obj;
  o.loss = loss;
  o.dropout = 0.0;
  o.num_labels = num_labels;
  o.seed = 3;
  auto t = Trainer::create(model, o);
  auto batch = rows();
  const double l0 = t->compute_gradients(batch);
  EXPECT_NEAR(l0, t->loss(batch), 1e-6 + 1e-6 * std::fabs(l0));
  auto grads = t->gradients();
  ASSERT_FALSE(grads.empty());
  size_t checked = 0;
  for (const auto& g : grads) {
    // Skip the big embedding tables except for the word embeddings' largest element.
    size_t best = 0;
    for (size_t i = 1; i < g.values.size(); ++i)
      if (std::fabs(g.values[i]) > std::fabs(g.values[best])) best = i;
    const double analytic = g.values[best];
    if (std::fabs(analytic) < 1e-3) continue;
    const double h = 2e-3;
    t->perturb(g.name, best, h);
    const double up = t->loss(batch);
    t->perturb(g.name, best, -2 * h);
    const double down = t->loss(batch);
    t->perturb(g.name, best, h);
    const double numeric = (up - down) / (2 * h);
    EXPECT_NEAR(numeric, analytic, 0.03 * std::fabs(analytic) + 3e-4)
        << train_loss_name(loss) << ": " << g.name << "[" << best << "]";
    ++checked;
  }
  EXPECT_GE(checked, 8u) << train_loss_name(loss);
}

}  // namespace

TEST(TrainGradcheck, CosineSimilarityLoss) { gradcheck(TrainObjective::Bi, TrainLoss::Cosine, 0); }
TEST(TrainGradcheck, CoSENTLoss) { gradcheck(TrainObjective::Bi, TrainLoss::CoSENT, 0); }
TEST(TrainGradcheck, MultipleNegativesRankingLoss) { gradcheck(TrainObjective::Bi, TrainLoss::MNRL, 0); }
TEST(TrainGradcheck, SoftmaxLoss) { gradcheck(TrainObjective::Bi, TrainLoss::Softmax, 3); }
TEST(TrainGradcheck, CrossEncoderBCE) { gradcheck(TrainObjective::Cross, TrainLoss::BCE, 1); }
TEST(TrainGradcheck, CrossEncoderCrossEntropy) { gradcheck(TrainObjective::Cross, TrainLoss::CE, 3); }
// The other architectures' forwards (tensor names, dropout placement and heads from the
// architecture table): DistilBERT (no token types, pre_classifier + ReLU head) and ELECTRA with an
// embedding projection (dense + GELU head).
TEST(TrainGradcheck, DistilBertCosine) {
  gradcheck(TrainObjective::Bi, TrainLoss::Cosine, 0, tiny_model("distilbert"));
}
TEST(TrainGradcheck, DistilBertCrossEncoderCrossEntropy) {
  gradcheck(TrainObjective::Cross, TrainLoss::CE, 3, tiny_model("distilbert"));
}
TEST(TrainGradcheck, ElectraProjectionCoSENT) {
  gradcheck(TrainObjective::Bi, TrainLoss::CoSENT, 0, tiny_model("electra", 8));
}
TEST(TrainGradcheck, ElectraProjectionCrossEncoderBCE) {
  gradcheck(TrainObjective::Cross, TrainLoss::BCE, 1, tiny_model("electra", 8));
}

// The rotary decoders' training forward (src/nn/rotary_decoder.cpp over leaf parameters).
TEST(TrainGradcheck, Qwen3LastTokenCosine) {
  gradcheck(TrainObjective::Bi, TrainLoss::Cosine, 0, tiny_decoder("qwen3"));
}
TEST(TrainGradcheck, Gemma3MeanMultipleNegatives) {
  gradcheck(TrainObjective::Bi, TrainLoss::MNRL, 0, tiny_decoder("gemma3_text"));
}

// --dtype bfloat16 (CPU autocast): the loss is the float32 one to bfloat16 precision, yet not
// bit-equal (the matmuls did run in bfloat16); a step lowers it; the weights stay float32.
TEST(TrainBfloat16, AutocastLossNearFloat32AndAStepLowersIt) {
  auto batch = rows();
  for (bool cross : {false, true}) {
    TrainOptions o;
    o.objective = cross ? TrainObjective::Cross : TrainObjective::Bi;
    o.loss = cross ? TrainLoss::BCE : TrainLoss::Cosine;
    o.num_labels = cross ? 1 : 0;
    o.dropout = 0.0;
    o.lr = 1e-2;
    o.warmup_ratio = 0;
    auto f32 = Trainer::create(tiny_model(), o);
    o.dtype = "bfloat16";
    auto bf16 = Trainer::create(tiny_model(), o);
    const double want = f32->loss(batch), got = bf16->loss(batch);
    EXPECT_NEAR(got, want, 0.03 * std::fabs(want) + 1e-3) << (cross ? "cross" : "bi");
    EXPECT_NE(got, want) << "bfloat16 autocast had no effect";
    bf16->set_total_steps(1);
    const StepInfo info = bf16->step(batch);
    EXPECT_TRUE(std::isfinite(info.loss) && std::isfinite(info.grad_norm));
    EXPECT_LT(bf16->loss(batch), got);
  }
  TrainOptions bad;
  bad.dtype = "float16";
  EXPECT_NE(sbert::testing::error_of([&] { Trainer::create(tiny_model(), bad); }).find("unknown training dtype"),
            std::string::npos);
}

// --device: a CPU-only libtorch refuses CUDA in one line; with CUDA, training there gives the CPU's
// losses (float32, to GPU rounding) and the same saved model.
TEST(TrainDevice, CudaMatchesTheCpuOrIsRefusedClearly) {
  TrainOptions o;
  o.dropout = 0.0;
  o.lr = 1e-2;
  o.warmup_ratio = 0;
  TrainOptions bad = o;
  bad.device = "tpu";
  EXPECT_NE(sbert::testing::error_of([&] { Trainer::create(tiny_model(), bad); }).find("tpu"), std::string::npos);
  o.device = "cuda";
  std::unique_ptr<Trainer> gpu;
  const std::string e = sbert::testing::error_of([&] { gpu = Trainer::create(tiny_model(), o); });
  if (!gpu) {
    EXPECT_NE(e.find("CUDA is not available"), std::string::npos) << e;
    GTEST_SKIP() << "no CUDA here: " << e;
  }
  o.device = "cpu";
  auto cpu = Trainer::create(tiny_model(), o);
  auto batch = rows();
  gpu->set_total_steps(2);
  cpu->set_total_steps(2);
  for (int s = 0; s < 2; ++s) EXPECT_NEAR(gpu->step(batch).loss, cpu->step(batch).loss, 1e-4) << "step " << s;
  const Matrix a = gpu->embed({"a man is playing guitar"}), b = cpu->embed({"a man is playing guitar"});
  for (size_t i = 0; i < a.data.size(); ++i) EXPECT_NEAR(a.data[i], b.data[i], 1e-4);
}

// A sentence-transformers model with a Dense module (DistilBERT, weights in 0_Transformer, the
// Dense layer as 2_Dense/pytorch_model.bin): the Dense layer trains with the encoder, as in
// sentence-transformers, and is saved back into its own folder.
TEST(TrainDense, DenseModuleTrainsAndIsSavedInItsFolder) {
  SBERT_REQUIRE_SHARED(shared);
  const fs::path fixture = shared / "fixtures/models/distilbert-krwordpiece-dense";
  std::vector<TrainExample> batch(4);
  const char* a[] = {"한국어 문장입니다", "오늘 날씨가 좋다", "고양이가 잔다", "버스를 탔다"};
  const char* b[] = {"한국어 문장이다", "날씨가 나쁘다", "강아지가 뛴다", "기차를 탔다"};
  std::vector<std::string> texts;
  for (size_t i = 0; i < batch.size(); ++i) {
    batch[i].a = a[i];
    batch[i].b = b[i];
    batch[i].score = 0.25f * static_cast<float>(i);
    texts.push_back(a[i]);
  }
  TrainOptions o;
  o.dropout = 0.0;
  o.lr = 1e-2;
  o.warmup_ratio = 0;
  auto t = Trainer::create(fixture, o);
  auto before = Trainer::create(fixture, o)->parameters();
  t->compute_gradients(batch);
  bool dense_grad = false;
  for (const auto& g : t->gradients())
    if (g.name == "2_Dense/linear.weight")
      for (float v : g.values) dense_grad = dense_grad || v != 0.0f;
  EXPECT_TRUE(dense_grad) << "no gradient reached the Dense layer";
  t->set_total_steps(1);
  t->step(batch);
  double moved = 0;
  for (const auto& p : t->parameters())
    for (const auto& q : before)
      if (p.name == "2_Dense/linear.weight" && q.name == p.name)
        for (size_t i = 0; i < p.values.size(); ++i) moved = std::max(moved, double(std::fabs(p.values[i] - q.values[i])));
  EXPECT_GT(moved, 1e-4);

  const fs::path out = sbert::testing::temp_dir("train_dense") / "trained";
  t->save(out, "# test\n");
  EXPECT_TRUE(fs::exists(out / "2_Dense/model.safetensors"));
  EXPECT_TRUE(fs::exists(out / "2_Dense/config.json"));
  EXPECT_FALSE(fs::exists(out / "2_Dense/pytorch_model.bin")) << "stale untrained Dense weights left beside the new ones";
  EXPECT_TRUE(fs::exists(out / "0_Transformer/model.safetensors"));
  Matrix theirs = SentenceEncoder::load(out, EncoderOptions())->encode(texts);
  Matrix mine = t->embed(texts);
  ASSERT_EQ(mine.data.size(), theirs.data.size());
  double d = 0;
  for (size_t i = 0; i < mine.data.size(); ++i) d = std::max(d, std::fabs(double(mine.data[i]) - theirs.data[i]));
  EXPECT_LE(d, 1e-6);
}

// After a training step, the saved folder, loaded by the inference code (a separate forward),
// gives the embeddings / logits the training code computes, for every architecture.
TEST(TrainArchitectures, SavedFolderGivesTheTrainingOutputs) {
  const std::vector<std::pair<std::string, size_t>> models = {{"bert", 0}, {"distilbert", 0}, {"electra", 8}};
  auto batch = rows();
  std::vector<std::string> texts;
  std::vector<std::pair<std::string, std::string>> pairs;
  for (const auto& r : batch) {
    texts.push_back(r.a);
    pairs.emplace_back(r.a, r.b);
  }
  auto max_diff = [](const Matrix& a, const Matrix& b) {
    EXPECT_EQ(a.data.size(), b.data.size());
    double d = a.data.size() == b.data.size() ? 0 : 1e9;
    for (size_t i = 0; i < a.data.size() && i < b.data.size(); ++i)
      d = std::max(d, std::fabs(double(a.data[i]) - b.data[i]));
    return d;
  };
  for (const auto& [type, emb] : models) {
    for (bool cross : {false, true}) {
      TrainOptions o;
      o.objective = cross ? TrainObjective::Cross : TrainObjective::Bi;
      o.loss = cross ? TrainLoss::CE : TrainLoss::Cosine;
      o.num_labels = cross ? 3 : 0;
      o.lr = 1e-2;
      o.warmup_ratio = 0;
      o.dropout = 0.0;
      auto t = Trainer::create(tiny_model(type, emb), o);
      t->set_total_steps(1);
      t->step(batch);
      const fs::path out = sbert::testing::temp_dir("train_arch") / (type + (cross ? "-cross" : "-bi"));
      t->save(out, "# test\n");
      const std::string what = type + (cross ? " cross-encoder" : " bi-encoder");
      if (cross) {
        Matrix theirs = SequenceClassifier::load(out, ClassifierOptions())->logits(pairs);
        EXPECT_LE(max_diff(t->logits(pairs), theirs), 1e-5) << what;
      } else {
        Matrix theirs = SentenceEncoder::load(out, EncoderOptions())->encode(texts);
        EXPECT_LE(max_diff(t->embed(texts), theirs), 1e-6) << what;
      }
    }
  }
}

// Loss definitions on a case small enough to work out by hand: two pairs whose embeddings are
// identical (cosine 1) give CosineSimilarityLoss = mean((1 - label)^2).
TEST(TrainLosses, CosineOfIdenticalTexts) {
  TrainOptions o;
  o.dropout = 0.0;
  auto t = Trainer::create(tiny_model(), o);
  std::vector<TrainExample> b(2);
  b[0].a = b[0].b = "a man is playing guitar";
  b[0].score = 0.5f;
  b[1].a = b[1].b = "the dog";
  b[1].score = 1.0f;
  EXPECT_NEAR(t->loss(b), (0.25 + 0.0) / 2, 1e-6);
}

TEST(TrainErrors, BadOptions) {
  TrainOptions o;
  o.lr = 0;
  EXPECT_NE(sbert::testing::error_of([&] { Trainer::create(tiny_model(), o); }).find("learning rate"), std::string::npos);
  TrainOptions c;
  c.objective = TrainObjective::Cross;
  c.loss = TrainLoss::BCE;
  c.num_labels = 3;
  EXPECT_NE(sbert::testing::error_of([&] { Trainer::create(tiny_model(), c); }).find("1 label"), std::string::npos);
  fs::path empty = sbert::testing::temp_dir("train_noweights");
  fs::copy_file(tiny_model() / "config.json", empty / "config.json");
  fs::copy_file(tiny_model() / "vocab.txt", empty / "vocab.txt");
  EXPECT_NE(sbert::testing::error_of([&] { Trainer::create(empty, TrainOptions()); }).find("no model weights"),
            std::string::npos);
}

TEST(TrainData, Errors) {
  fs::path d = sbert::testing::temp_dir("train_data");
  TrainDataSpec s;
  s.a = "sentence1";
  s.b = "sentence2";
  s.label = "score";
  s.score_scale = 5;
  sbert::testing::write_file(d / "ok.csv", "sentence1,sentence2,score\na,b,5\nc,d,0\n");
  auto ok = read_train_examples((d / "ok.csv").string(), s);
  ASSERT_EQ(ok.size(), 2u);
  EXPECT_FLOAT_EQ(ok[0].score, 1.0f);
  sbert::testing::write_file(d / "bad.csv", "sentence1,sentence2,score\na,b,5\nc,d,6\n");
  EXPECT_NE(sbert::testing::error_of([&] { read_train_examples((d / "bad.csv").string(), s); }).find("bad.csv:3"),
            std::string::npos);
  sbert::testing::write_file(d / "empty.csv", "sentence1,sentence2,score\n");
  EXPECT_NE(sbert::testing::error_of([&] { read_train_examples((d / "empty.csv").string(), s); }).find("no training rows"),
            std::string::npos);
  TrainDataSpec n = s;
  n.label = "label";
  n.classes = true;
  n.label_names = {"entailment", "neutral", "contradiction"};
  sbert::testing::write_file(d / "nli.jsonl", "{\"sentence1\": \"a\", \"sentence2\": \"b\", \"label\": \"neutral\"}\n"
                                       "{\"sentence1\": \"a\", \"sentence2\": \"b\", \"label\": \"maybe\"}\n");
  std::string e = sbert::testing::error_of([&] { read_train_examples((d / "nli.jsonl").string(), n); });
  EXPECT_NE(e.find("nli.jsonl:2"), std::string::npos) << e;
  EXPECT_NE(e.find("unknown label 'maybe'"), std::string::npos) << e;
}
