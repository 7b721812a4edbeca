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
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include "cpu/quantized_linear.h"
#include "nn/transformer.h"
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

// The float32 linear roofline of this run: the model's own GEMMs (per layer [M, H] x [H, 3H],
// [H, H], [H, I], [I, H], M = the real tokens of each batch of `batch` inputs, longest first, as
// the packed forward runs them), timed alone with the same threads, best of `repeat`: once with
// the packed GEMM the forward uses (sbert::nn::pooled_mm on sbert::cpu::PackedWeight) and once with the
// BLAS libtorch uses (OpenBLAS, rows in blocks of 64 on the same pool) for comparison.
struct Roofline {
  double seconds = 0, blas_seconds = 0, gflop = 0;
};

Roofline gemm_roofline(std::vector<size_t> lengths, size_t batch, int64_t H, int64_t I, int64_t layers,
                       int repeat) {
  std::sort(lengths.rbegin(), lengths.rend());
  std::vector<int64_t> ms;
  for (size_t i = 0; i < lengths.size(); i += batch) {
    int64_t m = 0;
    for (size_t j = i; j < std::min(lengths.size(), i + batch); ++j) m += static_cast<int64_t>(lengths[j]);
    ms.push_back(m);
  }
  c10::InferenceMode guard;
  const int64_t max_m = *std::max_element(ms.begin(), ms.end());
  at::Tensor x = at::randn({max_m, std::max(H, I)});
  // Each layer its own weights, as in the model (they do not all fit in the caches).
  std::vector<std::array<at::Tensor, 4>> w;
  std::vector<std::vector<sbert::cpu::PackedWeight>> packed;
  for (int64_t l = 0; l < layers; ++l) {
    w.push_back({at::randn({3 * H, H}), at::randn({H, H}), at::randn({I, H}), at::randn({H, I})});
    packed.emplace_back();
    for (const at::Tensor& t : w.back()) packed.back().emplace_back(t.data_ptr<float>(), t.size(0), t.size(1));
  }
  Roofline r;
  r.seconds = r.blas_seconds = 1e300;
  for (int64_t m : ms) r.gflop += 2.0 * m * (3 * H * H + H * H + 2 * H * I) * layers / 1e9;
  for (int rep = 0; rep < std::max(repeat, 1); ++rep) {
    for (bool blas : {false, true}) {
      auto t0 = std::chrono::steady_clock::now();
      for (int64_t m : ms) {
        const at::Tensor a = x.narrow(0, 0, m).narrow(1, 0, H).contiguous(),
                         b = x.narrow(0, 0, m).narrow(1, 0, I).contiguous();
        for (size_t l = 0; l < static_cast<size_t>(layers); ++l)
          for (size_t k = 0; k < 4; ++k) {
            const at::Tensor& in = k == 3 ? b : a;
            (void)(blas ? sbert::nn::pooled_mm(in, w[l][k]) : sbert::nn::pooled_mm(in, packed[l][k]));
          }
      }
      double& best = blas ? r.blas_seconds : r.seconds;
      best = std::min(best, seconds_since(t0));
    }
  }
  return r;
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
  std::string quantize = "none";
  app.add_option("--quantize", quantize, "none | int8")->capture_default_str();
  app.add_option("--batch-size", batch_size)->capture_default_str();
  app.add_option("--threads", threads, "0: libtorch default")->capture_default_str();
  app.add_option("--data", data, "stsb | korsts | both")->capture_default_str();
  app.add_option("--repeat", repeat, "runs per data set (best is reported)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  try {
    fs::path dir = model_dir;
    sbert::RandomModelSpec spec;
    if (dir.empty()) {
      sbert::RandomModelSpec& s = spec;
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
    o.quantize = quantize;
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
      sbert::EncodeStats stats, best_stats;
      std::vector<size_t> lengths;
      for (const auto& t : texts) lengths.push_back(enc->tokenizer().encode(t, true, enc->max_length()).ids.size());
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
          best_stats = stats;
        }
        if (m.rows != texts.size()) throw sbert::Error("row count mismatch");
      }
      // Reduced precision: each vector's cosine to the float32 model's (same weights).
      nlohmann::json agreement;
      if (dtype != "float32" || quantize != "none") {
        sbert::EncoderOptions f32 = o;
        f32.dtype = "float32";
        f32.quantize = "none";
        sbert::Matrix want = sbert::SentenceEncoder::load(dir, f32)->encode(texts);
        sbert::Matrix got = enc->encode(texts);
        double lo = 1, sum = 0;
        for (size_t i = 0; i < texts.size(); ++i) {
          double dot = 0, na = 0, nb = 0;
          for (size_t j = 0; j < got.cols; ++j) {
            dot += double(got.at(i, j)) * want.at(i, j);
            na += double(got.at(i, j)) * got.at(i, j);
            nb += double(want.at(i, j)) * want.at(i, j);
          }
          const double c = dot / std::sqrt(std::max(na * nb, 1e-300));
          lo = std::min(lo, c);
          sum += c;
        }
        agreement = {{"cosine_to_float32_min", lo}, {"cosine_to_float32_mean", sum / texts.size()}};
      }
      nlohmann::json roof;
      if (model_dir.empty()) {
        const int64_t H = static_cast<int64_t>(spec.hidden), I = static_cast<int64_t>(spec.intermediate);
        Roofline r = gemm_roofline(lengths, batch_size, H, I, static_cast<int64_t>(spec.layers), 3);
        roof = {{"gemm_kernel", sbert::cpu::packed_gemm_kernel()},
                {"gemm_seconds", r.seconds},
                {"gemm_gflop", r.gflop},
                {"gemm_gflops", r.gflop / r.seconds},
                {"openblas_gemm_seconds", r.blas_seconds},
                {"openblas_gemm_gflops", r.gflop / r.blas_seconds},
                {"efficiency", r.seconds / best}};
      }
      results.push_back({{"data", name},
                         {"roofline", roof},
                         {"agreement", agreement},
                         {"stages", {{"tokenize_seconds", best_stats.tokenize_seconds},
                                     {"forward_seconds", best_stats.forward_seconds},
                                     {"pooling_seconds", best_stats.pooling_seconds}}},
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
                          {"quantize", quantize},
                          {"int8_kernel", quantize == "int8" ? sbert::cpu::QuantizedLinear::engine() : ""},
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
