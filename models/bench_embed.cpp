// bench_embed: sentences/s and tokens/s for embedding the STS-B and KorSTS test sentences with
// a random-weight model in a real model's shape, printed as JSON.
//   bench_embed --shape minilm --shared ../shared [--dtype float32] [--threads 2]
// Shapes: minilm = all-MiniLM-L6-v2 (384 hidden, 6 layers, 12 heads, 1536, mean, normalize,
// max_seq_length 256), bge-base = BAAI/bge-base-en-v1.5 (768, 12, 12, 3072, cls, normalize, 512),
// both with the real all-MiniLM-L6-v2 (bert-base-uncased) tokenizer. --model DIR benchmarks an
// existing model folder instead.
#include <sys/resource.h>

#include <CLI/CLI.hpp>

#include "sts_data.h"
#include <chrono>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "sbert/encoder.h"
#include "sbert/error.h"
#include "sbert/random_model.h"

namespace fs = std::filesystem;

namespace {

double cpu_seconds() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Embedding throughput benchmark (JSON on stdout)"};
  std::string shape = "minilm", model_dir, shared = "../shared", dtype = "float32", data = "both";
  size_t batch_size = 32;
  int threads = 0, repeat = 1;
  app.add_option("--shape", shape, "minilm | bge-base (random weights)")->capture_default_str();
  app.add_option("--model", model_dir, "benchmark this model folder instead of a random one");
  app.add_option("--shared", shared, "the shared data folder")->capture_default_str();
  app.add_option("--dtype", dtype, "float32 | bfloat16 | float16")->capture_default_str();
  app.add_option("--batch-size", batch_size)->capture_default_str();
  app.add_option("--threads", threads, "0: libtorch default")->capture_default_str();
  app.add_option("--data", data, "stsb | korsts | both")->capture_default_str();
  app.add_option("--repeat", repeat, "runs per data set (best is reported)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  try {
    fs::path dir = model_dir;
    if (dir.empty()) {
      sbert::RandomModelSpec s;
      s.tokenizer_dir = fs::path(shared) / "tokenizers/all-MiniLM-L6-v2";
      if (shape == "minilm") {
        s.hidden = 384; s.layers = 6; s.heads = 12; s.intermediate = 1536;
        s.pooling = "mean"; s.max_seq_length = 256;
      } else if (shape == "bge-base") {
        s.hidden = 768; s.layers = 12; s.heads = 12; s.intermediate = 3072;
        s.pooling = "cls"; s.max_seq_length = 512;
      } else {
        throw sbert::Error("unknown shape '" + shape + "' (minilm, bge-base)");
      }
      s.normalize = true;
      s.vocab_size = 30522;
      dir = fs::temp_directory_path() / ("sbert-bench-" + shape);
      sbert::write_random_model(dir, s);
    }
    sbert::EncoderOptions o;
    o.dtype = dtype;
    o.batch_size = batch_size;
    o.threads = threads;
    auto t_load = std::chrono::steady_clock::now();
    auto enc = sbert::SentenceEncoder::load(dir, o);
    const double load_s = seconds_since(t_load);

    std::vector<std::pair<std::string, std::vector<std::string>>> sets;
    if (data == "stsb" || data == "both")
      sets.emplace_back("stsb-test", sbert::bench::sts_sentences((fs::path(shared) / "data/stsb/stsb-test.csv").string(), false));
    if (data == "korsts" || data == "both")
      sets.emplace_back("korsts-test", sbert::bench::sts_sentences((fs::path(shared) / "data/korsts/korsts-test.tsv").string(), true));

    enc->encode({"warm up the kernels", "a second, slightly longer warm-up sentence"});
    nlohmann::json results = nlohmann::json::array();
    for (const auto& [name, texts] : sets) {
      double best = 1e300, best_tok = 1e300, cpu = 0;
      sbert::EncodeStats stats;
      for (int r = 0; r < std::max(repeat, 1); ++r) {
        auto t0 = std::chrono::steady_clock::now();
        for (const auto& t : texts) (void)enc->tokenizer().encode(t, true, enc->max_length());
        best_tok = std::min(best_tok, seconds_since(t0));
        stats = {};
        t0 = std::chrono::steady_clock::now();
        const double c0 = cpu_seconds();
        sbert::Matrix m = enc->encode(texts, &stats);
        const double wall = seconds_since(t0);
        if (wall < best) {
          best = wall;
          cpu = cpu_seconds() - c0;
        }
        if (m.rows != texts.size()) throw sbert::Error("row count mismatch");
      }
      results.push_back({{"data", name},
                         {"sentences", texts.size()},
                         {"tokens", stats.tokens},
                         {"truncated", stats.truncated},
                         {"seconds", best},
                         {"sentences_per_s", texts.size() / best},
                         {"tokens_per_s", stats.tokens / best},
                         {"cpu_seconds", cpu},
                         {"tokenize_seconds", best_tok}});
    }
    struct rusage ru {};
    getrusage(RUSAGE_SELF, &ru);
    nlohmann::json out = {{"model", dir.string()},
                          {"shape", model_dir.empty() ? shape : "folder"},
                          {"dtype", dtype},
                          {"threads", threads},
                          {"batch_size", batch_size},
                          {"dimension", enc->dimension()},
                          {"max_length", enc->max_length()},
                          {"load_seconds", load_s},
                          {"results", results},
                          {"peak_rss_mb", ru.ru_maxrss / 1024.0}};
    std::cout << out.dump(2) << "\n";
  } catch (const std::exception& e) {
    std::cerr << "bench_embed: error: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
