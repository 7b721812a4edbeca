// Zero-shot labeling throughput: labeled texts per second for K candidate labels (each text x
// label is one NLI pair), on STS-B test sentences, with a cross-encoder in the
// nli-MiniLM2-L6-H768 shape (BERT, hidden 768, 6 layers, 12 heads, intermediate 3072, 3 labels).
// Without --model a random-weight model of that shape is generated once into --work-dir.
//   bench_nli --shared ../shared [--texts 256] [--labels 5] [--batch-size 32] [--threads 2]
// Prints one JSON object.
#include <CLI/CLI.hpp>

#include "sts_data.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <random>
#include <set>
#include <sstream>

#include "sbert/classifier.h"
#include "sbert/error.h"
#include "sbert/safetensors_writer.h"

namespace fs = std::filesystem;

namespace {

struct Shape {
  int64_t vocab = 30522, hidden = 768, layers = 6, heads = 12, intermediate = 3072, positions = 512,
          labels = 3;
};

void generate_model(const fs::path& dir, const fs::path& tokenizer_dir, const Shape& s) {
  fs::create_directories(dir);
  std::mt19937_64 rng(42);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::vector<sbert::NamedTensor> t;
  auto randn = [&](const std::string& name, std::vector<int64_t> shape) {
    size_t n = 1;
    for (auto d : shape) n *= static_cast<size_t>(d);
    sbert::NamedTensor x{name, shape, std::vector<float>(n)};
    for (float& v : x.values) v = normal(rng);
    t.push_back(std::move(x));
  };
  auto fill = [&](const std::string& name, std::vector<int64_t> shape, float value) {
    size_t n = 1;
    for (auto d : shape) n *= static_cast<size_t>(d);
    t.push_back({name, shape, std::vector<float>(n, value)});
  };
  const int64_t H = s.hidden, I = s.intermediate;
  randn("bert.embeddings.word_embeddings.weight", {s.vocab, H});
  randn("bert.embeddings.position_embeddings.weight", {s.positions, H});
  randn("bert.embeddings.token_type_embeddings.weight", {2, H});
  fill("bert.embeddings.LayerNorm.weight", {H}, 1);
  fill("bert.embeddings.LayerNorm.bias", {H}, 0);
  for (int64_t l = 0; l < s.layers; ++l) {
    const std::string p = "bert.encoder.layer." + std::to_string(l) + ".";
    for (const char* m : {"attention.self.query", "attention.self.key", "attention.self.value",
                          "attention.output.dense"}) {
      randn(p + m + ".weight", {H, H});
      fill(p + m + ".bias", {H}, 0);
    }
    fill(p + "attention.output.LayerNorm.weight", {H}, 1);
    fill(p + "attention.output.LayerNorm.bias", {H}, 0);
    randn(p + "intermediate.dense.weight", {I, H});
    fill(p + "intermediate.dense.bias", {I}, 0);
    randn(p + "output.dense.weight", {H, I});
    fill(p + "output.dense.bias", {H}, 0);
    fill(p + "output.LayerNorm.weight", {H}, 1);
    fill(p + "output.LayerNorm.bias", {H}, 0);
  }
  randn("bert.pooler.dense.weight", {H, H});
  fill("bert.pooler.dense.bias", {H}, 0);
  randn("classifier.weight", {s.labels, H});
  fill("classifier.bias", {s.labels}, 0);
  sbert::write_safetensors(dir / "model.safetensors", t);

  std::ofstream cfg(dir / "config.json");
  cfg << "{\"architectures\": [\"BertForSequenceClassification\"], \"model_type\": \"bert\", "
      << "\"vocab_size\": " << s.vocab << ", \"hidden_size\": " << H
      << ", \"num_hidden_layers\": " << s.layers << ", \"num_attention_heads\": " << s.heads
      << ", \"intermediate_size\": " << I << ", \"max_position_embeddings\": " << s.positions
      << ", \"type_vocab_size\": 2, \"hidden_act\": \"gelu\", \"layer_norm_eps\": 1e-12, "
      << "\"pad_token_id\": 0, \"id2label\": {\"0\": \"contradiction\", \"1\": \"entailment\", "
      << "\"2\": \"neutral\"}, \"label2id\": {\"contradiction\": 0, \"entailment\": 1, \"neutral\": 2}}\n";
  for (const char* f : {"vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"})
    if (fs::exists(tokenizer_dir / f))
      fs::copy_file(tokenizer_dir / f, dir / f, fs::copy_options::overwrite_existing);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Zero-shot labeling throughput (labeled texts per second)"};
  std::string shared = "../shared", model, work_dir = "/tmp/sbert-bench-nli-model";
  size_t texts_n = 256, labels_n = 5, repeat = 1;
  sbert::ClassifierOptions o;
  o.max_length = 128;
  app.add_option("--shared", shared, "The shared folder (data/stsb, tokenizers/)")->capture_default_str();
  app.add_option("--model", model, "NLI model folder (default: generate a random one)");
  app.add_option("--work-dir", work_dir, "Where the random model is generated (reused if present)")
      ->capture_default_str();
  app.add_option("--texts", texts_n, "STS-B test sentences to label")->capture_default_str();
  app.add_option("--labels", labels_n, "Candidate labels (1..8)")->capture_default_str();
  app.add_option("--repeat", repeat, "Timed runs (the best is reported)")->capture_default_str();
  app.add_option("--batch-size", o.batch_size, "Pairs per batch")->capture_default_str();
  app.add_option("--max-length", o.max_length, "Tokens per pair")->capture_default_str();
  app.add_option("--threads", o.threads, "CPU threads (0: libtorch default)")->capture_default_str();
  app.add_option("--device", o.device, "cpu | cuda")->capture_default_str();
  app.add_option("--dtype", o.dtype, "float32 | float16 | bfloat16")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    const std::vector<std::string> all_labels = {"sports", "politics", "weather", "food",
                                                 "technology", "music", "health", "travel"};
    if (labels_n == 0 || labels_n > all_labels.size()) throw sbert::Error("--labels must be 1..8");
    std::vector<std::string> labels(all_labels.begin(), all_labels.begin() + labels_n);

    // STS-B test: tab-separated, no header, sentences in columns 5 and 6; column 5 here.
    const fs::path stsb = fs::path(shared) / "data/stsb/stsb-test.csv";
    std::vector<std::string> texts;
    for (auto& [first, second] : sbert::bench::sts_pairs(stsb.string(), false)) {
      if (texts.size() == texts_n) break;
      texts.push_back(std::move(first));
    }
    if (texts.empty()) throw sbert::Error(stsb.string() + ": no sentences");

    auto t_gen = std::chrono::steady_clock::now();
    if (model.empty()) {
      model = work_dir;
      if (!fs::exists(fs::path(model) / "model.safetensors"))
        generate_model(model, fs::path(shared) / "tokenizers/all-MiniLM-L6-v2", Shape{});
    }
    auto t_load = std::chrono::steady_clock::now();
    auto clf = sbert::SequenceClassifier::load(model, o);
    auto t_loaded = std::chrono::steady_clock::now();
    sbert::ZeroShotClassifier zs(*clf, labels);
    // Warm-up on a few texts (allocator, thread pool).
    zs.scores(std::vector<std::string>(texts.begin(), texts.begin() + std::min<size_t>(8, texts.size())));
    double best = 1e30;
    sbert::ClassifyStats stats;
    for (size_t r = 0; r < std::max<size_t>(1, repeat); ++r) {
      stats = sbert::ClassifyStats();
      auto t0 = std::chrono::steady_clock::now();
      sbert::Matrix s = zs.scores(texts, &stats);
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      best = std::min(best, secs);
      if (s.rows != texts.size()) throw sbert::Error("wrong number of score rows");
    }
    std::printf(
        "{\"model\": \"%s\", \"device\": \"%s\", \"dtype\": \"%s\", \"threads\": %d, \"texts\": %zu, "
        "\"labels\": %zu, \"pairs\": %zu, \"tokens\": %zu, \"batch_size\": %zu, \"seconds\": %.3f, "
        "\"texts_per_second\": %.2f, \"pairs_per_second\": %.2f, \"load_seconds\": %.2f, "
        "\"generate_seconds\": %.2f}\n",
        model.c_str(), clf->info().device.c_str(), o.dtype.c_str(), o.threads, texts.size(), labels.size(),
        stats.pairs, stats.tokens, o.batch_size, best, texts.size() / best, stats.pairs / best,
        std::chrono::duration<double>(t_loaded - t_load).count(),
        std::chrono::duration<double>(t_load - t_gen).count());
  } catch (const std::exception& e) {
    std::cerr << "bench_nli: error: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
