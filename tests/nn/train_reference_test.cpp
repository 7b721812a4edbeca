// Training parity with PyTorch: ../shared/fixtures/training holds, for two fixture models, the
// first-batch gradients, the loss of 3 AdamW steps and every parameter after them, computed by
// PyTorch autograd and torch.optim.AdamW. The library must reproduce them.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "nn/weight_store.h"
#include "sbert/classifier.h"
#include "sbert/encoder.h"
#include "sbert/train.h"
#include "test_support.h"

namespace fs = std::filesystem;
using namespace sbert;

namespace {

struct Case {
  nlohmann::json spec;
  fs::path dir, model;
  std::vector<TrainExample> rows;
};

Case load_case(const fs::path& shared, const std::string& name) {
  Case c;
  c.dir = shared / "fixtures" / "training" / name;
  c.spec = sbert::testing::load_json(c.dir / "spec.json");
  c.model = shared / c.spec["model"].get<std::string>();
  TrainDataSpec d;
  d.format = "tsv";
  d.header = false;
  d.a = "5";
  d.b = "6";
  d.label = "4";
  d.score_scale = 5;
  auto all = read_train_examples((shared / c.spec["data"]["file"].get<std::string>()).string(), d);
  const size_t n = c.spec["data"]["first_rows"].get<size_t>();
  c.rows.assign(all.begin(), all.begin() + static_cast<long>(n));
  return c;
}

TrainOptions options_of(const Case& c) {
  TrainOptions o;
  o.objective = c.spec["objective"] == "bi" ? TrainObjective::Bi : TrainObjective::Cross;
  o.loss = parse_train_loss(c.spec["loss"].get<std::string>(), o.objective);
  const auto& h = c.spec["hyper"];
  o.lr = h["lr"].get<double>();
  o.weight_decay = h["weight_decay"].get<double>();
  o.max_grad_norm = h["max_grad_norm"].get<double>();
  o.schedule = "constant";
  o.warmup_ratio = 0;
  o.dropout = h["dropout"].get<double>();
  o.shuffle = false;
  o.batch_size = h["batch_size"].get<size_t>();
  o.max_steps = h["max_steps"].get<size_t>();
  o.max_length = h["max_length"].get<size_t>();
  return o;
}

std::map<std::string, NamedTensor> by_name(const std::vector<NamedTensor>& v) {
  std::map<std::string, NamedTensor> m;
  for (const auto& t : v) m[t.name] = t;
  return m;
}

std::vector<float> values_of(const nn::WeightStore& s, const std::string& name) {
  at::Tensor t = s.get(name).to(at::kFloat).contiguous();
  return std::vector<float>(t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
}

void check_case(const std::string& name) {
  SBERT_REQUIRE_SHARED(shared);
  Case c = load_case(shared, name);
  TrainOptions o = options_of(c);
  auto trainer = Trainer::create(c.model, o);
  const size_t bs = o.batch_size;
  auto batch = [&](size_t i) {
    return std::vector<TrainExample>(c.rows.begin() + static_cast<long>(i * bs),
                                     c.rows.begin() + static_cast<long>((i + 1) * bs));
  };

  // First-batch gradients.
  const double loss0 = trainer->compute_gradients(batch(0));
  EXPECT_NEAR(loss0, c.spec["losses"][0].get<double>(), 1e-5);
  auto grads = by_name(trainer->gradients());
  auto want_grads = nn::open_safetensors(c.dir / "grads_step0.safetensors");
  size_t checked = 0;
  for (const std::string& n : want_grads->names()) {
    std::vector<float> want = values_of(*want_grads, n);
    auto it = grads.find(n);
    if (it == grads.end()) {
      // Parameters outside the loss (e.g. the pooler of a mean-pooling model): zero gradient.
      double worst = 0;
      for (float w : want) worst = std::max(worst, std::fabs(static_cast<double>(w)));
      EXPECT_EQ(worst, 0.0) << n << " has a reference gradient but none here";
      continue;
    }
    ASSERT_EQ(it->second.values.size(), want.size()) << n;
    size_t bad = 0;
    double worst = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      const double d = std::fabs(static_cast<double>(it->second.values[i]) - want[i]);
      const double tol = std::max(1e-5, 1e-4 * std::fabs(static_cast<double>(want[i])));
      if (d > tol) ++bad;
      worst = std::max(worst, d);
    }
    EXPECT_EQ(bad, 0u) << n << ": worst gradient difference " << worst;
    ++checked;
  }
  EXPECT_GE(checked, 30u);
  EXPECT_EQ(grads.size(), checked) << "gradients for parameters the reference does not have";

  // Three AdamW steps.
  for (size_t s = 0; s < 3; ++s) {
    StepInfo info = trainer->step(batch(s));
    EXPECT_NEAR(info.loss, c.spec["losses"][s].get<double>(), 1e-5) << "step " << s;
    EXPECT_NEAR(info.grad_norm, c.spec["hyper"]["grad_norms"][s].get<double>(),
                1e-5 + 1e-4 * c.spec["hyper"]["grad_norms"][s].get<double>()) << "step " << s;
  }
  auto params = by_name(trainer->parameters());
  auto want_params = nn::open_safetensors(c.dir / "after.safetensors");
  EXPECT_EQ(params.size(), want_params->names().size());
  // README: all but a handful of elements within 1e-5. The exceptions are elements whose true
  // gradient is zero and whose computed one is rounding noise, which Adam turns into a step of
  // about lr * sign(noise): the attention key biases (softmax is invariant to them, so their
  // gradient vanishes exactly) may differ by up to 2e-3; any other element by at most 1e-4, and
  // only a few of them by more than 1e-5.
  size_t total = 0, off = 0;
  double worst = 0, worst_key_bias = 0;
  for (const std::string& n : want_params->names()) {
    auto it = params.find(n);
    ASSERT_NE(it, params.end()) << n << " missing from the trained parameters";
    std::vector<float> want = values_of(*want_params, n);
    ASSERT_EQ(it->second.values.size(), want.size()) << n;
    const bool key_bias = n.find("attention.self.key.bias") != std::string::npos;
    for (size_t i = 0; i < want.size(); ++i) {
      const double d = std::fabs(static_cast<double>(it->second.values[i]) - want[i]);
      ++total;
      if (key_bias) {
        worst_key_bias = std::max(worst_key_bias, d);
        continue;
      }
      if (d > 1e-5) {
        ++off;
        std::cout << "  " << n << "[" << i << "] differs by " << d << "\n";
      }
      worst = std::max(worst, d);
    }
  }
  EXPECT_LE(off, 8u) << "of " << total << " elements; worst " << worst;
  EXPECT_LE(worst, 1e-4);
  EXPECT_LE(worst_key_bias, 2.5e-3);

  // The saved folder gives the embeddings / logits the training code computes.
  fs::path out = sbert::testing::temp_dir("train_ref_" + name) / "trained";
  trainer->save(out, "# test\n");
  std::vector<std::string> texts;
  for (const auto& r : c.rows) texts.push_back(r.a);
  if (o.objective == TrainObjective::Bi) {
    for (const char* f : {"modules.json", "config.json", "model.safetensors", "tokenizer.json", "vocab.txt",
                          "1_Pooling/config.json", "sentence_bert_config.json", "config_sentence_transformers.json",
                          "README.md"})
      EXPECT_TRUE(fs::exists(out / f)) << f;
    Matrix mine = trainer->embed(texts);
    EncoderOptions eo;
    eo.max_length = o.max_length;
    Matrix theirs = SentenceEncoder::load(out, eo)->encode(texts);
    ASSERT_EQ(mine.data.size(), theirs.data.size());
    double d = 0;
    for (size_t i = 0; i < mine.data.size(); ++i) d = std::max(d, std::fabs(double(mine.data[i]) - theirs.data[i]));
    EXPECT_LE(d, 1e-6) << "embeddings of the saved model differ from the training code's";
  } else {
    for (const char* f : {"config.json", "model.safetensors", "tokenizer.json", "vocab.txt", "README.md"})
      EXPECT_TRUE(fs::exists(out / f)) << f;
    std::vector<std::pair<std::string, std::string>> pairs;
    for (const auto& r : c.rows) pairs.emplace_back(r.a, r.b);
    Matrix mine = trainer->logits(pairs);
    ClassifierOptions co;
    co.max_length = o.max_length;
    Matrix theirs = SequenceClassifier::load(out, co)->logits(pairs);
    ASSERT_EQ(mine.data.size(), theirs.data.size());
    double d = 0;
    for (size_t i = 0; i < mine.data.size(); ++i) d = std::max(d, std::fabs(double(mine.data[i]) - theirs.data[i]));
    EXPECT_LE(d, 1e-5) << "logits of the saved model differ from the training code's";
  }
  std::cout << name << ": " << off << " of " << total << " parameters (key biases aside) differ by more than 1e-5 (worst "
            << worst << ", key biases " << worst_key_bias << ")\n";
}

}  // namespace

TEST(TrainReference, BiEncoderCosineSimilarityLoss) { check_case("bi-cosine"); }
TEST(TrainReference, CrossEncoderBCEWithLogitsLoss) { check_case("cross-bce"); }
