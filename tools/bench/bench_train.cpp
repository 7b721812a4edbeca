// bench_train: training throughput (pairs/s) of CosineSimilarityLoss on STS-B train pairs with a
// random-weight model in all-MiniLM-L6-v2's shape (384 hidden, 6 layers, 12 heads, 1536), or
// an existing folder, printed as JSON.
//   bench_train --shared ../shared [--steps 20] [--batch-size 16] [--max-length 128] [--threads 2]
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <iostream>
#include <nlohmann/json.hpp>

#include "sbert/error.h"
#include "sbert/random_model.h"
#include "sbert/train.h"

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  CLI::App app{"Training throughput benchmark (JSON on stdout)"};
  std::string model_dir, shared = "../shared";
  size_t steps = 20, batch_size = 16, max_length = 128;
  int threads = 0;
  std::string dtype = "float32";
  app.add_option("--model", model_dir, "benchmark this model folder instead of a random MiniLM-shape one");
  app.add_option("--shared", shared)->capture_default_str();
  app.add_option("--steps", steps)->capture_default_str();
  app.add_option("--batch-size", batch_size)->capture_default_str();
  app.add_option("--max-length", max_length)->capture_default_str();
  app.add_option("--threads", threads)->capture_default_str();
  app.add_option("--dtype", dtype, "float32 | bfloat16 (autocast)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    fs::path dir = model_dir;
    if (dir.empty()) {
      sbert::RandomModelSpec s;
      s.tokenizer_dir = fs::path(shared) / "tokenizers/all-MiniLM-L6-v2";
      s.hidden = 384; s.layers = 6; s.heads = 12; s.intermediate = 1536;
      s.pooling = "mean"; s.max_seq_length = 256; s.normalize = true; s.vocab_size = 30522;
      dir = fs::temp_directory_path() / "sbert-bench-train-minilm";
      sbert::write_random_model(dir, s);
    }
    sbert::TrainDataSpec d;
    d.format = "tsv"; d.header = false; d.a = "5"; d.b = "6"; d.label = "4"; d.score_scale = 5;
    auto rows = sbert::read_train_examples((fs::path(shared) / "data/stsb/stsb-train.csv").string(), d);
    sbert::TrainOptions o;
    o.lr = 2e-5; o.batch_size = batch_size; o.max_length = max_length; o.threads = threads; o.shuffle = false;
    o.dtype = dtype;
    auto t = sbert::Trainer::create(dir, o);
    t->set_total_steps(steps + 1);
    auto batch = [&](size_t i) {
      std::vector<sbert::TrainExample> b;
      for (size_t j = 0; j < batch_size; ++j) b.push_back(rows[(i * batch_size + j) % rows.size()]);
      return b;
    };
    t->step(batch(0));  // warm-up
    auto t0 = std::chrono::steady_clock::now();
    for (size_t i = 1; i <= steps; ++i) t->step(batch(i));
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    struct rusage ru {};
    getrusage(RUSAGE_SELF, &ru);
    nlohmann::json out = {{"model", dir.string()}, {"loss", "CosineSimilarityLoss"}, {"steps", steps},
                          {"batch_size", batch_size}, {"max_length", max_length}, {"threads", threads}, {"dtype", dtype},
                          {"parameters", t->parameter_count()}, {"seconds", secs},
                          {"pairs_per_s", steps * batch_size / secs}, {"peak_rss_mb", ru.ru_maxrss / 1024.0}};
    std::cout << out.dump(2) << "\n";
  } catch (const std::exception& e) {
    std::cerr << "bench_train: error: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
